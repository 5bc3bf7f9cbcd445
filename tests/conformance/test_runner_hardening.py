"""R-CONF-4 (issue 21): engines that would wear the runner out are stopped with one error:
failures spread over a window, answers out of step (resynchronised once), repeated keys and
NaN, children that leave the process group; the deadline counts from the start."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from waterfall.cli.main import main
from waterfall.conformance.engine import Engine
from waterfall.conformance.runner import Runner, load_vectors
from waterfall.conformance.vectors import VECTORS_DIR

from test_conform import wait_gone  # the process helper, one definition (same folder)

FEW = ["--mechanism", "generic-socialized-loss", "--filter", "op-"]
HELLO_OUT = ("{'type': 'hello', 'protocol': 'waterfall-conform/1', 'implementation': 't', 'version': '0', "
             "'mechanisms': ['*']}")


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return f"{sys.executable} {path}"


def adapter_with(tmp_path: Path, name: str, before: str = "", after: str = "") -> str:
    """The reference adapter with code run before (`req` known) and after (`out` known) each answer."""
    body = ("import json, sys, os, subprocess, time\n"
            "from waterfall.conformance.adapter import answer\n"
            "n = 0\n"
            "prev = 'none'\n"
            "for line in sys.stdin:\n"
            "    req = json.loads(line)\n"
            "    n += 1\n"
            + "".join(f"    {x}\n" for x in before.splitlines())
            + "    out = answer(req)\n"
            + "".join(f"    {x}\n" for x in after.splitlines())
            + "    print(json.dumps(out), flush=True)\n"
            "    prev = req.get('id', 'none')\n")
    return script(tmp_path, name, body)


def run(capsys, impl: str, *extra: str) -> dict:
    assert main(["conform", "--impl", impl, *FEW, "--json", *extra]) == 1
    return json.loads(capsys.readouterr().out)


def test_R_CONF_4_an_engine_crashing_on_every_second_step_is_stopped(capsys, tmp_path: Path) -> None:
    """Failures that are never consecutive still stop the run: N within a window of steps."""
    impl = adapter_with(tmp_path, "every_second", before="if n == 3:\n    sys.exit(5)")  # hello, a step, then crash
    out = run(capsys, impl)
    reasons = [r["reason"] or r["status"] for r in out["results"]]
    assert reasons[:4] == ["pass", "crash", "pass", "crash"]  # never two in a row
    assert reasons.count("crash") == 5 and "stopped after 5 failures" in out["stopped"]
    assert out["not_run_steps"] > 0


@pytest.mark.parametrize("name, after", [
    ("twice", "print(json.dumps(out), flush=True)"),  # every answer written twice
    ("previous_id", "out['id'] = prev if out.get('type') == 'result' else out.get('id')"),
    ("stale_flood", "if out.get('type') == 'hello':\n"
                    "    print(json.dumps(out), flush=True)\n"
                    "    for _ in range(500):\n"
                    "        print(json.dumps({'type': 'result', 'id': 'stale', 'ok': False, 'error': 'E-X'}))\n"
                    "    sys.stdout.flush()\n"
                    "    continue"),
])
def test_R_CONF_4_an_engine_out_of_step_is_resynchronised_once_then_stopped(capsys, tmp_path: Path, name: str,
                                                                             after: str) -> None:
    out = run(capsys, adapter_with(tmp_path, name, after=after))
    protocol = [r for r in out["results"] if r["reason"] == "protocol"]
    assert len(protocol) == 2 and "out of step again after one resynchronisation" in out["stopped"]
    assert out["failed"] <= 3 and out["not_run_steps"] > 0


@pytest.mark.parametrize("line, what", [
    ('{"type": "result", "id": "%s", "ok": false, "ok": true, "error": "E-HEALTHY"}', "appears twice"),
    ('{"type": "result", "id": "%s", "ok": false, "error": "E-HEALTHY", "n": NaN}', "NaN is not a JSON number"),
    ('{"type": "result", "id": "%s", "ok": false, "error": "E-HEALTHY", "n": -Infinity}', "-Infinity"),
])
def test_R_CONF_4_repeated_keys_and_nan_in_a_response_are_protocol_errors(capsys, tmp_path: Path, line: str,
                                                                         what: str) -> None:
    body = ("import json, sys\n"
            "for l in sys.stdin:\n"
            "    req = json.loads(l)\n"
            f"    if req['type'] == 'hello':\n        print(json.dumps({HELLO_OUT}), flush=True)\n"
            f"    else:\n        print({line!r} % req['id'], flush=True)\n")
    out = run(capsys, script(tmp_path, "dup", body), "--stop-after", "2")
    assert [r["reason"] for r in out["results"]] == ["protocol", "protocol"]
    assert what in out["results"][0]["detail"] and "stopped after 2 failures" in out["stopped"]


SLEEPER = "[sys.executable, '-c', 'import time; time.sleep(120)', TOKEN]"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="descendants are walked through /proc (Linux)")
@pytest.mark.parametrize("name, spawn", [
    # a child in a session of its own, still under the engine
    ("setsid", f"subprocess.Popen({SLEEPER}, start_new_session=True)"),
    # the same with an empty environment (no marker): found by the walk of the tree
    ("setsid_noenv", f"subprocess.Popen({SLEEPER}, start_new_session=True, env={{}})"),
    # a double fork: the middle process exits, the grandchild (own session) is orphaned
    ("daemon", "subprocess.Popen([sys.executable, '-c', "
               + repr(f"import subprocess, sys; subprocess.Popen({SLEEPER}, start_new_session=True)") + "]).wait()"),
])
def test_R_CONF_4_children_that_leave_the_process_group_are_killed_too(capsys, tmp_path: Path, name: str,
                                                                       spawn: str) -> None:
    token = f"wfsid{os.getpid()}{name}x"
    spawn = spawn.replace("TOKEN", repr(token))
    spawned = tmp_path / "spawned"
    spawn += f"; open({str(spawned)!r}, 'w').close()"
    impl = adapter_with(tmp_path, name, before=f"if n == 1:\n    {spawn}\nif n == 4:\n    time.sleep(60)")
    assert main(["conform", "--impl", impl, *FEW, "--json", "--timeout", "1", "--stop-after", "1"]) == 1
    capsys.readouterr()
    assert spawned.exists()  # the child was started (the engine got that far)
    assert wait_gone(token) == []


def test_R_CONF_4_the_deadline_counts_from_the_start_loading_included(tmp_path: Path) -> None:
    selection = load_vectors(VECTORS_DIR, ["generic-socialized-loss"], "op-")
    impl = adapter_with(tmp_path, "fine")
    late = Runner(Engine(impl, 10.0), deadline=5.0, started=time.monotonic() - 6.0)  # 6 s spent loading
    assert list(late.run(selection.vectors)) == []
    assert late.deadline_hit and late.engine.starts == 0
    assert late.not_run == sum(len(v.doc["steps"]) for v in selection.vectors)
    fresh = Runner(Engine(impl, 10.0), deadline=60.0, started=time.monotonic())
    assert all(r.status == "pass" for r in fresh.run(selection.vectors)) and not fresh.not_run


def test_R_CONF_4_conform_counts_loading_in_its_deadline(capsys, monkeypatch, tmp_path: Path) -> None:
    import waterfall.cli.conform as conform
    real = conform.load_vectors

    def slow(*a, **k):
        time.sleep(1.5)  # a large vector set takes time to load and check
        return real(*a, **k)
    monkeypatch.setattr(conform, "load_vectors", slow)
    assert main(["conform", "--impl", adapter_with(tmp_path, "ok"), *FEW, "--deadline", "1", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["deadline_reached"] and out["steps"] == 0 and out["not_run_steps"] > 0
