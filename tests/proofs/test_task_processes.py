"""R-PROVE-14 (a memory budget per task) and R-PROVE-15 (a dead worker costs only its own task)
for `run_matrix`, the local process runner of `waterfall prove`.

Kept small: generic-socialized-loss and drift-v2 at k = 2, their deposit and trade (seconds
each); drift-v2's trade in-process with a memory error injected.
"""
from __future__ import annotations

import operator
import os
import signal
from dataclasses import asdict
from typing import Any

import pytest
import z3

from waterfall.cli.prove import INVARIANTS
from waterfall.model.loader import resolve_mechanism
from waterfall.proofs import verdict as V
from waterfall.proofs.prove import matrix, prover, symexec
from waterfall.proofs.prove.budgets import memory_reason
from waterfall.proofs.prove.harness import Sizes
from waterfall.proofs.prove.matrix import KILL_TASK, run_matrix, run_tasks

MECHS, OPS, SIZES = ["generic-socialized-loss", "drift-v2"], ["deposit", "trade"], Sizes(2, 1)
TIGHT_Z3_MB = 24  # Z3's own allocation cap in tight_job: below what a liquidation's queries need


def stripped(x: Any) -> Any:
    """JSON without its timing fields."""
    if isinstance(x, dict):
        return {k: stripped(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [stripped(v) for v in x]
    return x


def by_cell(verdicts: list[Any]) -> dict[tuple[str, str], Any]:
    return {(v.mechanism, v.invariant): stripped(v.to_json()) for v in verdicts}


@pytest.fixture(scope="module")
def clean() -> tuple[list[Any], dict[str, Any]]:
    """The run in which no worker dies."""
    return run_matrix([resolve_mechanism(m) for m in MECHS], INVARIANTS, SIZES, 600, 2, OPS, progress=None)


def test_R_PROVE_15_run_tasks_blames_only_the_process_that_died() -> None:
    # operator.call(f, *a) in each worker: two tasks that return, one that aborts (SIGABRT), one that exits
    out = run_tasks(operator.call, [(pow, 2, 10), (os.abort,), (pow, 3, 3), (os._exit, 3)], 2)
    assert out[0] == ("ok", 1024) and out[2] == ("ok", 27)
    assert out[1] == ("died", f"worker process died (signal {int(signal.SIGABRT)}, SIGABRT)")
    assert out[3] == ("died", "worker process died (exit code 3) without a result")


def test_R_PROVE_15_a_task_that_raises_is_its_own_error() -> None:
    out = run_tasks(operator.call, [(int, "x"), (abs, -4)], 2)
    assert out[0][0] == "error" and "ValueError" in out[0][1] and out[1] == ("ok", 4)


def test_R_PROVE_15_a_killed_worker_costs_only_its_task(clean: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KILL_TASK, "generic-socialized-loss/deposit")  # that worker SIGKILLs itself
    verdicts, per_op = run_matrix([resolve_mechanism(m) for m in MECHS], INVARIANTS, SIZES, 600, 2, OPS, progress=None)
    clean_verdicts, clean_ops = clean
    died = per_op["generic-socialized-loss"]["deposit"]
    assert died == {"error": f"worker process died (signal {int(signal.SIGKILL)}, SIGKILL: the kernel's OOM killer, "
                             f"or kill -9)"}
    # every other task's exploration is the clean run's, and so are the other mechanism's verdicts
    assert stripped(per_op["generic-socialized-loss"]["trade"]) == stripped(clean_ops["generic-socialized-loss"]["trade"])
    assert stripped(per_op["drift-v2"]) == stripped(clean_ops["drift-v2"])
    mine, theirs = by_cell(verdicts), by_cell(clean_verdicts)
    assert {k: v for k, v in mine.items() if k[0] == "drift-v2"} == {k: v for k, v in theirs.items() if k[0] == "drift-v2"}
    for (mech, _), v in mine.items():  # the dead task's mechanism: undecided, naming the death, never PROVED
        if mech == "generic-socialized-loss" and v["kind"] != V.NOT_APPLICABLE:
            assert v["kind"] == V.UNKNOWN and "deposit: worker process died (signal 9" in v["reason"]


def tight_job(*args: Any) -> dict[str, Any]:
    """matrix._job with Z3's own allocations capped at TIGHT_Z3_MB after the budget is applied."""
    real = symexec.limit_memory

    def limit(mb: int) -> None:
        real(mb)
        symexec.limit_z3_memory(TIGHT_Z3_MB)
    symexec.limit_memory = limit
    return matrix._job(*args)


def test_R_PROVE_14_out_of_memory_ends_the_task_undecided_never_proved() -> None:
    # drift-v2's trade at k = 2 has two cases; a Z3 context takes 16.4 MB, so under a 24 MB cap
    # the first case is explored in full and the second finds no room for its context
    mech = resolve_mechanism("drift-v2")
    verdicts, per_op = run_matrix([mech], INVARIANTS, SIZES, 600, 1, ["trade"], progress=None,
                                  memory_mb=2048, job=tight_job)
    d = per_op[mech.id]["trade"]
    assert "error" not in d and not d["complete"] and d["reason"] == memory_reason(2048)
    assert d["cases"] == 2 and d["paths"] > 0  # the first case's paths are kept
    live = [v for v in verdicts if v.kind != V.NOT_APPLICABLE]
    assert live and all(v.kind == V.UNKNOWN and v.reason.endswith("memory budget of 2048 MB exceeded") for v in live)
    assert not any(v.stats.get("error") for v in verdicts)  # the budget is not a prover crash


def failing_after(n: int, real: Any) -> Any:
    """`real`, raising MemoryError from its n-th call on."""
    calls = [0]

    def f(*a: Any, **k: Any) -> Any:
        calls[0] += 1
        if calls[0] >= n:
            raise MemoryError("injected")
        return real(*a, **k)
    return f


def test_R_PROVE_14_memory_error_keeps_the_cases_already_explored(monkeypatch: pytest.MonkeyPatch) -> None:
    mech = resolve_mechanism("drift-v2")
    calls, after_case = [0], []
    real = symexec.Explorer.check

    def counting(*a: Any, **k: Any) -> Any:
        calls[0] += 1
        return real(*a, **k)
    monkeypatch.setattr(symexec.Explorer, "check", counting)
    full = prover.prove_operation(mech, INVARIANTS, SIZES, "trade", samples=0,
                                  progress=lambda _m, _st: after_case.append(calls[0]))
    assert len(full.cases) >= 2 and all(c.complete for c in full.cases)
    monkeypatch.setattr(symexec.Explorer, "check", failing_after(after_case[0] + 1, real))  # in the second case
    ev = prover.prove_operation(mech, INVARIANTS, SIZES, "trade", samples=0)
    assert [c.label for c in ev.cases] == [c.label for c in full.cases][:len(ev.cases)]  # none after the budget
    assert len(ev.cases) == 2  # the budget ran out in the second case, where it stopped
    assert stripped(asdict(ev.cases[0])) == stripped(asdict(full.cases[0]))  # the first case's evidence kept
    stopped = [c for c in ev.cases if c.memory]
    assert stopped == [ev.cases[-1]] and stopped[0].reason == memory_reason(None) and not stopped[0].complete
    assert sum(c.paths for c in ev.cells.values()) > 0
    for inv in ("I-CONS", "I-VALID"):
        v = prover.verdict(ev, mech, inv, SIZES)
        assert v.kind == V.UNKNOWN and v.reason.endswith(memory_reason(None))


def test_R_PROVE_14_a_counterexample_found_before_the_budget_ran_out_stands() -> None:
    mech = resolve_mechanism("generic-socialized-loss")
    cex = {"format": "waterfall-scenario", "name": "x"}
    ev = prover.Evidence(mech.id, {"I-CONS": prover.Cell("I-CONS", counterexample=cex, note="small-scope search")},
                         [prover.CaseStats("liquidate k=2", complete=False, reason=memory_reason(64), memory=True)], [])
    assert prover.verdict(ev, mech, "I-CONS", SIZES).kind == V.COUNTEREXAMPLE
    v = prover.verdict(ev, mech, "I-ZERO", SIZES)
    assert v.kind == V.UNKNOWN and v.reason == f"liquidate k=2: {memory_reason(64)}"


def test_R_PROVE_14_memory_errors_are_never_findings() -> None:
    assert symexec.out_of_memory(MemoryError()) and symexec.out_of_memory(z3.Z3Exception(b"out of memory"))
    assert not symexec.out_of_memory(z3.Z3Exception(b"unknown parameter")) and not symexec.out_of_memory(ValueError())
    mech = resolve_mechanism("generic-socialized-loss")
    with pytest.raises(MemoryError):  # a predicate that runs out of memory is not violated
        prover.holds("I-CONS", *(_raising(MemoryError()),) * 4, mech)


class _raising:
    """An argument every attribute read of which raises `exc`."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        raise self.exc


def test_R_PROVE_14_cofactoring_only_with_few_conditions() -> None:
    xs = z3.Ints("x0 x1 x2")
    t = sum(z3.If(x > i, x, -x) for i, x in enumerate(xs))  # three distinct conditions
    assert symexec.ite_conditions([t > 0]) == 3
    many = sum(z3.If(xs[0] > i, xs[1], xs[2]) for i in range(40))
    assert symexec.ite_conditions([many > 0], stop=12) == 13  # counted up to the bound, plus one
    assert symexec.solve([t < 0] + [x >= 3 for x in xs])[0] == z3.unsat  # cofactored
    assert symexec.solve([many < 0, xs[1] >= 0, xs[2] >= 0])[0] == z3.unsat  # not cofactored, still decided
