"""The prover over a catalogue: one task per (mechanism, operation kind), run in parallel,
their evidence merged into one verdict per (mechanism, invariant) (R-PROVE-7).

Each task runs in a worker process of its own (R-PROVE-11), started by `run_tasks`, under the
memory budget of R-PROVE-14. A worker that dies (killed by the kernel's OOM killer, a signal,
a crash of Z3) costs only its own task (R-PROVE-15): the others run on in their own processes,
never in a shared pool that one death breaks.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from waterfall.model.loader import load_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.proofs import verdict as V
from waterfall.proofs.prove.harness import OPERATIONS, Sizes, operations_for
from waterfall.proofs.prove.budgets import DEFAULT_MEMORY_MB, DEFAULT_RLIMIT
from waterfall.proofs.verdict import Verdict


KILL_TASK = "WATERFALL_TEST_KILL_TASK"
"""R-PROVE-15, tests only: a worker whose task is `MECHANISM/OPERATION` named in this environment
variable kills its own process with SIGKILL before the task runs (a worker the kernel killed)."""


def _job(path: str, invariants: list[str], sizes: dict[str, Any], op: str, timeout: float,
         max_paths: int, rlimit: int, relations: str = "claimed",
         memory_mb: int | None = DEFAULT_MEMORY_MB) -> dict[str, Any]:
    """One (mechanism, operation) task in a fresh worker process (the mechanism reloaded from its
    file), its address space capped at `memory_mb` first (R-PROVE-14; None: no cap)."""
    from waterfall.proofs.prove.prover import prove_operation
    from waterfall.proofs.prove.symexec import collected_here, limit_memory
    if memory_mb is not None:
        limit_memory(memory_mb)
    mech = load_mechanism(path)
    if os.environ.get(KILL_TASK) == f"{mech.id}/{op}":  # R-PROVE-15's test: a worker killed mid-run
        os.kill(os.getpid(), signal.SIGKILL)
    with collected_here():  # the collector at the points a Dask unit has it (R-PROVE-13)
        return prove_operation(mech, invariants, Sizes(**sizes), op, timeout, max_paths,
                               rlimit=rlimit, relations=relations).to_json()


def _worker(conn: Connection, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """A worker process: run one task and send back ("ok", result) or ("error", text)."""
    try:
        out: tuple[str, Any] = ("ok", job(*args))
    except BaseException as e:  # noqa: BLE001  (a crash of the prover is a finding about the prover)
        out = ("error", f"{type(e).__name__}: {e}")
    conn.send(out)
    conn.close()


def died(exitcode: int | None) -> str:
    """R-PROVE-15: why a worker ended without a result, from its exit code."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "?"
        hint = ": the kernel's OOM killer, or kill -9" if -exitcode == signal.SIGKILL else ""
        return f"worker process died (signal {-exitcode}, {name}{hint})"
    return f"worker process died (exit code {exitcode}) without a result"


def run_tasks(job: Callable[..., Any], args: list[tuple[Any, ...]], jobs: int,
              on_done: Callable[[int, tuple[str, Any]], None] | None = None) -> list[tuple[str, Any]]:
    """R-PROVE-11, R-PROVE-15: `job(*a)` for each `a` of `args`, each in a fresh process of its
    own (spawned: nothing of this process leaks in), at most `jobs` at a time. Returns, in the
    order of `args`, ("ok", result), ("error", what the task raised) or ("died", why its process
    ended without a result). A process that dies costs only its own task: no other is touched.
    `on_done(index, outcome)` is called as each ends (in order of completion)."""
    ctx = multiprocessing.get_context("spawn")
    out: list[tuple[str, Any] | None] = [None] * len(args)
    todo = list(range(len(args)))[::-1]
    running: dict[int, tuple[Any, Connection]] = {}  # index -> (process, parent's end of its pipe)
    while todo or running:
        while todo and len(running) < max(1, jobs):
            i = todo.pop()
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(child, job, args[i]), daemon=True)
            proc.start()
            child.close()
            running[i] = (proc, parent)
        ready = set(wait([c for _, c in running.values()] + [p.sentinel for p, _ in running.values()]))
        for i, (proc, conn) in list(running.items()):
            if conn not in ready and proc.sentinel not in ready:
                continue
            result = _receive(conn)  # before join: a large result fills the pipe until read
            proc.join()
            conn.close()
            del running[i]
            out[i] = result if result is not None else ("died", died(proc.exitcode))
            if on_done is not None:
                on_done(i, out[i])
    return [o for o in out if o is not None]


def _receive(conn: Connection) -> tuple[str, Any] | None:
    """The worker's message, or None if it ended without sending one (it died)."""
    try:
        return conn.recv() if conn.poll() else None
    except (EOFError, OSError):
        return None


