"""Conformance runner (R-CONF-2..4, spec/conformance.md): replay vectors through an
implementation speaking JSON lines on stdin/stdout (waterfall/conformance/engine.py), compare with the
expectations.

Bad vectors are refused before any implementation starts (exit 2): a file the manifest does
not list or whose SHA-256 differs from it, a schema violation, an invalid mechanism, a
state that breaks R-STATE-5. Only vectors of mechanisms the implementation's hello
announces run; the rest are skipped and named. A crash, a hang or garbage fails that step
and the implementation is restarted; after `stop_after` such failures (a broken hello,
a repeated key or NaN in a response included) within any window of steps the run stops
with one protocol error, as it does after a second out-of-step answer (the first is
resynchronised by a restart). An overall deadline, counted from the start of the command
(loading included), bounds the run.
Nothing is reported as passed that was not seen.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from waterfall.model.codec import op_from_json, state_from_json, state_to_json
from waterfall.model.errors import WaterfallError, closest
from waterfall.model.loader import (check_state_counts, mechanism_from_doc, read_bytes, reject_floats, schema,
                                    schema_errors, strict_json)
from waterfall.model.state import validate_state

from waterfall.conformance.engine import ConformanceError, Engine, EngineStopped
from waterfall.conformance.fields import state_diff

RESTART = ("crash", "timeout", "garbage")  # failures after which the implementation is restarted
WINDOW = 20  # the least number of steps in which `stop_after` failures stop the run


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

    @property
    def mechanism(self) -> str:
        return str(self.doc["mechanism"]["id"])


@dataclass
class VectorSet:
    """The vectors selected from a directory, and how many the filters left out."""

    vectors: list[Vector]
    filtered: int = 0
    mechanisms: list[str] = field(default_factory=list)  # every mechanism id in the directory


# ------------------------------------------------------------------ loading and checking vectors


def load_vectors(directory: Path | str, mechanisms: list[str] | None = None, text: str | None = None) -> VectorSet:
    """R-CONF-1/4: the vectors the manifest lists (every file under DIR must be listed) that
    `mechanisms` and `text` select, each checked (SHA-256, schema, mechanism, states).
    ConformanceError (exit 2) names the file and key of the first problem, an unknown
    mechanism id with the closest match, and a filter that selects nothing."""
    d = Path(directory)
    if not d.is_dir():
        raise ConformanceError(f"{d}: no vector directory", file=d)
    entries = manifest_entries(d)
    listed = {e["path"] for e in entries}
    for p in sorted(d.glob("*/*.json")):
        rel = p.relative_to(d).as_posix()
        if rel not in listed:
            raise ConformanceError(f"{p}: not listed in {d / 'manifest.json'}", file=p)
    known = sorted({e["mechanism"] for e in entries})
    for m in mechanisms or []:
        if m not in known:
            raise ConformanceError(f"--mechanism {m!r}: no vectors of that mechanism in {d}{closest(m, known)}",
                                   argument="--mechanism", key=m)
    chosen = [e for e in entries if (not mechanisms or e["mechanism"] in mechanisms)
              and (not text or text in f"{e['mechanism']}/{e['id']}")]
    if not chosen:
        raise ConformanceError(f"--filter {text!r}: selects no vector in {d}", argument="--filter", key=text or "")
    return VectorSet([checked_vector(d, e) for e in chosen], len(entries) - len(chosen), known)


def manifest_entries(d: Path) -> list[dict[str, Any]]:
    """The manifest's vector entries, each with a safe relative path, listed once."""
    path = d / "manifest.json"
    if not path.exists():
        if not any(d.glob("*/*.json")):
            raise ConformanceError(f"{d}: no vectors (expected DIR/MECHANISM/ID.json and DIR/manifest.json)", file=d)
        raise ConformanceError(f"{path}: missing (every vector directory has a manifest with a SHA-256 per file)",
                               file=path)
    doc = _json(path)
    if not isinstance(doc, dict) or doc.get("format") != "waterfall-vectors" or not isinstance(doc.get("vectors"), list):
        raise ConformanceError(f"{path}: not a vector manifest (format 'waterfall-vectors' with a list 'vectors')",
                               file=path, key="format")
    seen: set[str] = set()
    for i, e in enumerate(doc["vectors"]):
        where = f"vectors[{i}]"
        ok = isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("mechanism", "id", "path", "sha256")) \
            and isinstance(e.get("steps"), int)
        if not ok:
            raise ConformanceError(f"{path}: key {where}: needs mechanism, id, path, sha256 (strings) and steps",
                                   file=path, key=where)
        rel = PurePosixPath(e["path"])
        if rel.is_absolute() or ".." in rel.parts or rel.as_posix() != f"{e['mechanism']}/{e['id']}.json":
            raise ConformanceError(f"{path}: key {where}.path: {e['path']!r} is not MECHANISM/ID.json",
                                   file=path, key=f"{where}.path")
        if e["path"] in seen:
            raise ConformanceError(f"{path}: key {where}.path: {e['path']!r} is listed twice", file=path,
                                   key=f"{where}.path")
        seen.add(e["path"])
    if not doc["vectors"]:
        raise ConformanceError(f"{path}: lists no vectors", file=path, key="vectors")
    return doc["vectors"]


