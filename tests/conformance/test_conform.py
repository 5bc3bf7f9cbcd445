"""Conformance kit (R-CONF-*): vectors regenerate byte for byte and reach every rule, the
reference adapter passes them all, a broken adapter fails with a per-field diff, only the
announced mechanisms run, a bad implementation never hangs the runner nor leaves a process
behind, a bad vector set is refused before any implementation starts."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from waterfall.model.loader import catalogue
from waterfall.cli.main import main
from waterfall.conformance.kit import KIT_DOCS
from waterfall.conformance.vectors import VECTORS_DIR

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = f"{sys.executable} -m waterfall.conformance.adapter"
NODE = f"node {ROOT / 'docs/examples/node-generic/waterfall-node.mjs'}"
FEW = ["--mechanism", "generic-socialized-loss", "--filter", "op-"]
MANIFEST = json.loads((VECTORS_DIR / "manifest.json").read_text())
FEW_ENTRIES = [e for e in MANIFEST["vectors"] if e["mechanism"] == "generic-socialized-loss" and "op-" in e["id"]]
FEW_STEPS = sum(e["steps"] for e in FEW_ENTRIES)  # the op- vectors: one or two steps each


def script(tmp_path: Path, name: str, body: str) -> str:
    """A small implementation as a Python file; returns its command line."""
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return f"{sys.executable} {path}"


HELLO = ('import json, sys\n'
         'print(json.dumps({"type": "hello", "protocol": "waterfall-conform/1", "implementation": "t",'
         ' "version": "0", "mechanisms": ["*"]}), flush=True)\n'
         'sys.stdin.readline()\n')


def docs() -> list[dict]:
    return [json.loads((VECTORS_DIR / e["path"]).read_text()) for e in MANIFEST["vectors"]]


def test_R_CONF_1_regenerating_gives_identical_bytes(tmp_path: Path) -> None:
    # in a process of its own: generation measures coverage and runs probes, which would
    # change later derandomized Hypothesis runs of this session (test_fuzz.py)
    run = subprocess.run([sys.executable, "-m", "waterfall.cli.main", "vectors", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    committed = sorted(p.relative_to(VECTORS_DIR) for p in VECTORS_DIR.rglob("*.json"))
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.json"))
    assert committed == fresh and len(manifest["vectors"]) == len(fresh) - 1
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (VECTORS_DIR / rel).read_bytes(), rel


def test_R_CONF_1_vectors_cover_every_mechanism_rule_and_error_code() -> None:
    mechs = {e["mechanism"] for e in MANIFEST["vectors"]}
    assert mechs == {p.stem for p in (ROOT / "spec" / "mechanisms").glob("*.toml")} | set(KIT_DOCS)
    rules, codes = set(), set()
    for doc in docs():
        for s in doc["steps"]:
            if s["expect"]["ok"]:
                rules |= {e["rule"] for e in s["expect"]["events"]}
            else:
                codes.add(s["expect"]["error"])
    model = "\n".join(p.read_text() for p in (ROOT / "model").glob("*.py"))
    emitted = set(re.findall(r'\.(?:pay|collect|fills|trade|write_off)\(\s*"(R-[A-Z]+-\d+)"', model))
    assert len(emitted) >= 15 and emitted <= rules, emitted - rules  # every rule that makes an event
    raised = {c for c in re.findall(r'code = "(E-[A-Z-]+)"', (ROOT / "model" / "errors.py").read_text())}
    assert raised - {"E-WATERFALL", "E-MECHANISM", "E-SCENARIO", "E-STATE", "E-UNKNOWN-LAYER"} <= codes


def test_R_CONF_1_vectors_reach_large_venues_and_magnitudes() -> None:
    """Several markets, 10+ accounts, default funds, and numbers beyond 2^63 and 2^100 in
    applied liquidations (an int64 engine fails them)."""
    big = Counter()
    for doc in docs():
        st = doc["state"]
        numbers = [abs(int(a["collateral"])) for a in st["accounts"]] + [abs(int(v)) for v in st["layers"].values()]
        liquidated = any(s["op"]["op"] == "liquidate" and s["expect"]["ok"] for s in doc["steps"])
        big["markets>=3"] += len(st["markets"]) >= 3
        big["accounts>=10"] += len(st["accounts"]) >= 10
        big["default_fund"] += bool(st["default_fund"])
        big["2^63"] += liquidated and max(numbers) > 2**63
        big["2^100"] += liquidated and max(numbers) > 2**100
    assert min(big.values()) >= 20, big


def test_R_CONF_2_reference_adapter_passes_every_vector(capsys, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    assert main(["conform", "--impl", ADAPTER, "--junit", str(out)]) == 0
    text = capsys.readouterr().out
    assert " 0 failed" in text and "FAIL" not in text
    suite = ET.parse(out).getroot()
    assert int(suite.get("tests")) == sum(e["steps"] for e in MANIFEST["vectors"]) and suite.get("failures") == "0"


def test_R_CONF_2_the_node_example_passes_with_the_readme_command(capsys) -> None:
    """Issue 12: only the vectors of the mechanisms its hello announces run; the rest are named."""
    assert main(["conform", "--impl", NODE]) == 0
    text = capsys.readouterr().out
    assert " 0 failed" in text and "does not announce: binance-adl (" in text
    assert main(["conform", "--impl", NODE, "--mechanism", "generic-socialized-loss"]) == 0


def broken_adapter(tmp_path: Path, bug: str) -> str:
    """The reference adapter with one seeded bug installed (tests/seeded_bugs.py)."""
    body = (f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}]\n"
            "import seeded_bugs\n"
            "class P:\n    def setattr(self, t, n, v): setattr(t, n, v)\n    def setitem(self, t, n, v): t[n] = v\n"
            f"seeded_bugs.apply(next(b for b in seeded_bugs.SEEDED_BUGS if b.name == {bug!r}), P())\n"
            "from waterfall.conformance.adapter import serve\nserve()\n")
    return script(tmp_path, bug.replace("-", "_"), body)


def test_R_CONF_4_a_mismatch_names_account_field_expected_and_got(capsys, tmp_path: Path) -> None:
    impl = broken_adapter(tmp_path, "haircut-charged-to-losers")
    assert main(["conform", "--impl", impl, "--mechanism", "generic-socialized-loss"]) == 1
    text = capsys.readouterr().out
    assert "FAIL generic-socialized-loss/" in text and ": mismatch" in text
    assert re.search(r"account \S+: collateral: expected -?\d+, got -?\d+", text), text[:2000]
    assert re.search(r"liquidate account=\S+", text)  # the operation is named


def test_R_CONF_4_a_wrongly_applied_refusal_names_the_operation(capsys, tmp_path: Path) -> None:
    body = ("import json, sys\n"
            "for line in sys.stdin:\n"
            "    req = json.loads(line)\n"
            "    if req['type'] == 'hello':\n"
            "        out = {'type': 'hello', 'protocol': 'waterfall-conform/1', 'implementation': 't',"
            " 'version': '0', 'mechanisms': ['*']}\n"
            "    else:\n"
            "        st = req['state']\n"
            "        if req['op']['op'] == 'withdraw':\n"
            "            st['accounts'][0]['collateral'] = '500'\n"
            "        out = {'type': 'result', 'id': req['id'], 'ok': True, 'state': st, 'events': []}\n"
            "    print(json.dumps(out), flush=True)\n")
    impl = script(tmp_path, "applies_all", body)
    assert main(["conform", "--impl", impl, *FEW[:2], "--filter", "op-withdraw-too-much"]) == 1
    text = capsys.readouterr().out
    assert ("withdraw account=a amount=9500: expected refusal E-MARGIN, the implementation applied it; "
            "it changed: account a: collateral: expected 10000, got 500") in text


def test_R_CONF_4_a_crash_on_every_request_is_one_protocol_error(capsys, tmp_path: Path) -> None:
    impl = script(tmp_path, "crash", HELLO + "sys.exit(3)\n")
    assert main(["conform", "--impl", impl, *FEW, "--json", "--stop-after", "3"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] == 3 and out["passed"] == 0 and "stopped after 3 failures" in out["stopped"]
    assert "code 3" in out["stopped"] and out["not_run_steps"] == FEW_STEPS - 3


@pytest.mark.parametrize("name, body", [
    ("garbage-hello", "print('hello?', flush=True)\nimport time; time.sleep(60)\n"),
    ("wrong-protocol", HELLO.replace("waterfall-conform/1", "waterfall-conform/2") + "import time; time.sleep(60)\n"),
    ("hello-missing-keys", "import json; print(json.dumps({'type': 'hello', 'protocol': 'waterfall-conform/1'}), flush=True)\n"),
    ("exits-at-once", "import sys; sys.stderr.write('boom\\n'); sys.exit(1)\n"),
])
def test_R_CONF_4_a_broken_hello_is_one_protocol_error(capsys, tmp_path: Path, name: str, body: str) -> None:
    impl = script(tmp_path, name.replace("-", "_"), body)
    assert main(["conform", "--impl", impl, *FEW, "--json", "--timeout", "1"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 0 and out["stopped"].startswith("the implementation's hello is broken")


@pytest.mark.parametrize("name, body, reason", [
    ("hang", "import time; time.sleep(60)\n", "timeout"),
    ("garbage", "print('not json', flush=True)\nimport time; time.sleep(60)\n", "garbage"),
    ("list", "print('[1, 2]', flush=True)\nimport time; time.sleep(60)\n", "garbage"),
])
def test_R_CONF_4_bad_answers_fail_their_steps_then_stop_the_run(capsys, tmp_path: Path, name: str,
                                                                  body: str, reason: str) -> None:
    impl = script(tmp_path, name, HELLO + body)
    assert main(["conform", "--impl", impl, *FEW, "--timeout", "0.5", "--json", "--stop-after", "2"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] == 0 and out["failed"] == 2 and {r["reason"] for r in out["results"]} == {reason}
    assert out["not_run_steps"] == FEW_STEPS - 2 and out["stopped"]


def test_R_CONF_4_one_crashing_step_restarts_the_implementation_and_the_run_goes_on(capsys, tmp_path: Path) -> None:
    body = ("import json, sys\n"
            "from waterfall.conformance.adapter import answer\n"
            "for line in sys.stdin:\n"
            "    req = json.loads(line)\n"
            "    if 'op-deposit-max' in req.get('id', ''):\n"
            "        sys.exit(9)\n"
            "    print(json.dumps(answer(req)), flush=True)\n")
    impl = script(tmp_path, "one_crash", body)
    assert main(["conform", "--impl", impl, *FEW, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [(r["vector"], r["reason"]) for r in out["results"] if r["status"] == "fail"] == \
        [("generic-socialized-loss/op-deposit-max", "crash")]
    assert out["passed"] == FEW_STEPS - 1 and not out["stopped"]


def test_R_CONF_4_wrong_types_and_wrong_ids(capsys, tmp_path: Path) -> None:
    body = ("import json, sys\n"
            "for line in sys.stdin:\n"
            "    req = json.loads(line)\n"
            "    if req['type'] == 'hello':\n"
            "        out = {'type': 'hello', 'protocol': 'waterfall-conform/1', 'implementation': 't',"
            " 'version': '0', 'mechanisms': ['*']}\n"
            "    elif 'op-deposit-max' in req['id']:\n"
            "        out = {'type': 'result', 'id': 'other', 'ok': False, 'error': 'E-X'}\n"
            "    else:\n"
            "        st = dict(req['state']); st['bad_debt'] = 0\n"
            "        out = {'type': 'result', 'id': req['id'], 'ok': True, 'state': st, 'events': []}\n"
            "    print(json.dumps(out), flush=True)\n")
    impl = script(tmp_path, "types", body)
    assert main(["conform", "--impl", impl, *FEW, "--json"]) == 1
    reasons = Counter(r["reason"] or r["status"] for r in json.loads(capsys.readouterr().out)["results"])
    deposits = sum(e["steps"] for e in FEW_ENTRIES if "op-deposit-max" in e["id"])
    assert reasons["protocol"] == deposits == 1 and reasons["types"] == FEW_STEPS - deposits and reasons["pass"] == 0


def test_R_CONF_4_an_implementation_out_of_step_is_restarted(capsys, tmp_path: Path) -> None:
    """Two lines for one request would shift every later answer; the runner restarts it."""
    body = ("import json, sys\n"
            "from waterfall.conformance.adapter import answer\n"
            "for line in sys.stdin:\n"
            "    req = json.loads(line)\n"
            "    out = answer(req)\n"
            "    print(json.dumps(out), flush=True)\n"
            "    if 'op-deposit-max' in req.get('id', ''):\n"
            "        print(json.dumps(out), flush=True)\n")
    impl = script(tmp_path, "twice", body)
    assert main(["conform", "--impl", impl, *FEW, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    failed = [r["vector"] for r in out["results"] if r["status"] == "fail"]
    assert failed == ["generic-socialized-loss/op-deposit-zero"] and out["passed"] == FEW_STEPS - 1  # the next one


def test_R_CONF_4_only_announced_mechanisms_run_and_the_rest_are_named(capsys, tmp_path: Path) -> None:
    body = ("import json, sys\n"
            "from waterfall.conformance.adapter import answer\n"
            "for line in sys.stdin:\n"
            "    out = answer(json.loads(line))\n"
            "    if out['type'] == 'hello':\n"
            "        out['mechanisms'] = ['deribit', 'no-such-one']\n"
            "    print(json.dumps(out), flush=True)\n")
    impl = script(tmp_path, "deribit_only", body)
    assert main(["conform", "--impl", impl, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["vector"].split("/")[0] for r in out["results"]} == {"deribit"}
    assert out["skipped_unannounced"]["generic-socialized-loss"] > 10 and "deribit" not in out["skipped_unannounced"]
    assert main(["conform", "--impl", impl, "--mechanism", "drift-v2"]) == 1
    assert "announces none of the selected mechanisms" in capsys.readouterr().out


def test_R_CONF_4_filters_report_skipped_vectors(capsys) -> None:
    assert main(["conform", "--impl", ADAPTER, *FEW, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["skipped_by_filter"] == len(MANIFEST["vectors"]) - len(FEW_ENTRIES)
    assert out["passed"] == out["steps"] == FEW_STEPS


def test_R_CONF_4_unknown_mechanism_ids_and_empty_filters_are_errors(capsys) -> None:
    assert main(["conform", "--impl", ADAPTER, "--mechanism", "generic-socialised-loss"]) == 2
    assert "did you mean 'generic-socialized-loss'?" in capsys.readouterr().err
    assert main(["conform", "--impl", ADAPTER, "--filter", "no-such-vector"]) == 2
    assert "selects no vector" in capsys.readouterr().err
    assert main(["conform", "--impl", ADAPTER, "--fuzz", "5", "--mechanism", "bitmex-adll"]) == 2
    assert "did you mean 'bitmex-adl'?" in capsys.readouterr().err


def test_R_CONF_4_a_missing_program_is_refused_before_the_vectors_load(capsys, monkeypatch, tmp_path) -> None:
    import waterfall.cli.conform as cli_conform

    def no_loading(*_a, **_k):
        raise AssertionError("the vectors were loaded before the program was checked")

    monkeypatch.setattr(cli_conform, "load_vectors", no_loading)
    plain = tmp_path / "engine.sh"
    plain.write_text("#!/bin/sh\n", encoding="utf-8")  # exists, but not executable
    cases = [("no-such-program-21c --flag", "'no-such-program-21c': not found on PATH"),
             (str(tmp_path / "missing"), "missing': no such file"),
             (str(plain), "engine.sh': not executable"),
             (str(tmp_path), "': a directory")]
    for impl, said in cases:
        for extra in ([], ["--fuzz", "3"]):
            assert main(["conform", "--impl", impl, *extra]) == 2, (impl, extra)
            err = capsys.readouterr().err
            assert "[E-CONFORM]" in err and "--impl: cannot start" in err and said in err, err
    assert main(["conform", "--impl", impl, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["argument"] == "--impl"


def copy_vectors(tmp_path: Path, mechanism: str = "generic-socialized-loss") -> Path:
    """A vector directory of one mechanism's op- vectors, with its manifest."""
    d = tmp_path / "v"
    entries = [e for e in MANIFEST["vectors"] if e["mechanism"] == mechanism and e["id"].startswith("op-")]
    for e in entries:
        (d / e["path"]).parent.mkdir(parents=True, exist_ok=True)
        (d / e["path"]).write_bytes((VECTORS_DIR / e["path"]).read_bytes())
    (d / "manifest.json").write_text(json.dumps({**MANIFEST, "vectors": entries}))
    return d


