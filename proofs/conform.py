"""Conformance runner (R-CONF-2..4, spec/conformance.md): replay vectors through an
implementation speaking JSON lines on stdin/stdout, compare with the expectations.

Robust to a bad implementation: a crash, a hang (per-step timeout), garbage, partial or
ill-typed output, or a wrong protocol fails that step with its reason; the process is then
restarted and the run carries on. Nothing is reported as passed that was not seen.
"""
from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generator, Iterator

from waterfall.model.codec import state_from_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import read_doc, schema, schema_errors

from .vectors import SPEC_VERSION, VECTORS_DIR

PROTOCOL = "waterfall-conform/1"
MAX_LINE = 1 << 24  # a longer response line is garbage
START_TIMEOUT = 20.0  # seconds for a (re)started implementation to answer the hello


class ConformanceError(WaterfallError):
    """Bad input to the runner: no vectors, an invalid vector file, an implementation that
    cannot be started."""

    code = "E-CONFORM"


@dataclass
class StepResult:
    """The verdict of one step: pass, or fail with one reason and a readable detail."""

    vector: str
    step: int
    status: str  # pass / fail
    reason: str = ""  # mismatch, error-code, crash, timeout, garbage, protocol, types
    detail: str = ""


@dataclass
class Vector:
    """A vector file: its key (MECH/ID) and document."""

    key: str
    doc: dict[str, Any]


def load_vectors(directory: Path, mechanisms: list[str] | None, text: str | None) -> tuple[list[Vector], int]:
    """Every vector under `directory` (schema-checked), the selected ones and how many the
    filters left out."""
    paths = sorted(Path(directory).glob("*/*.json"))
    if not paths:
        raise ConformanceError(f"{directory}: no vectors (expected DIR/MECHANISM/ID.json)", file=directory)
    selected, skipped = [], 0
    for p in paths:
        doc = read_doc(p, ConformanceError, "JSON", json.loads)
        problems = schema_errors(schema("vector"), doc)
        if problems:
            raise ConformanceError(f"{p}: key {problems[0][0]}: {problems[0][1]}", file=p, key=problems[0][0])
        key = f"{doc['mechanism']['id']}/{doc['id']}"
        if (mechanisms and doc["mechanism"]["id"] not in mechanisms) or (text and text not in key):
            skipped += 1
            continue
        selected.append(Vector(key, doc))
    return selected, skipped


class Implementation:
    """The implementation under test as a subprocess, one request line -> one response line."""

    def __init__(self, command: str, timeout: float) -> None:
        self.argv, self.timeout = shlex.split(command), timeout
        if not self.argv:
            raise ConformanceError("--impl names no command", argument="--impl")
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.hello: dict[str, Any] | None = None

    def start(self) -> None:
        """Start (or restart) the process and a reader thread for its stdout."""
        self.stop()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace")
        except OSError as e:
            raise ConformanceError(f"cannot start {self.argv[0]!r}: {e.strerror}", argument="--impl") from None
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline(MAX_LINE + 1)
            if not line:
                lines.put(None)
                return
            lines.put(line)

    def stop(self) -> None:
        """Kill the process if it runs."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def ask(self, request: dict[str, Any], timeout: float | None = None) -> tuple[str, Any]:
        """Send one request; ('ok', object) or (reason, detail) for crash, timeout, garbage."""
        timeout = self.timeout if timeout is None else timeout
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return "crash", f"the implementation exited (code {self.proc.poll()})"
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return "timeout", f"no response line within {timeout:g} s"
        if line is None:
            return "crash", f"the implementation exited (code {self.proc.wait()})"
        if len(line) > MAX_LINE or not line.endswith("\n"):
            return "garbage", "a partial or over-long line"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            return "garbage", f"not JSON: {e.msg}: {line[:80]!r}"
        if not isinstance(doc, dict):
            return "garbage", f"not a JSON object: {line[:80]!r}"
        return "ok", doc

    def handshake(self) -> str:
        """Start and exchange hellos; '' or why the implementation cannot be used."""
        self.start()
        # the hello includes the process start: it gets at least START_TIMEOUT, whatever the step limit
        kind, doc = self.ask({"type": "hello", "protocol": PROTOCOL, "spec_version": SPEC_VERSION},
                             max(self.timeout, START_TIMEOUT))
        if kind != "ok":
            return f"{kind}: hello: {doc}"
        if doc.get("type") != "hello" or doc.get("protocol") != PROTOCOL:
            return f"protocol: hello answered with protocol {doc.get('protocol')!r} (want {PROTOCOL!r})"
        self.hello = doc
        return ""


def normal_state(doc: Any) -> dict[str, Any]:
    """R-CONF-3: ids sorted, positions 0/0 dropped, net_deposit present, maps of strings."""
    out = state_to_json(state_from_json(doc))
    for a in out["accounts"]:
        a["positions"] = [p for p in a["positions"] if (p["size"], p["open_notional"]) != ("0", "0")]
    return out


def event_key(e: dict[str, Any]) -> tuple[str, ...]:
    """An event as a comparable tuple of its fields (R-CONF-3)."""
    return tuple(str(e[k]) for k in ("rule", "kind", "src", "dst", "amount", "layer", "market", "size", "price"))


def events_multiset(events: list[dict[str, Any]]) -> Counter[tuple[str, ...]]:
    """The events without zero transfers, as a multiset."""
    return Counter(event_key(e) for e in events if not (e["kind"] == "transfer" and str(e["amount"]) == "0"))


def state_diff(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Readable lines for what differs between two normal states."""
    lines = []
    wa, ga = {a["id"]: a for a in want["accounts"]}, {a["id"]: a for a in got["accounts"]}
    for aid in sorted(set(wa) | set(ga)):
        if wa.get(aid) != ga.get(aid):
            lines.append(f"account {aid}: expected {json.dumps(wa.get(aid))}, got {json.dumps(ga.get(aid))}")
    for part in ("markets", "layers", "default_fund", "bad_debt"):
        if want[part] != got[part]:
            lines.append(f"{part}: expected {json.dumps(want[part])}, got {json.dumps(got[part])}")
    return lines


