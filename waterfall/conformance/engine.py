"""The implementation under test as a subprocess speaking JSON lines (R-CONF-2, R-CONF-4).

It runs in a session and process group of its own, so a shell wrapper and everything it
started are killed together: on a timeout, a crash, a restart, at the end of the run, and
when the runner itself gets SIGTERM or SIGINT (`killing_on_signals`) or exits. A descendant
that leaves the group (`setsid`, a double fork) is killed too (R-CONF-4): on Linux the runner
is a child subreaper (prctl PR_SET_CHILD_SUBREAPER, so orphans are re-parented to it and
reaped here, not by init), the descendants are recorded after the hello and walked again
(/proc) at every stop, and every process carrying the run's marker variable
WATERFALL_CONFORM_ENGINE in its environment is killed. Elsewhere only the process group is
guaranteed: a descendant that starts a session of its own may outlive the run. The hello is
checked against the response schema; the announced mechanisms select the vectors; a response
with a repeated key or a NaN / Infinity is a protocol error.
"""
from __future__ import annotations

import atexit
import ctypes
import json
import os
import queue
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
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
    """The implementation cannot be used any further (a broken hello, N failures in a window,
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
        self.token = ""  # the marker in the environment of this start's processes
        self.recorded: dict[int, str] = {}  # descendants seen after the hello: pid -> start time


    def check_program(self) -> None:
        """R-CONF-4: the program the command names exists and can be run (found on PATH, or a
        path to an executable file), checked before the vectors are loaded: a typo costs no
        wait (ConformanceError naming --impl and the program, exit 2)."""
        program = self.argv[0]
        if shutil.which(program) is not None:
            return
        where = "no such file" if os.sep in program or (os.altsep and os.altsep in program) else "not found on PATH"
        if where == "no such file" and os.path.exists(program):
            where = "a directory" if os.path.isdir(program) else "not executable"
        raise ConformanceError(f"--impl: cannot start {program!r}: {where}", argument="--impl", key=program)

    def start(self) -> None:
        """Start (or restart) the process in a new process group, with reader threads."""
        self.stop()
        become_subreaper()
        self.token, self.recorded = secrets.token_hex(12), {}
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                         errors="replace", start_new_session=True,
                                         env={**os.environ, MARKER: self.token})
        except (OSError, ValueError) as e:
            why = getattr(e, "strerror", None) or str(e)
            raise ConformanceError(f"cannot start {self.argv[0]!r}: {why}", argument="--impl") from None
        LIVE.add(self)
        self.starts += 1
        self.lines, self.stderr = queue.Queue(), deque(maxlen=STDERR_TAIL)
        threading.Thread(target=_read_lines, args=(self.proc, self.lines), daemon=True).start()
        threading.Thread(target=_read_stderr, args=(self.proc, self.stderr), daemon=True).start()

    def stop(self) -> None:
        """Close stdin, then kill the whole process group, every descendant (recorded after
        the hello, walked now, or carrying this start's marker) and reap them."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        kill_tree(proc, self.token, self.recorded)
        proc.wait()
        LIVE.discard(self)

    def record(self) -> None:
        """Record the implementation's descendants (pid and start time) after its hello."""
        if self.proc is not None:
            table = process_table()
            self.recorded = {p: table[p][1] for p in descendants(self.proc.pid, table)}

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
            doc = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except ProtocolProblem as e:
            return "protocol", f"{e}: {line[:80]!r}"
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
        self.record()
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


class ProtocolProblem(ValueError):
    """A response line that is JSON but not acceptable: a repeated key, NaN or Infinity."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise ProtocolProblem(f"the key {k!r} appears twice in one object of the response")
        seen[k] = v
    return seen


def _no_constant(name: str) -> Any:
    raise ProtocolProblem(f"{name} is not a JSON number (R-FMT-1: integers travel as strings)")


MARKER = "WATERFALL_CONFORM_ENGINE"  # in the environment of every process of one engine start
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_SUBREAPER: list[bool] = []


def become_subreaper() -> bool:
    """Linux: make this process a child subreaper (orphaned descendants of an implementation
    are re-parented here, not to init, and reaped by kill_tree); False where unavailable."""
    if not _SUBREAPER:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                ok = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                ok = False
        _SUBREAPER.append(ok)
    return _SUBREAPER[0]


def process_table() -> dict[int, tuple[int, str]]:
    """Linux /proc: pid -> (parent pid, start time in clock ticks); {} where there is no /proc."""
    table: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) > 19:
            table[int(name)] = (int(rest[1]), rest[19])
    return table


def descendants(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    """Every process below `root` in the parent links of `table`."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def marked(token: str, table: dict[int, tuple[int, str]]) -> set[int]:
    """The processes whose environment carries MARKER=token (this engine start's)."""
    needle = f"{MARKER}={token}".encode()
    out: set[int] = set()
    for pid in table:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    out.add(pid)
        except OSError:
            continue
    return out


def kill_tree(proc: subprocess.Popen[str], token: str, recorded: dict[int, str]) -> None:
    """SIGKILL to the implementation's process group, then (Linux) to every descendant walked
    now, recorded after the hello (if its start time still matches) or carrying the marker,
    and to their process groups; a few rounds (a process may fork while it dies); the killed
    processes that are this process's children (re-parented to the subreaper) are reaped."""
    kill_group(proc)
    me, killed = os.getpid(), set()
    for _ in range(3):
        table = process_table()
        targets = descendants(proc.pid, table) | marked(token, table) if token else descendants(proc.pid, table)
        targets |= {p for p, t in recorded.items() if p in table and table[p][1] == t}
        targets -= {me, proc.pid} | killed
        if not targets:
            break
        for pid in targets:
            _kill(pid)
        killed |= targets
    reap(killed)


def reap(pids: set[int], seconds: float = 2.0) -> None:
    """Collect the exit status of those of `pids` that are this process's children (no zombie)."""
    left, end = set(pids), time.monotonic() + seconds
    while left and time.monotonic() < end:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except (ChildProcessError, OSError):
                left.discard(pid)  # not a child of this process: init or its parent reaps it
                continue
            if done:
                left.discard(pid)
        if left:
            time.sleep(0.01)


def _kill(pid: int) -> None:
    """SIGKILL a process and, when it leads a group other than this process's, that group."""
    try:
        pgid = os.getpgid(pid)
        if pgid == pid and pgid != os.getpgid(0):
            os.killpg(pgid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


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
            kill_tree(engine.proc, engine.token, engine.recorded)


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
