"""R-PROVE-13: `waterfall prove --executor dask`: the exploration split into independent units
of work, run on a Dask cluster (Dask's `distributed`, extra 'cluster'), with the verdicts of
the single-process run.

Units of work. For each (mechanism, operation): one *sampling* unit (R-PROVE-5's small-scope
search over every case, which `prover.prove_operation` runs first), then one *case* unit per
case of the operation (`harness.cases` over every venue size, smallest first: the order of
`prove_operation`). What a case's exploration does depends on the cases before it in exactly
two ways: an invariant already refuted is no longer checked (the *refuted* set) and one that
already has a witness is no longer searched for one (the *witnessed* set); the rest of the
prover's state is only added to. So a case unit runs one fresh `Prover` on one case with these
two sets as its *key*, and returns what it adds to each cell.

Identical verdicts. The driver folds the units of an operation in case order, never in
completion order, with the single process's rules (paths added up; the first counterexample
and witness kept; the last mismatch, undecided and trigger-undecided reason kept, except an
undecided reason written by a crash, which never overwrites one), and uses a case's result
only if it was computed with the key the cases before it leave. Otherwise that case runs
again with the right key (`Speculation`): once the first case of an operation is folded,
every later case is started with the key it left, which later cases seldom change. So the
evidence, and the verdicts, counterexamples, witnesses and path counts built from it, are
the single process's (tests/proofs/test_distributed.py compares the JSON of both), whatever
the number of workers, the order in which units finish, or a worker that dies.

Two limits, stated where they are used: each unit has its own --timeout (the wall-clock
outer guard; the single process spends one --timeout on a whole operation), so a TIMEOUT can
differ; and a unit is a whole case, not a prefix of its decisions (a case's search is
depth-first on one incremental Z3 solver, whose models depend on every query asked before,
so a subtree run elsewhere finds its paths with other numbers: docs/proofs.md, Distributed).

Workers die: the scheduler reruns a dead worker's units on the others (and --retries reruns a
unit that raised), so no result is lost; a unit that keeps killing workers, or raises after its
retries, is a prover error for its operation, as in the single process.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import mechanism_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.proofs.prove.harness import OPERATIONS, Case, Sizes, cases, operations_for
from waterfall.proofs.prove.matrix import died, describe_exploration, merged_verdicts, op_summary
from waterfall.proofs.prove.prover import (MAX_WITNESSES, SAMPLES, CaseStats, Cell, Evidence, Prover, not_applicable,
                                           relations_in_budget, run_case_in_budget, small_scope_search,
                                           stopped_by_memory)
from waterfall.proofs.prove.symexec import out_of_memory
from waterfall.proofs.prove import relational
from waterfall.proofs.prove.budgets import DEFAULT_MEMORY_MB, DEFAULT_RLIMIT
from waterfall.proofs.verdict import Verdict

Key = tuple[frozenset[str], frozenset[str]]
"""A case unit's key: (invariants refuted, invariants witnessed) by the cases before it."""

GIVEN_CEX: dict[str, Any] = {"given": "refuted by an earlier unit"}
GIVEN_WITNESS: Any = ("given", {})
RETRIES = 3
CONNECT_SECONDS = 10  # a scheduler that does not answer within this is an input error (exit 2)


class ClusterError(WaterfallError):
    """The Dask cluster cannot be reached or used (bad --address, workers of other code)."""

    code = "E-CLUSTER"


# ---- the units (run on a worker) -------------------------------------------------------------

class UnitError(WaterfallError):
    """A unit's own process ended without a result (killed, out of memory, crashed)."""

    code = "E-UNIT"