EVENT_KEYS = ("rule", "kind", "src", "dst", "amount", "layer", "market", "size", "price")


def identical(expect: dict[str, Any], resp: dict[str, Any]) -> bool:
    """Fast path: the response is the expected JSON value itself (same keys, same strings;
    events in any order). Anything else goes through the schema and the normalisation."""
    if set(resp) != ({"type", "id", "ok", "state", "events"} if expect["ok"] else {"type", "id", "ok", "error"}):
        return False
    if not expect["ok"]:
        return resp["ok"] is False and resp["error"] == expect["error"]
    try:
        got = Counter(tuple(e[k] for k in EVENT_KEYS) for e in resp["events"] if set(e) == set(EVENT_KEYS))
    except (TypeError, KeyError):
        return False
    want = Counter(tuple(e[k] for k in EVENT_KEYS) for e in expect["events"])
    return resp["ok"] is True and resp["state"] == expect["state"] and got == want and \
        sum(got.values()) == len(resp["events"])


def result_schema(ok: bool) -> Any:
    """The response schema's branch for an applied (ok) or refused result, so a type error
    is reported at its key (not as 'matches no branch')."""
    full = schema("response")
    return full.evolve(schema=full.schema["oneOf"][1 if ok else 2])


def judge(expect: dict[str, Any], resp: dict[str, Any], rid: str) -> tuple[str, str]:
    """(reason, detail) of a failed step, or ('', '') when the response passes."""
    if resp.get("type") != "result" or resp.get("id") != rid:
        return "protocol", f"expected a result for {rid!r}, got type {resp.get('type')!r} id {resp.get('id')!r}"
    if identical(expect, resp):  # exactly the expected JSON: well-typed by the vector's schema
        return "", ""
    problems = schema_errors(result_schema(resp.get("ok") is True), resp)
    if problems:
        return "types", f"{problems[0][0]}: {problems[0][1]}"
    if not expect["ok"]:
        if resp["ok"]:
            return "mismatch", f"expected refusal {expect['error']}, the operation was applied"
        ok = resp["error"] == expect["error"]
        return ("", "") if ok else ("error-code", f"expected {expect['error']}, got {resp['error']}")
    if not resp["ok"]:
        return "mismatch", f"expected the operation applied, refused with {resp['error']}"
    try:
        got = normal_state(resp["state"])
    except WaterfallError as e:
        return "types", f"state: {e}"
    lines = state_diff(normal_state(expect["state"]), got)
    want_ev, got_ev = events_multiset(expect["events"]), events_multiset(resp["events"])
    lines += [f"missing event {k}" for k in sorted(want_ev - got_ev)]
    lines += [f"unexpected event {k}" for k in sorted(got_ev - want_ev)]
    return ("mismatch", "\n".join(lines)) if lines else ("", "")


def run(vectors: list[Vector], impl: Implementation) -> Iterator[StepResult]:
    """R-CONF-4: every step of every vector, restarting the implementation after a crash,
    a timeout or garbage; a failed hello fails every step with its reason."""
    broken = impl.handshake()
    try:
        for v in vectors:
            broken = yield from run_vector(v, impl, broken)
    finally:
        impl.stop()


def run_vector(v: Vector, impl: Implementation, broken: str) -> Generator[StepResult, None, str]:
    """The steps of one vector on a running implementation; returns why it is unusable
    afterwards ('' if it is fine)."""
    state = v.doc["state"]
    for k, st in enumerate(v.doc["steps"]):
        rid = f"{v.key}#{k}"
        if broken:
            yield StepResult(v.key, k, "fail", broken.split(":")[0], broken)
            broken = impl.handshake() if not broken.startswith("protocol") else broken
        else:
            kind, resp = impl.ask({"type": "step", "id": rid, "mechanism": v.doc["mechanism"],
                                   "state": state, "op": st["op"]})
            if kind != "ok":
                yield StepResult(v.key, k, "fail", kind, str(resp))
                broken = impl.handshake()
            else:
                reason, detail = judge(st["expect"], resp, rid)
                yield StepResult(v.key, k, "fail" if reason else "pass", reason, detail)
                if reason == "protocol":  # out of step (e.g. two lines for one request): start afresh
                    broken = impl.handshake()
        if st["expect"]["ok"]:
            state = st["expect"]["state"]
    return broken


def junit(results: list[StepResult], skipped: int) -> str:
    """A JUnit XML report: one testcase per step."""
    from xml.etree import ElementTree as ET
    suite = ET.Element("testsuite", name="waterfall-conformance", tests=str(len(results)),
                       failures=str(sum(r.status == "fail" for r in results)), skipped=str(skipped))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r.vector.split("/")[0], name=f"{r.vector}#{r.step}")
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.reason).text = r.detail
    return ET.tostring(suite, encoding="unicode") + "\n"


def report(results: list[StepResult], skipped: int, impl: Implementation) -> dict[str, Any]:
    """The JSON report."""
    return {"implementation": impl.hello, "steps": len(results),
            "passed": sum(r.status == "pass" for r in results),
            "failed": sum(r.status == "fail" for r in results), "skipped_vectors": skipped,
            "results": [asdict(r) for r in results]}