def rehash(d: Path) -> None:
    import hashlib
    m = json.loads((d / "manifest.json").read_text())
    for e in m["vectors"]:
        e["sha256"] = hashlib.sha256((d / e["path"]).read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(m))


def tamper(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("label, edit, hashed, message", [
    ("expectation", lambda d: d["steps"][0]["expect"].update(state=d["state"]), False, "SHA-256"),
    ("schema", lambda d: d.pop("steps"), True, "key steps: required key is missing"),
    ("mechanism", lambda d: d["mechanism"]["final"].update(policy="lottery"), True, "invalid mechanism"),
    ("float", lambda d: d["mechanism"]["liquidation"].update(fee_ppm=5000.0), True, "not an integer"),
    ("state", lambda d: d["state"]["accounts"][0]["positions"][0].update(size="11"), True, "sizes sum to 1"),
    ("post-state", lambda d: d["steps"][0]["expect"]["state"]["accounts"][1]["positions"][0].update(size="-9"),
     True, "key steps[0].expect.state: market 'M0': sizes sum to 1"),
])
def test_R_CONF_4_bad_vectors_exit_2_before_any_implementation_starts(capsys, tmp_path: Path, label: str, edit,
                                                                     hashed: bool, message: str) -> None:
    d = copy_vectors(tmp_path)
    tamper(d / "generic-socialized-loss" / "op-deposit.json", edit)
    if hashed:
        rehash(d)
    marker = tmp_path / "started"
    impl = script(tmp_path, "marker", f"open({str(marker)!r}, 'w').close()\n" + HELLO)
    assert main(["conform", "--impl", impl, "--vectors", str(d)]) == 2
    err = capsys.readouterr().err
    assert message in err and "op-deposit.json" in err and not marker.exists(), err


def test_R_CONF_4_a_vector_directory_must_match_its_manifest(capsys, tmp_path: Path) -> None:
    assert main(["conform", "--impl", ADAPTER, "--vectors", str(tmp_path)]) == 2
    assert "no vectors" in capsys.readouterr().err
    d = copy_vectors(tmp_path)
    (d / "generic-socialized-loss" / "extra.json").write_text("{}")
    assert main(["conform", "--impl", ADAPTER, "--vectors", str(d)]) == 2
    assert "extra.json: not listed" in capsys.readouterr().err
    (d / "generic-socialized-loss" / "extra.json").unlink()
    (d / "manifest.json").unlink()
    assert main(["conform", "--impl", ADAPTER, "--vectors", str(d)]) == 2
    assert "manifest.json: missing" in capsys.readouterr().err


def test_R_CLI_6_conform_arguments_are_checked_before_the_run(capsys, tmp_path: Path) -> None:
    for bad in (["--impl", "python 'unbalanced"], ["--impl", "   "], ["--timeout", "nan"], ["--timeout", "-1"],
                ["--deadline", "inf"], ["--fuzz", "0"], ["--seed", "-1"], ["--junit", str(tmp_path)],
                ["--stop-after", "0"]):
        argv = ["conform", "--impl", ADAPTER, *bad]
        assert main(argv) == 2, bad
    err = capsys.readouterr().err
    assert "No closing quotation" in err and "exists and is not a regular file" in err
    assert not list(tmp_path.iterdir())


def live(token: str) -> list[str]:
    """Command lines of running processes that mention `token` (from /proc)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if token in cmd:
                out.append(cmd)
    return out


def wait_gone(token: str) -> list[str]:
    for _ in range(50):
        if not live(token):
            return []
        time.sleep(0.1)
    return live(token)


def test_R_CONF_4_a_hanging_shell_wrapper_leaves_no_process_behind(capsys, tmp_path: Path) -> None:
    token = f"wfgrp{os.getpid()}x"
    child = script(tmp_path, token, HELLO + "import time; time.sleep(120)\n")
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(f"#!/bin/sh\nsh -c 'sleep 120; : {token}' &\n{child} {token}\n")
    wrapper.chmod(0o755)
    assert main(["conform", "--impl", f"sh {wrapper}", *FEW, "--timeout", "0.5", "--stop-after", "2"]) == 1
    assert wait_gone(token) == [] and wait_gone(f"sleep 120 {token}") == []


def test_R_CONF_4_sigterm_to_the_runner_kills_the_implementation(tmp_path: Path) -> None:
    token = f"wfterm{os.getpid()}x"
    started = tmp_path / "started"
    child = script(tmp_path, token, f"open({str(started)!r}, 'w').close()\n" + HELLO + "import time; time.sleep(120)\n")
    runner = subprocess.Popen([sys.executable, "-m", "waterfall.cli.main", "conform", "--impl", f"{child} {token}",
                               *FEW, "--timeout", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if started.exists() and live(token):
            break
        time.sleep(0.1)
    assert live(token)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 128 + signal.SIGTERM
    assert wait_gone(token) == []


def test_R_CONF_4_the_deadline_ends_the_run_with_steps_reported_not_run(capsys, tmp_path: Path) -> None:
    impl = script(tmp_path, "slow", HELLO + "import time; time.sleep(120)\n")
    assert main(["conform", "--impl", impl, *FEW, "--timeout", "30", "--deadline", "1", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["deadline_reached"] and out["steps"] == 0 and out["not_run_steps"] == FEW_STEPS


def test_R_CONF_5_pytest_plugin_runs_vectors_as_items(pytester) -> None:
    each = pytester.runpytest_subprocess("--waterfall-impl", ADAPTER, "--waterfall-mechanism", "generic-socialized-loss",
                                         "--waterfall-filter", "op-", "-p", "no:cacheprovider", "-v",
                                         "--waterfall-per-vector")
    each.assert_outcomes(passed=len(FEW_ENTRIES))
    assert "vectors/generic-socialized-loss/op-deposit PASSED" in each.stdout.str()
    # by default one item per mechanism, and a closing line that counts what ran
    ok = pytester.runpytest_subprocess("--waterfall-impl", ADAPTER, "--waterfall-mechanism", "generic-socialized-loss",
                                       "--waterfall-filter", "op-", "-p", "no:cacheprovider", "-v")
    ok.assert_outcomes(passed=1)
    assert "vectors/generic-socialized-loss PASSED" in ok.stdout.str()
    assert f"waterfall: {len(FEW_ENTRIES)} vectors ({FEW_STEPS} steps) run; no vector skipped" in ok.stdout.str()
    node = pytester.runpytest_subprocess("--waterfall-impl", NODE, "--waterfall-filter", "op-deposit-max",
                                         "-p", "no:cacheprovider")
    node.assert_outcomes(passed=1, skipped=len(KIT_DOCS) + len(catalogue()) - 1)  # every mechanism but generic
    assert "vectors skipped, of mechanisms the implementation does not announce: binance-adl (1)" in node.stdout.str()
    assert len(node.stdout.lines) < 20 + len(KIT_DOCS) + len(catalogue())  # short: a line per mechanism at most, not per vector


def test_R_CONF_5_pytest_plugin_failures_are_short(pytester, tmp_path: Path) -> None:
    impl = broken_adapter(tmp_path, "haircut-charged-to-losers")
    bad = pytester.runpytest_subprocess("--waterfall-impl", impl, "--waterfall-mechanism", "generic-socialized-loss",
                                        "--waterfall-filter", "fund-empty", "-p", "no:cacheprovider")
    bad.assert_outcomes(failed=1)
    text = bad.stdout.str()
    assert "generic-socialized-loss/scenarios-fund-empty step" in text and ": collateral: expected" in text
    assert "Traceback" not in text and "conform.py" not in text
    crash = pytester.runpytest_subprocess("--waterfall-impl", f"{sys.executable} -c pass", "--waterfall-filter",
                                          "generic-socialized-loss/op-deposit", "-p", "no:cacheprovider")
    assert "hello is broken" in crash.stdout.str() + crash.stderr.str() and crash.ret != 0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`waterfall ARGS` in a process of its own (Hypothesis runs leave global state behind that
    would change later derandomized runs of this test session)."""
    return subprocess.run([sys.executable, "-m", "waterfall.cli.main", *args], capture_output=True, text=True,
                          timeout=600)


def test_R_CONF_6_differential_fuzzing_finds_a_broken_engine_and_saves_a_vector(tmp_path: Path) -> None:
    impl = broken_adapter(tmp_path, "fund-allowed-negative")
    found = tmp_path / "found"
    run = cli("conform", "--impl", impl, "--fuzz", "300", "--seed", "1", "--mechanism", "generic-socialized-loss",
              "--save", str(found))
    assert run.returncode == 1, run.stderr
    assert "DISAGREE: first found after" in run.stdout and "seed 1" in run.stdout and "insurance_fund" in run.stdout
    assert "liquidate account=" in run.stdout  # the failing operation
    saved = sorted(found.rglob("*.json"))
    assert [p.name for p in saved][-1] == "manifest.json" and len(saved) == 2
    assert len(json.loads(saved[0].read_text())["steps"]) <= 3  # shrunk (the generator draws up to 6)
    assert cli("conform", "--impl", impl, "--vectors", str(found)).returncode == 1  # the saved vector replays
    assert cli("conform", "--impl", ADAPTER, "--vectors", str(found)).returncode == 0
    again = tmp_path / "again"
    assert cli("conform", "--impl", impl, "--fuzz", "300", "--seed", "1", "--mechanism", "generic-socialized-loss",
               "--save", str(again)).returncode == 1
    assert sorted(p.name for p in again.rglob("*.json")) == [p.name for p in saved]  # the seed is honoured


def test_R_CONF_6_reference_adapter_agrees_with_itself() -> None:
    run = cli("conform", "--impl", ADAPTER, "--fuzz", "40", "--seed", "0")
    assert run.returncode == 0, run.stderr
    assert "40 scenarios in" in run.stdout and "seed 0: no disagreement" in run.stdout
    assert "repeat with --seed 0" in run.stderr