def run_matrix(mechs: list[Mechanism], invariants: list[str], sizes: Sizes, timeout: float, jobs: int,
               ops: list[str] | None = None, max_paths: int = 50_000,
               progress: Any = sys.stderr, rlimit: int = DEFAULT_RLIMIT,
               relations: str = "claimed", memory_mb: int | None = DEFAULT_MEMORY_MB,
               job: Callable[..., Any] | None = None) -> tuple[list[Verdict], dict[str, Any]]:
    """Every (mechanism, operation) task in parallel; one verdict per (mechanism, invariant)
    from the merged evidence, and the evidence per mechanism and operation (for the table).
    R-PROVE-11: each task runs in a process of its own (nothing solved before steers Z3) and
    the evidence is merged in task order, never in order of completion, so the verdicts do
    not depend on the number of workers or the machine's load. R-PROVE-14: each task's
    address space is capped at `memory_mb`. R-PROVE-15: a task whose worker dies is a prover
    error of that task alone ("worker process died (signal N)"); every other task's evidence
    is the same as in a run where none died."""
    from waterfall.proofs.prove.prover import Evidence
    ops = ops or list(OPERATIONS)
    proved = [i for i in invariants if i in REGISTRY or i in RELATIONS]  # relations: R-PROVE-12
    tasks = [(m, op) for m in mechs for op in ops if op in operations_for(m)]
    by_mech: dict[str, Evidence] = {m.id: Evidence(m.id, {}, [], []) for m in mechs}
    per_op: dict[str, Any] = {m.id: {} for m in mechs}
    done: dict[tuple[str, str], tuple[Evidence, dict[str, Any]]] = {}
    start = time.perf_counter()
    args = [(str(m.path), proved, asdict(sizes), op, timeout, max_paths, rlimit, relations, memory_mb) for m, op in tasks]
    finished = [0]

    def on_done(i: int, outcome: tuple[str, Any]) -> None:
        (m, op), (kind, value) = tasks[i], outcome
        if kind == "ok":
            ev = Evidence.from_json(value)
            done[(m.id, op)] = ev, op_summary(ev)
        else:  # a crash of the prover, or its worker died: a finding about the prover (exit 1)
            done[(m.id, op)] = Evidence(m.id, {}, [], [], False), {"error": value}
        finished[0] += 1
        print(f"[{finished[0]}/{len(tasks)} {time.perf_counter() - start:6.1f}s] {m.id} {op}: "
              f"{describe_exploration(done[(m.id, op)][1])}", file=progress, flush=True)
    run_tasks(job or _job, args, jobs, on_done)  # `job` (tests): a module-level function like _job
    for m, op in tasks:  # merged in task order, never in completion order (the same verdicts for any --jobs)
        ev, per_op[m.id][op] = done[(m.id, op)]
        by_mech[m.id].merge(ev)
    return merged_verdicts(mechs, invariants, sizes, by_mech, per_op), per_op


def merged_verdicts(mechs: list[Mechanism], invariants: list[str], sizes: Sizes, by_mech: dict[str, Any],
                    per_op: dict[str, Any]) -> list[Verdict]:
    """One verdict per (mechanism, invariant) from each mechanism's merged evidence; an
    operation's prover error makes every applicable verdict of its mechanism UNKNOWN."""
    from waterfall.proofs.prove.prover import verdicts as to_verdicts
    out: list[Verdict] = []
    for m in mechs:
        vs = to_verdicts(m, invariants, sizes, by_mech[m.id])
        errors = [f"{op}: {d['error']}" for op, d in per_op[m.id].items() if "error" in d]
        for v in vs:
            v.seconds = round(sum(d.get("seconds", 0) for d in per_op[m.id].values()), 3)
            if errors and v.kind != V.NOT_APPLICABLE:
                v.kind, v.reason, v.stats = V.UNKNOWN, "prover error: " + "; ".join(errors), {**v.stats, "error": True}
        out += vs
    return out


def op_summary(ev: Any) -> dict[str, Any]:
    """One operation's exploration: cases, paths, applied, refused, complete, seconds."""
    return {"cases": len(ev.cases), "paths": sum(c.paths for c in ev.cases),
            "applied": sum(c.applied for c in ev.cases), "refused": sum(sum(c.refused.values()) for c in ev.cases),
            "complete": all(c.complete for c in ev.cases) and not ev.timed_out,
            "seconds": round(sum(c.seconds for c in ev.cases) + sum(r["seconds"] for r in ev.relations.values()), 2),
            "reason": next((c.reason for c in ev.cases if not c.complete), "")}


def describe_exploration(d: dict[str, Any]) -> str:
    """A progress line for one operation's exploration."""
    if "error" in d:
        return f"prover error: {d['error']}"
    done = "every path" if d["complete"] else f"INCOMPLETE ({d['reason']})"
    return f"{d['cases']} cases, {d['paths']} paths ({d['applied']} applied), {done}, {d['seconds']:.1f}s"
