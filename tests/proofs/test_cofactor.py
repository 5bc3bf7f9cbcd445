"""R-PROVE-14's cofactoring gate, counted per formula, and R-PROVE-17's goals asked one by one.

The two fixtures were dumped from `waterfall prove --mechanism generic-socialized-loss --operation
liquidate --accounts 3` (docs/proofs.md, Speed: "k = 3: cofactoring per formula, goals one by one"):
- k3_branch_query.smt2: a branch of the haircut's floor divisions over a symbolic total weight;
  68 formulas, 27 distinct if-then-else conditions in all, at most 4 in any one formula;
- k3_goals_query.smt2: a path's condition and the negation of all eleven of its invariants' goals
  together (one formula with 31 conditions);
- k3_plain_query.smt2: a path's condition and one goal's negation (R-PROVE-18): 29 conditions in
  all, at most 12 in any formula, which cofactoring makes undecidable within 20 M units.
"""
from __future__ import annotations

import sys
from typing import Any

import pytest
import z3

from waterfall.model.loader import resolve_mechanism
from waterfall.proofs.prove import prover, symexec
from waterfall.proofs.prove.harness import Sizes
from waterfall.spec.invariants import REGISTRY

from dumped_queries import SMALL, query, record_rungs


def test_R_PROVE_14_the_cofactoring_gate_counts_conditions_per_formula() -> None:
    xs = z3.Ints("x0 x1 x2 x3 x4")
    few = [sum(z3.If(x > i, x, -x) for i in range(3)) > 0 for x in xs]  # 3 conditions each, 15 in all
    assert symexec.ite_conditions(few, stop=99) == 15
    assert symexec.cofactor_safe(few)
    many = sum(z3.If(xs[0] > i, xs[1], xs[2]) for i in range(13)) > 0  # 13 conditions in one formula
    assert not symexec.cofactor_safe(few + [many])
    assert symexec.cofactor_safe([sum(z3.If(xs[0] > i, xs[1], xs[2]) for i in range(12)) > 0])


def test_R_PROVE_14_a_k3_branch_is_decided_at_the_first_rung_once_cofactored() -> None:
    formulas = query("k3_branch_query.smt2")
    assert symexec.ite_conditions(formulas) > symexec.COFACTOR_MAX_CONDITIONS  # the old, whole-query gate refused it
    assert symexec.cofactor_safe(formulas)
    plain = symexec._solver("smt", SMALL, cofactor=False)
    plain.add(formulas)
    assert plain.check() == z3.unknown  # without cofactoring the first rung gives up (at 100 M too: docs/proofs.md)
    assert symexec.solve(formulas, SMALL)[0] == z3.unsat


def test_R_PROVE_17_each_goal_alone_is_decided_where_their_conjunction_is_not() -> None:
    formulas = query("k3_goals_query.smt2")
    prefix, negated = formulas[:-1], formulas[-1]
    goals = negated.arg(0).children()
    assert z3.is_not(negated) and len(goals) == 11
    assert not symexec.cofactor_safe(formulas)
    assert symexec.solve(formulas, SMALL)[0] == z3.unknown  # together: given up at the first rungs
    assert all(symexec.solve(prefix + [z3.Not(g)], SMALL)[0] == z3.unsat for g in goals)


def test_R_PROVE_17_a_conjunction_of_goals_never_reaches_the_ladder(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the incremental solver given no budget, every query goes to the ladder (`solve`); the
    path's goals then reach it one by one, never as their conjunction, and the cells are still
    proved on every applied path."""
    monkeypatch.setattr(symexec, "QUICK_RLIMIT", 1)
    conjunctions: list[Any] = []
    seen: list[Any] = []
    check_path, solve = prover.Prover.check_path, symexec.solve

    def spying_check_path(self: Any, case: Any, out: Any, assignment: Any, ex: Any) -> Any:
        terms = [g.term() for g, _ in out.goals.values() if isinstance(g, symexec.Sym) and g.v]
        conjunctions.append(z3.Not(z3.And(terms)) if len(terms) > 1 else None)
        return check_path(self, case, out, assignment, ex)

    def spying_solve(formulas: list[Any], rlimit: int = symexec.DEFAULT_RLIMIT, deadline: Any = None) -> Any:
        caller = sys._getframe(2).f_code.co_name  # solve <- Explorer.check <- its caller
        if caller == "check_path" and conjunctions and conjunctions[-1] is not None:
            seen.append(formulas[-1].eq(conjunctions[-1]))
        return solve(formulas, rlimit, deadline)

    monkeypatch.setattr(prover.Prover, "check_path", spying_check_path)
    monkeypatch.setattr(symexec, "solve", spying_solve)
    ev = prover.prove_operation(resolve_mechanism("generic-socialized-loss"), ["I-CONS", "I-NONNEG", "I-BUDGET"],
                                Sizes(2, 1), "liquidate", timeout_s=600, samples=0)
    assert seen and not any(seen)  # goals reached the ladder, each alone
    applied = sum(c.applied for c in ev.cases)
    assert applied > 0 and all(ev.cells[i].paths == applied for i in ("I-CONS", "I-NONNEG", "I-BUDGET"))


def test_R_PROVE_18_a_goal_cofactoring_spoils_is_decided_by_the_plain_rung(monkeypatch: pytest.MonkeyPatch) -> None:
    formulas = query("k3_plain_query.smt2")
    assert symexec.cofactor_safe(formulas)
    cofactored = symexec._solver("smt", 10 * SMALL, cofactor=True)
    cofactored.add(formulas)
    assert cofactored.check() == z3.unknown  # cofactored, even ten times the first rung's budget gives up
    tried = record_rungs(monkeypatch)
    assert symexec.solve(query("k3_plain_query.smt2"), 10 * SMALL)[0] == z3.unsat
    assert tried == ["smt", "plain"]  # the first rung gives up; the same budget without cofactoring decides it


def test_R_PROVE_18_the_plain_rung_is_skipped_where_the_first_rung_did_not_cofactor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []
    solver = symexec._solver

    class Enough(Exception):
        """Two rungs seen: stop the ladder there."""

    def recording(kind: str, rlimit: int, cofactor: bool = True) -> Any:
        """The rung `solve` asks for, noted; the third stops the query."""
        tried.append(kind)
        if len(tried) > 2:
            raise Enough
        return solver(kind, rlimit, cofactor)

    monkeypatch.setattr(symexec, "_solver", recording)
    formulas = query("k3_goals_query.smt2")  # not cofactor-safe (31 conditions in one formula)
    with pytest.raises(Enough):
        symexec.solve(formulas, 10 * SMALL)
    assert tried == ["smt", "smt1", "smt2"]  # no "plain": the first rung already ran without cofactoring