def isolated(name: str, *args: Any, memory_mb: int | None = None) -> Any:
    """R-PROVE-13: unit `name` (a key of UNITS) run in a fresh Python process of its own, its
    arguments and result as JSON. In a Dask worker the unit would share its process with the
    worker's event loop thread, and Z3 came out differently there from run to run on a loaded
    machine (a case of 68 paths gave 69; a relations unit of 203 gave 200 to 210); alone in a
    process, as each task of the single process is, it gives the single process's paths.
    R-PROVE-14: that process's address space is capped at `memory_mb` (None: no cap)."""
    with tempfile.TemporaryDirectory(prefix="waterfall-unit-") as tmp:
        src, out = Path(tmp, "args.json"), Path(tmp, "result.json")
        src.write_text(json.dumps({"unit": name, "args": list(args), "memory_mb": memory_mb}))
        proc = subprocess.run([sys.executable, "-m", "waterfall.proofs.prove.distributed", str(src), str(out)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            if proc.returncode < 0:  # R-PROVE-15's wording: the signal named
                raise UnitError(f"the process of unit {name} ended without a result: {died(proc.returncode)}")
            tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise UnitError(f"the process of unit {name} ended with exit code {proc.returncode}: {tail}")
        return json.loads(out.read_text())


TEST_Z3_MB = "WATERFALL_TEST_UNIT_Z3_MB"
"""R-PROVE-14, tests only: a unit process caps Z3's own allocations at this many MB after its
budget is applied (a budget that runs out at a size a test can reach)."""


def _unit_main(argv: list[str]) -> None:
    """The unit process: dies with its parent (Linux), caps its memory (R-PROVE-14), runs the
    unit, writes its result."""
    if sys.platform.startswith("linux"):  # PR_SET_PDEATHSIG: a killed worker leaves no unit running
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    from waterfall.proofs.prove.symexec import collected_here, limit_memory, limit_z3_memory
    doc = json.loads(Path(argv[0]).read_text())
    if doc.get("memory_mb") is not None:
        limit_memory(doc["memory_mb"])
        if os.environ.get(TEST_Z3_MB):
            limit_z3_memory(int(os.environ[TEST_Z3_MB]))
    with collected_here():  # the collector where the single process's task has it (matrix._job)
        result = UNITS[doc["unit"]](*doc["args"])
    Path(argv[1]).write_text(json.dumps(result))


def mechanism(text: str, origin: str) -> Mechanism:
    """A mechanism from its TOML text (workers need no copy of the file)."""
    return mechanism_from_doc(tomllib.loads(text), origin)


def op_cases(mech: Mechanism, op: str, sizes: Sizes) -> list[Case]:
    """Every case of an operation, in the order prove_operation explores them."""
    return [c for k, m in sizes.pairs() for c in cases(mech, op, k, m)]


def sample_unit(text: str, origin: str, invariants: list[str], sizes: dict[str, Any], op: str,
                samples: int = SAMPLES, rlimit: int = DEFAULT_RLIMIT) -> dict[str, Any]:
    """R-PROVE-13: the sampling unit: the small-scope search over every case of an operation
    (R-PROVE-5), as prove_operation runs it before any exploration; its evidence."""
    mech, sz = mechanism(text, origin), Sizes(**sizes)
    prover = Prover(mech, [i for i in invariants if not not_applicable(mech, i)], time.perf_counter(), 1, rlimit)
    stopped: list[CaseStats] = []  # R-PROVE-14: the budget's stop, as prove_operation records it
    try:
        small_scope_search(prover, mech, sz, op, samples)
    except Exception as e:  # noqa: BLE001  (only the memory budget, as prove_operation: anything else is re-raised)
        if not out_of_memory(e):
            raise
        stopped.append(stopped_by_memory(f"{op}: small-scope search"))
    return Evidence(mech.id, prover.cells, stopped, []).to_json()


class _CaseProver(Prover):
    """A Prover that records which undecided reasons a crash wrote (a crash never
    overwrites one; a path's undecided query does), so the fold can keep that rule."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.by_crash: set[str] = set()

    def crash(self, *a: Any) -> None:
        """Prover.crash, noting the cells whose undecided reason it wrote."""
        empty = {i for i, c in self.cells.items() if not c.undecided}
        super().crash(*a)
        self.by_crash |= {i for i in empty if self.cells[i].undecided}

    def check_path(self, *a: Any) -> set[str]:
        """Prover.check_path, noting the cells whose undecided reason it rewrote."""
        before = {i: c.undecided for i, c in self.cells.items()}
        out = super().check_path(*a)
        self.by_crash -= {i for i, c in self.cells.items() if c.undecided != before[i]}
        return out


def relations_unit(text: str, origin: str, invariants: list[str], sizes: dict[str, Any], op: str,
                   rels: list[str], timeout: float, max_paths: int, rlimit: int = DEFAULT_RLIMIT) -> dict[str, Any]:
    """R-PROVE-12 on the cluster: the relations of one liquidation, as prove_operation proves them."""
    return relations_in_budget(mechanism(text, origin), rels, Sizes(**sizes), op, timeout, max_paths, rlimit)


def case_unit(text: str, origin: str, invariants: list[str], sizes: dict[str, Any], op: str, index: int,
              refuted: list[str], witnessed: list[str], timeout: float, max_paths: int,
              rlimit: int = DEFAULT_RLIMIT) -> dict[str, Any]:
    """R-PROVE-13: the case unit: case `index` of an operation explored by a Prover whose
    refuted and witnessed invariants are the key's; what it adds to each cell."""
    mech, sz = mechanism(text, origin), Sizes(**sizes)
    case = op_cases(mech, op, sz)[index]
    prover = _CaseProver(mech, [i for i in invariants if not not_applicable(mech, i)],
                         time.perf_counter() + timeout, max_paths, rlimit)
    for i, c in prover.cells.items():
        c.counterexample = GIVEN_CEX if i in refuted else None
        c.witness = GIVEN_WITNESS if i in witnessed else None
    st = run_case_in_budget(prover, case)  # R-PROVE-14: as prove_operation
    for c in prover.cells.values():  # what the key gave is not this unit's evidence
        c.counterexample = None if c.counterexample is GIVEN_CEX else c.counterexample
        c.witness = None if c.witness is GIVEN_WITNESS else c.witness
    timed_out = not st.complete and "time limit" in st.reason
    ev = Evidence(mech.id, prover.cells, prover.cases, prover.vacuous, timed_out).to_json()
    return {**ev, "by_crash": sorted(prover.by_crash)}


UNITS: dict[str, Callable[..., dict[str, Any]]] = {"sample": sample_unit, "case": case_unit,
                                                   "relations": relations_unit}


# ---- the fold (the single process's rules) ---------------------------------------------------

def fold(cells: dict[str, Cell], unit: Evidence, by_crash: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """R-PROVE-13: one unit's evidence added to an operation's cells as one Prover adds a
    case's: paths summed, first counterexample (with its note) and witness kept, last mismatch
    and trigger-undecided reason kept, an undecided reason kept unless a crash wrote it over one."""
    for i, d in unit.cells.items():
        c = cells.setdefault(i, Cell(i))
        c.paths += d.paths
        if c.counterexample is None and d.counterexample is not None:
            c.counterexample, c.note = d.counterexample, d.note
        if c.witness is None and d.witness is not None:
            c.witness = d.witness
        elif d.witness is not None:  # R-PROVE-3's further witness paths, in case order, as one Prover keeps them
            c.others.append(d.witness)
        c.others = (c.others + d.others)[:MAX_WITNESSES - 1]
        c.mismatch = d.mismatch or c.mismatch
        c.trigger_undecided = d.trigger_undecided or c.trigger_undecided
        if d.undecided and not (i in by_crash and c.undecided):
            c.undecided = d.undecided


def key_of(cells: dict[str, Cell]) -> Key:
    """The key the folded cells give the next case."""
    return (frozenset(i for i, c in cells.items() if c.counterexample is not None),
            frozenset(i for i, c in cells.items() if c.witness is not None))


# ---- the driver ------------------------------------------------------------------------------

@dataclass
class OpRun:
    """The units of one (mechanism, operation) and their fold, in case order."""

    mech: Mechanism
    op: str
    labels: list[str]
    cells: dict[str, Cell] = field(default_factory=dict)
    stats: list[Any] = field(default_factory=list)
    vacuous: list[str] = field(default_factory=list)
    timed_out: bool = False
    sampled: bool = False
    front: int = 0  # the next case to fold
    results: dict[tuple[int, Key], dict[str, Any]] = field(default_factory=dict)
    pending: dict[tuple[int, Key], Any] = field(default_factory=dict)
    error: str = ""
    finished: bool = False
    relations: dict[str, Any] = field(default_factory=dict)  # R-PROVE-12: the relations unit's cells
    awaiting: int = 0  # relations units submitted and not yet returned

    def complete(self) -> bool:
        """Every case folded (or the operation stopped) and its relations unit returned."""
        return self.finished and not self.awaiting

    def evidence(self) -> Evidence:
        """The operation's evidence, as prove_operation returns it."""
        if self.error:
            return Evidence(self.mech.id, {}, [], [], False)
        return Evidence(self.mech.id, self.cells, self.stats, self.vacuous, self.timed_out, self.relations)


class Speculation:
    """R-PROVE-13: submits the units of every (mechanism, operation), folds each operation's
    results in case order, and reruns a case whose key was guessed wrong."""

    def __init__(self, client: Any, mechs: list[Mechanism], invariants: list[str], sizes: Sizes,
                 timeout: float, ops: list[str], max_paths: int, retries: int = RETRIES,
                 rlimit: int = DEFAULT_RLIMIT, relations: str = "claimed",
                 memory_mb: int | None = DEFAULT_MEMORY_MB) -> None:
        self.client, self.sizes, self.timeout, self.max_paths, self.retries = client, sizes, timeout, max_paths, retries
        self.rlimit, self.memory_mb = rlimit, memory_mb
        self.invariants = [i for i in invariants if i in REGISTRY]
        self.asked = list(invariants)  # relations included (R-PROVE-12)
        self.relations = relations
        self.texts = {m.id: Path(m.path).read_text() for m in mechs}
        self.runs = [OpRun(m, op, [c.label() for c in op_cases(m, op, sizes)])
                     for m in mechs for op in ops if op in operations_for(m)]
        self.owner: dict[Any, tuple[OpRun, int, Key | None]] = {}  # future -> (run, case or -1, key)
        self.submitted = self.done = self.rerun = 0

    def submit(self, run: OpRun, unit: str, index: int, key: Key | None, *args: Any) -> Any:
        """One unit (a key of UNITS) on the cluster, in a process of its own (retried on
        failure, rerun elsewhere if its worker dies)."""
        label = "sample" if index < 0 else f"case{index}"
        fut = self.client.submit(isolated, unit, self.texts[run.mech.id], str(run.mech.path), self.invariants,
                                 asdict(self.sizes), run.op, *args, memory_mb=self.memory_mb,
                                 retries=self.retries, pure=False,
                                 key=f"prove-{run.mech.id}-{run.op}-{label}-{uuid.uuid4().hex[:8]}")
        self.owner[fut] = (run, index, key)
        self.submitted += 1
        if key is not None:
            run.pending[(index, key)] = fut
        return fut

    def submit_case(self, run: OpRun, index: int, key: Key) -> Any:
        """Case `index` with `key`, unless it is already done or under way with that key."""
        if (index, key) in run.results or (index, key) in run.pending:
            return None
        return self.submit(run, "case", index, key, index, sorted(key[0]), sorted(key[1]),
                           self.timeout, self.max_paths, self.rlimit)

    def start(self) -> list[Any]:
        """The sampling unit of every operation."""
        units = [self.submit(run, "sample", -1, None, SAMPLES, self.rlimit) for run in self.runs]
        for run in self.runs:  # R-PROVE-12: the relations of a liquidation, one unit of their own
            rels = [i for i in self.asked if i in RELATIONS and (self.relations == "all" or i in run.mech.claims)]
            if run.op == relational.OPERATION and rels:
                units.append(self.submit(run, "relations", -2, None, rels, self.timeout, self.max_paths, self.rlimit))
                run.awaiting += 1
        return units

    def on_result(self, fut: Any) -> list[Any]:
        """A finished unit: kept, the operation's fold advanced; the units to submit next."""
        run, index, key = self.owner.pop(fut)
        self.done += 1
        if index == -2:  # the relations unit: its cells, whatever the case units do
            run.awaiting -= 1
            try:
                run.relations = fut.result()
            except Exception as e:  # noqa: BLE001  (a crash of the prover is a finding about the prover)
                run.error = f"{type(e).__name__}: {e}"
            return []
        if run.finished:
            return []
        try:
            result = fut.result()
        except Exception as e:  # noqa: BLE001  (a crash of the prover is a finding about the prover)
            run.error, run.finished = f"{type(e).__name__}: {e}", True
            self.cancel(run)
            return []
        if index < 0:
            ev = Evidence.from_json(result)
            fold(run.cells, ev)
            run.stats += ev.cases  # only a stop by the memory budget (R-PROVE-14)
            run.sampled = True
            if self.stop_on_memory(run, ev.cases):  # as prove_operation: no case explored after it
                return []
        else:
            run.pending.pop((index, key), None)  # type: ignore[arg-type]
            run.results[(index, key)] = result  # type: ignore[index]
        return self.advance(run)

    def advance(self, run: OpRun) -> list[Any]:
        """Fold every case whose result with the right key is in; submit what is missing."""
        new: list[Any] = []
        while run.sampled and not run.finished:
            if run.front >= len(run.labels) or (run.cells and all(c.counterexample is not None
                                                                  for c in run.cells.values())) or not run.cells:
                run.finished = True  # every case folded, or nothing left to refute (prove_operation stops)
                self.cancel(run)
                break
            key = key_of(run.cells)
            result = run.results.get((run.front, key))
            if result is None:
                new.append(self.respeculate(run, run.front, key))
                if run.front > 0:  # speculation: the later cases with the key the folded cases leave
                    new += [self.respeculate(run, j, key) for j in range(run.front + 1, len(run.labels))]
                break
            unit = Evidence.from_json({k: v for k, v in result.items() if k != "by_crash"})
            fold(run.cells, unit, set(result["by_crash"]))
            run.stats += unit.cases
            run.vacuous += unit.vacuous
            run.timed_out = run.timed_out or unit.timed_out
            run.front += 1
            self.stop_on_memory(run, unit.cases)  # prove_operation stops at that case too
        return [f for f in new if f is not None]

    def stop_on_memory(self, run: OpRun, stats: list[CaseStats]) -> bool:
        """R-PROVE-14: a unit ended by the memory budget finishes its operation there (the rest cancelled)."""
        if any(c.memory for c in stats):
            run.finished = True
            self.cancel(run)
        return run.finished

    def respeculate(self, run: OpRun, index: int, key: Key) -> Any:
        """Case `index` with `key`; a pending run of it with another key is cancelled."""
        for (j, k), fut in list(run.pending.items()):
            if j == index and k != key:
                self.rerun += 1
                self.cancel_one(run, (j, k), fut)
        return self.submit_case(run, index, key)

    def cancel_one(self, run: OpRun, slot: tuple[int, Key], fut: Any) -> None:
        """A unit whose result can no longer be used."""
        run.pending.pop(slot, None)
        self.owner.pop(fut, None)
        fut.cancel()

    def cancel(self, run: OpRun) -> None:
        """Every pending unit of a finished operation."""
        for slot, fut in list(run.pending.items()):
            self.cancel_one(run, slot, fut)


def run_distributed(mechs: list[Mechanism], invariants: list[str], sizes: Sizes, timeout: float, jobs: int,
                    ops: list[str] | None = None, max_paths: int = 50_000, address: str | None = None,
                    progress: Any = sys.stderr, retries: int = RETRIES,
                    on_event: Callable[[Any, Speculation], None] | None = None,
                    client: Any = None, rlimit: int = DEFAULT_RLIMIT,
                    relations: str = "claimed",
                    memory_mb: int | None = DEFAULT_MEMORY_MB) -> tuple[list[Verdict], dict[str, Any]]:
    """R-PROVE-13: run_matrix on a Dask cluster: the scheduler at `address`, or a local
    cluster of `jobs` worker processes (one thread each) started here; the same verdicts and
    per-operation evidence as run_matrix. `on_event(client, speculation)` is called after
    each finished unit (tests use it to kill a worker). R-PROVE-14: each unit's process is
    capped at `memory_mb` (None: no cap), a budget per unit where the single process has one per
    task, as --timeout is."""
    from distributed import as_completed

    own = client is None
    if own:
        client = connect(address, jobs)
    try:
        check_workers(client)
        spec = Speculation(client, mechs, invariants, sizes, timeout, list(ops or OPERATIONS), max_paths, retries,
                           rlimit, relations, memory_mb)
        start = time.perf_counter()
        pool = as_completed(spec.start())
        for fut in pool:
            if fut not in spec.owner:  # cancelled: its result is not needed
                continue
            run, index, _ = spec.owner[fut]
            for f in spec.on_result(fut):
                pool.add(f)
            report(progress, spec, run, index, fut, time.perf_counter() - start)
            if on_event is not None:
                on_event(client, spec)
            if all(r.complete() for r in spec.runs):  # the case units and the relations units
                break
        if progress is not None:
            print(f"dask: {spec.done} units on {len(client.scheduler_info().get('workers', {}))} workers "
                  f"({spec.rerun} started again: a guessed key was wrong), {time.perf_counter() - start:.1f}s",
                  file=progress, flush=True)
    finally:
        if own:
            close(client)
    by_mech = {m.id: Evidence(m.id, {}, [], []) for m in mechs}
    per_op: dict[str, Any] = {m.id: {} for m in mechs}
    for run in spec.runs:  # task order, as the single process
        ev = run.evidence()
        per_op[run.mech.id][run.op] = {"error": run.error} if run.error else op_summary(ev)
        by_mech[run.mech.id].merge(ev)
    return merged_verdicts(mechs, invariants, sizes, by_mech, per_op), per_op


def report(progress: Any, spec: Speculation, run: OpRun, index: int, fut: Any, seconds: float) -> None:
    """A progress line per finished unit (the single process's style)."""
    if progress is None:
        return
    what = "small-scope search" if index < 0 else run.labels[index]
    tail = ""
    if run.finished:
        ev = run.evidence()
        tail = " -> " + describe_exploration({"error": run.error} if run.error else op_summary(ev))
    print(f"[{spec.done}/{spec.submitted} units {seconds:6.1f}s] {run.mech.id} {run.op}: {what} done"
          f"{tail}", file=progress, flush=True)


def connect(address: str | None, jobs: int) -> Any:
    """A client of the scheduler at `address`, or of a local cluster of `jobs` processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ClusterError("--executor dask needs Dask's distributed: pip install 'loss-waterfall[cluster]'",
                           argument="--executor") from e
    if address:
        try:
            return Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterError(f"no Dask scheduler at --address {address}: {e}", argument="--address") from e
    cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster)


def close(client: Any) -> None:
    """The client, and the local cluster it started (a remote scheduler is left running)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def fingerprint() -> str:
    """A hash of the code a unit runs (model/, spec/ and proofs/ as installed here)."""
    import waterfall.model
    import waterfall.proofs
    import waterfall.spec
    h = hashlib.sha256()
    for pkg in (waterfall.model, waterfall.proofs, waterfall.spec):
        root = Path(pkg.__file__).parent
        for p in sorted(root.rglob("*.py")):
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def check_workers(client: Any) -> None:
    """Every worker runs the code this process runs, else a typed error naming the worker
    (verdicts from other code would be merged into these)."""
    mine = fingerprint()
    theirs = client.run(fingerprint)
    if not theirs:
        raise ClusterError("the Dask cluster has no workers", argument="--address")
    for worker, fp in sorted(theirs.items()):
        if fp != mine:
            raise ClusterError(f"worker {worker} runs other code than this process (model/, spec/, proofs/ differ): "
                               "install the same commit on every worker", argument="--address", worker=worker)


if __name__ == "__main__":  # a unit's own process (`isolated`)
    _unit_main(sys.argv[1:])
