"""The implementation under test as a subprocess speaking JSON lines (R-CONF-2, R-CONF-4).

It runs in a process group of its own (a new session), so a shell wrapper and everything it
started are killed together: on a timeout, a crash, a restart, at the end of the run, and
when the runner itself gets SIGTERM or SIGINT (`killing_on_signals`) or exits. The hello is
checked against the response schema; the announced mechanisms select the vectors.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import shlex
import signal
import subprocess
import threading
import weakref
from collections import deque
from contextlib import contextmanager
from typing import Any, Iterator

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import schema, schema_errors

from waterfall.spec import SPEC_VERSION

PROTOCOL = "waterfall-conform/1"
MAX_LINE = 1 << 24  # a longer response line is garbage
START_TIMEOUT = 20.0  # seconds for a (re)started implementation to answer the hello
STDERR_TAIL = 5  # lines of the implementation's stderr kept for a crash report
LIVE: "weakref.WeakSet[Engine]" = weakref.WeakSet()


class ConformanceError(WaterfallError):
    """Bad input to the runner: no vectors, an invalid or tampered vector, an unknown
    mechanism id, an implementation that cannot be started."""

    code = "E-CONFORM"


class EngineStopped(Exception):
    """The implementation cannot be used any further (a broken hello, N consecutive
    crashes / timeouts / garbage): one protocol error instead of a failure per step."""


class Engine:
    """One request line -> one response line, with a per-request timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as e:
            raise ConformanceError(f"--impl {command!r}: {e}", argument="--impl") from None
        if not self.argv:
            raise ConformanceError("--impl names no command", argument="--impl")
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self.hello: dict[str, Any] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start (or restart) the process in a new process group, with reader threads."""
        self.stop()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                         errors="replace", start_new_session=True)
        except (OSError, ValueError) as e:
            why = getattr(e, "strerror", None) or str(e)
            raise ConformanceError(f"cannot start {self.argv[0]!r}: {why}", argument="--impl") from None
        LIVE.add(self)
        self.starts += 1
        self.lines, self.stderr = queue.Queue(), deque(maxlen=STDERR_TAIL)
        threading.Thread(target=_read_lines, args=(self.proc, self.lines), daemon=True).start()
        threading.Thread(target=_read_stderr, args=(self.proc, self.stderr), daemon=True).start()

    def stop(self) -> None:
        """Close stdin, then kill the whole process group and reap the leader."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        kill_group(proc)
        proc.wait()
        LIVE.discard(self)

    def exited(self) -> str:
        """'exited with code N' and the last line of stderr, for a crash report."""
        try:
            code: object = self.proc.wait(timeout=1.0) if self.proc else None
        except subprocess.TimeoutExpired:  # closed its output but runs on
            code = "none: its output closed, the process still ran"
        tail = f"; stderr: {self.stderr[-1].strip()[:200]!r}" if self.stderr else ""
        return f"the implementation exited (code {code}){tail}"

    def ask(self, request: dict[str, Any], timeout: float | None = None) -> tuple[str, Any]:
        """Send one request; ('ok', object) or (reason, detail) for crash, timeout, garbage."""
        timeout = self.timeout if timeout is None else timeout
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return "crash", self.exited()
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return "timeout", f"no response line within {timeout:g} s"
        if line is None:
            return "crash", self.exited()
        if len(line) > MAX_LINE or not line.endswith("\n"):
            return "garbage", "a partial or over-long line"
        try:
            doc = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            return "garbage", f"not JSON: {getattr(e, 'msg', 'nested too deeply')}: {line[:80]!r}"
        if not isinstance(doc, dict):
            return "garbage", f"not a JSON object: {line[:80]!r}"
        return "ok", doc

    def handshake(self) -> str:
        """(Re)start and exchange hellos; '' or why the implementation cannot be used."""
        self.start()
        # the hello includes the process start: it gets at least START_TIMEOUT, whatever the step limit
        kind, doc = self.ask({"type": "hello", "protocol": PROTOCOL, "spec_version": SPEC_VERSION},
                             max(self.timeout, START_TIMEOUT))
        if kind != "ok":
            return f"{kind}: hello: {doc}"
        problems = schema_errors(hello_schema(), doc)
        if problems:
            return f"protocol: hello: key {problems[0][0]}: {problems[0][1]}: {json.dumps(doc)[:200]}"
        if doc["protocol"] != PROTOCOL:
            return f"protocol: hello answered with protocol {doc['protocol']!r} (want {PROTOCOL!r})"
        self.hello = doc
        return ""

    def announces(self, mechanism_id: str) -> bool:
        """R-CONF-2: the hello lists the mechanism id, or '*'."""
        names = (self.hello or {}).get("mechanisms", [])
        return "*" in names or mechanism_id in names


def hello_schema() -> Any:
    """The response schema's hello branch (so a problem is reported at its key)."""
    full = schema("response")
    return full.evolve(schema=full.schema["oneOf"][0])


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    try:
        while True:
            line = proc.stdout.readline(MAX_LINE + 1)
            if not line:
                break
            lines.put(line)
    except (OSError, ValueError):
        pass
    lines.put(None)


def _read_stderr(proc: subprocess.Popen[str], tail: deque[str]) -> None:
    assert proc.stderr is not None
    try:
        while True:
            line = proc.stderr.readline(4096)
            if not line:
                return
            tail.append(line)
    except (OSError, ValueError):
        return


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL to the process group the implementation leads (its children included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def kill_all() -> None:
    """Kill every implementation still running (exit, SIGTERM, SIGINT)."""
    for engine in list(LIVE):
        if engine.proc is not None:
            kill_group(engine.proc)


atexit.register(kill_all)


@contextmanager
def killing_on_signals() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGINT kill every implementation's process group first,
    then end the runner (SIGINT as KeyboardInterrupt, SIGTERM as exit 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        kill_all()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