def _json(path: Path) -> Any:
    try:
        return strict_json(read_bytes(path, ConformanceError).decode("utf-8"))
    except WaterfallError:
        raise
    except (ValueError, RecursionError) as e:
        raise ConformanceError(f"{path}: not valid JSON: {e}", file=path) from None


def checked_vector(d: Path, entry: dict[str, Any]) -> Vector:
    """One listed vector: bytes as the manifest's SHA-256, then `check_vector`."""
    p = d / entry["path"]
    if not p.is_file():
        raise ConformanceError(f"{p}: listed in the manifest but missing", file=p)
    data = read_bytes(p, ConformanceError)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise ConformanceError(f"{p}: SHA-256 {digest[:16]}... differs from the manifest's {entry['sha256'][:16]}... "
                               f"(edited or damaged: regenerate with `waterfall vectors`)", file=p, key="sha256")
    try:
        doc = strict_json(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise ConformanceError(f"{p}: not valid JSON: {e}", file=p) from None
    check_vector(doc, p)
    if doc["mechanism"]["id"] != entry["mechanism"] or doc["id"] != entry["id"] or len(doc["steps"]) != entry["steps"]:
        raise ConformanceError(f"{p}: mechanism, id or number of steps differ from its manifest entry",
                               file=p, key="id")
    return Vector(f"{doc['mechanism']['id']}/{doc['id']}", doc)


def check_vector(doc: Any, p: Path | str) -> None:
    """A vector document: schema, no float, a valid mechanism (R-MECH-*), valid states (R-STATE-5)."""
    reject_floats(doc, str(p), ConformanceError)
    check_state_counts(doc, str(p), ConformanceError)
    problems = schema_errors(schema("vector"), doc)
    if problems:
        raise ConformanceError(f"{p}: key {problems[0][0]}: {problems[0][1]}", file=p, key=problems[0][0])
    try:
        mechanism_from_doc({"source": {"references": ["conformance vector"]}, **doc["mechanism"]}, f"{p}: mechanism")
    except WaterfallError as e:
        raise ConformanceError(f"{p}: invalid mechanism: {e}", file=p, key=f"mechanism.{e.where.get('key', '')}") \
            from None
    _check_state(doc["state"], p, "state")
    for k, st in enumerate(doc["steps"]):
        if st["expect"]["ok"]:
            _check_state(st["expect"]["state"], p, f"steps[{k}].expect.state")


def _check_state(state: Any, p: Path | str, key: str) -> None:
    try:
        validate_state(state_from_json(state))
    except WaterfallError as e:
        raise ConformanceError(f"{p}: key {key}: {e}", file=p, key=key) from None


# ------------------------------------------------------------------ judging one response


def normal_state(doc: Any) -> dict[str, Any]:
    """R-CONF-3: ids sorted, positions 0/0 dropped, net_deposit present, maps of strings."""
    out = state_to_json(state_from_json(doc))
    for a in out["accounts"]:
        a["positions"] = [p for p in a["positions"] if (p["size"], p["open_notional"]) != ("0", "0")]
    return out


EVENT_KEYS = ("rule", "kind", "src", "dst", "amount", "layer", "market", "size", "price")


def event_key(e: dict[str, Any]) -> tuple[str, ...]:
    """An event as a comparable tuple of its fields (R-CONF-3)."""
    return tuple(str(e[k]) for k in EVENT_KEYS)


def events_multiset(events: list[dict[str, Any]]) -> Counter[tuple[str, ...]]:
    """The events without zero transfers, as a multiset."""
    return Counter(event_key(e) for e in events if not (e["kind"] == "transfer" and str(e["amount"]) == "0"))


def describe_op(op: dict[str, Any]) -> str:
    """An operation in one line: `withdraw account=a amount=9500`."""
    return str(op.get("op")) + "".join(f" {k}={json.dumps(v) if isinstance(v, dict) else v}"
                                       for k, v in op.items() if k != "op")


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


def judge(expect: dict[str, Any], resp: dict[str, Any], rid: str, op: dict[str, Any] | None = None,
          pre: dict[str, Any] | None = None) -> tuple[str, str]:
    """(reason, detail) of a failed step, or ('', '') when the response passes. `op` and
    `pre` (the request's operation and state) make the detail name what was applied."""
    if resp.get("type") != "result" or resp.get("id") != rid:
        return "protocol", f"expected a result for {rid!r}, got type {resp.get('type')!r} id {resp.get('id')!r}"
    if identical(expect, resp):  # exactly the expected JSON: well-typed by the vector's schema
        return "", ""
    what = describe_op(op) if op else "the operation"
    problems = schema_errors(result_schema(resp.get("ok") is True), resp)
    if problems:
        return "types", f"{what}: {problems[0][0]}: {problems[0][1]}"
    if not expect["ok"]:
        if resp["ok"]:
            changed = ""
            if pre is not None:
                try:
                    changed = "; it changed: " + "; ".join(state_diff(normal_state(pre), normal_state(resp["state"])))
                except WaterfallError:
                    changed = ""
            return "mismatch", f"{what}: expected refusal {expect['error']}, the implementation applied it{changed}"
        ok = resp["error"] == expect["error"]
        return ("", "") if ok else ("error-code", f"{what}: expected {expect['error']}, got {resp['error']}")
    if not resp["ok"]:
        return "mismatch", f"{what}: expected it applied, the implementation refused it with {resp['error']}"
    try:
        got = normal_state(resp["state"])
    except WaterfallError as e:
        return "types", f"{what}: state: {e}"
    lines = state_diff(normal_state(expect["state"]), got)
    want_ev, got_ev = events_multiset(expect["events"]), events_multiset(resp["events"])
    lines += [f"missing event {dict(zip(EVENT_KEYS, k))}" for k in sorted(want_ev - got_ev)]
    lines += [f"unexpected event {dict(zip(EVENT_KEYS, k))}" for k in sorted(got_ev - want_ev)]
    return ("mismatch", f"{what}:\n" + "\n".join(lines)) if lines else ("", "")


# ------------------------------------------------------------------ the run


class Runner:
    """R-CONF-4: the selected vectors through one implementation, with restarts; a stop after
    `stop_after` failures of the process (crash, timeout, garbage, a protocol error, a broken
    hello) within any `window` steps, or after a second out-of-step answer (the first is
    resynchronised by a restart); an overall `deadline` in seconds counted from `started`
    (time.monotonic(); default now), so loading the vectors counts too."""

    def __init__(self, engine: Engine, deadline: float | None = None, stop_after: int = 5,
                 started: float | None = None, window: int | None = None) -> None:
        self.engine, self.stop_after = engine, stop_after
        self.window = window if window is not None else max(WINDOW, 4 * stop_after)
        t0 = time.monotonic() if started is None else started
        self.deadline = None if deadline is None else t0 + deadline
        self.unannounced: Counter[str] = Counter()  # mechanism -> vectors skipped
        self.planned = 0
        self.ran = 0
        self.deadline_hit = False
        self.failures: deque[int] = deque()  # self.ran at each recent process failure
        self.resynced = False

    @property
    def not_run(self) -> int:
        """Steps of announced vectors that did not run (deadline, or a stop)."""
        return self.planned - self.ran

    def start(self) -> None:
        """The first hello: a broken one is one protocol error (EngineStopped)."""
        left = self.left()
        if left is not None and left <= 0:
            self.deadline_hit = True
            raise EngineStopped("the deadline was reached before the implementation started")
        why = self.engine.handshake()
        if why:
            self.engine.stop()
            raise EngineStopped(f"the implementation's hello is broken: {why}")

    def run(self, vectors: list[Vector]) -> Iterator[StepResult]:
        """Start, select the announced vectors, run every step; always stops the process group."""
        try:
            if self.engine.proc is None:
                try:
                    self.start()
                except EngineStopped:
                    if self.deadline_hit:
                        self.planned += sum(len(v.doc["steps"]) for v in vectors)
                        return
                    raise
            runnable = [v for v in vectors if self.engine.announces(v.mechanism)]
            self.unannounced.update(v.mechanism for v in vectors if not self.engine.announces(v.mechanism))
            self.planned += sum(len(v.doc["steps"]) for v in runnable)
            for v in runnable:
                yield from self.run_vector(v)
                if self.deadline_hit:
                    return
        finally:
            self.engine.stop()

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def run_vector(self, v: Vector) -> Iterator[StepResult]:
        """The steps of one vector on a running implementation. Each step carries its own
        pre-state (the previous step's expected post-state), or, in a chained vector
        (`"chain": true`), the implementation's own previous post-state, so an error in any
        recorded field shows on a later step as it would in production."""
        state = v.doc["state"]
        chained = v.doc.get("chain") is True
        for k, st in enumerate(v.doc["steps"], 1):  # steps are numbered from 1 everywhere (R-CLI-9)
            left = self.left()
            if left is not None and left <= 0:
                self.deadline_hit = True
                return
            rid = f"{v.key}#{k}"
            timeout = self.engine.timeout if left is None else min(self.engine.timeout, left)
            kind, resp = self.engine.ask({"type": "step", "id": rid, "mechanism": v.doc["mechanism"],
                                          "state": state, "op": st["op"]}, timeout)
            if kind == "timeout" and left is not None and left < self.engine.timeout:
                self.deadline_hit = True  # the deadline, not the step limit, ran out
                return
            self.ran += 1
            expected = st["expect"]["state"] if st["expect"]["ok"] else state
            if kind != "ok":
                yield StepResult(v.key, k, "fail", kind, str(resp))
                if kind in RESTART:
                    self.restart(f"{kind}: {resp}")
                else:
                    self.fail(f"{kind}: {resp}")
                state = expected
                continue
            reason, detail = judge(st["expect"], resp, rid, st["op"], state)
            if reason and chained and k > 1:
                detail += "\n(chained vector: the pre-state was the implementation's own post-state of step " \
                          f"{k - 1})"
            yield StepResult(v.key, k, "fail" if reason else "pass", reason, detail)
            if reason == "protocol":  # out of step (two lines for one request, a stale id): resync once
                if self.resynced:
                    raise EngineStopped(f"the implementation answered out of step again after one "
                                        f"resynchronisation: {detail}")
                self.resynced = True
                self.restart(f"out of step: {detail}")
                state = expected
                continue
            state = own_state(resp, state) if chained and reason != "types" else expected

    def fail(self, why: str) -> None:
        """Count a failure of the process; EngineStopped at `stop_after` within `window` steps."""
        self.failures.append(self.ran)
        while self.failures and self.failures[0] <= self.ran - self.window:
            self.failures.popleft()
        if len(self.failures) >= self.stop_after:
            raise EngineStopped(f"stopped after {len(self.failures)} failures of the implementation within "
                                f"{self.window} steps (crash, timeout, garbage, a protocol error or a broken "
                                f"hello); the last: {why}")

    def restart(self, why: str) -> None:
        """Count the failure, restart; each broken hello counts as a further failure."""
        self.fail(why)
        while True:
            why = self.engine.handshake()
            if not why:
                return
            self.fail(why)


def own_state(resp: dict[str, Any], pre: dict[str, Any]) -> dict[str, Any]:
    """The implementation's own post-state (chained vectors): its state when it applied the
    operation, the pre-state when it refused it."""
    return resp["state"] if resp.get("ok") is True and isinstance(resp.get("state"), dict) else pre


# ------------------------------------------------------------------ reports


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


def report(results: list[StepResult], selection: VectorSet, runner: Runner, stopped: str = "") -> dict[str, Any]:
    """The JSON report."""
    return {"implementation": runner.engine.hello, "steps": len(results),
            "passed": sum(r.status == "pass" for r in results),
            "failed": sum(r.status == "fail" for r in results),
            "skipped_vectors": selection.filtered + sum(runner.unannounced.values()),
            "skipped_by_filter": selection.filtered, "skipped_unannounced": dict(sorted(runner.unannounced.items())),
            "not_run_steps": runner.not_run, "deadline_reached": runner.deadline_hit, "stopped": stopped or None,
            "results": [asdict(r) for r in results]}
