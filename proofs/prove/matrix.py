"""The prover over a catalogue: one task per (mechanism, operation kind), run in parallel,
their evidence merged into one verdict per (mechanism, invariant) (R-PROVE-7)."""
from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any

from waterfall.model.loader import load_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.proofs import verdict as V
from waterfall.proofs.prove.harness import OPERATIONS, Sizes, operations_for
from waterfall.proofs.prove.budgets import DEFAULT_RLIMIT
from waterfall.proofs.verdict import Verdict


def _job(path: str, invariants: list[str], sizes: dict[str, Any], op: str, timeout: float,
         max_paths: int, rlimit: int, relations: str = "claimed") -> dict[str, Any]:
    """One (mechanism, operation) task in a fresh worker process (the mechanism reloaded from its file)."""
    from waterfall.proofs.prove.prover import prove_operation
    from waterfall.proofs.prove.symexec import collected_here
    with collected_here():  # the collector at the points a Dask unit has it (R-PROVE-13)
        return prove_operation(load_mechanism(path), invariants, Sizes(**sizes), op, timeout, max_paths,
                               rlimit=rlimit, relations=relations).to_json()


def run_matrix(mechs: list[Mechanism], invariants: list[str], sizes: Sizes, timeout: float, jobs: int,
               ops: list[str] | None = None, max_paths: int = 50_000,
               progress: Any = sys.stderr, rlimit: int = DEFAULT_RLIMIT,
               relations: str = "claimed") -> tuple[list[Verdict], dict[str, Any]]:
    """Every (mechanism, operation) task in parallel; one verdict per (mechanism, invariant)
    from the merged evidence, and the evidence per mechanism and operation (for the table).
    R-PROVE-11: each task runs in a process of its own (nothing solved before steers Z3) and
    the evidence is merged in task order, never in order of completion, so the verdicts do
    not depend on the number of workers or the machine's load."""
    from waterfall.proofs.prove.prover import Evidence
    ops = ops or list(OPERATIONS)
    proved = [i for i in invariants if i in REGISTRY or i in RELATIONS]  # relations: R-PROVE-12
    tasks = [(m, op) for m in mechs for op in ops if op in operations_for(m)]
    by_mech: dict[str, Evidence] = {m.id: Evidence(m.id, {}, [], []) for m in mechs}
    per_op: dict[str, Any] = {m.id: {} for m in mechs}
    done: dict[tuple[str, str], tuple[Evidence, dict[str, Any]]] = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1) as pool:
        futures = {pool.submit(_job, str(m.path), proved, asdict(sizes), op, timeout, max_paths, rlimit, relations): (m, op)
                   for m, op in tasks}
        for k, fut in enumerate(as_completed(futures), start=1):
            m, op = futures[fut]
            try:
                ev = Evidence.from_json(fut.result())
            except Exception as e:  # a crash of the prover is a finding about the prover (exit 1)
                done[(m.id, op)] = Evidence(m.id, {}, [], [], False), {"error": f"{type(e).__name__}: {e}"}
            else:
                done[(m.id, op)] = ev, op_summary(ev)
            print(f"[{k}/{len(tasks)} {time.perf_counter() - start:6.1f}s] {m.id} {op}: "
                  f"{describe_exploration(done[(m.id, op)][1])}", file=progress, flush=True)
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
