"""R-PROVE-16: a query the first rung of LADDER gives up on is tried with other fixed seeds of Z3's
smt core at the same small budget, before nlsat and the larger budgets (proofs/prove/budgets.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import z3

from waterfall.proofs.prove import symexec
from waterfall.proofs.prove.budgets import LADDER

QUERY = Path(__file__).parent / "data" / "seed_rung_query.smt2"
SMALL = LADDER[0][1]
BEFORE = (("smt", 2_000_000), ("nlsat", 2_000_000), ("smt", 20_000_000), ("smt1", 20_000_000), ("smt2", 20_000_000))
"""The ladder before R-PROVE-16 (R-PROVE-11)."""


def _query() -> list[z3.BoolRef]:
    """The fixture's assertions, in a fresh Z3 context (so Z3's answer does not depend on earlier tests)."""
    symexec.fresh_context()
    return list(z3.parse_smt2_string(QUERY.read_text()))


def _first_rung(formulas: list[z3.BoolRef]) -> z3.CheckSatResult:
    """The answer of LADDER's first rung alone, as `solve` builds it."""
    cofactor = symexec.cofactor_safe(formulas)
    s = symexec._solver(*LADDER[0], cofactor)
    s.add(formulas)
    return s.check()


def test_R_PROVE_16_a_query_the_first_rung_gives_up_on_is_decided_by_a_seed_at_the_small_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    formulas = _query()
    assert _first_rung(formulas) == z3.unknown  # the first rung alone gives up on it
    tried: list[tuple[str, int]] = []
    solver = symexec._solver

    def recording(kind: str, rlimit: int, cofactor: bool = True) -> z3.Solver:
        """The rung `solve` asks for, noted."""
        tried.append((kind, rlimit))
        return solver(kind, rlimit, cofactor)

    monkeypatch.setattr(symexec, "_solver", recording)
    r, model, why = symexec.solve(_query(), 10 * SMALL)
    assert (r, model, why) == (z3.unsat, None, "")
    assert tried == [("smt", SMALL), ("smt1", SMALL)]  # decided by seed 1 at 2 M: no nlsat, no larger budget


def test_R_PROVE_16_the_seeds_come_first_at_the_small_budget() -> None:
    seeds = LADDER[2:5]
    assert [k for k, _ in seeds] == ["smt1", "smt2", "smt3"] and {b for _, b in seeds} == {SMALL}
    assert LADDER[:2] == (("smt", SMALL), ("plain", SMALL))  # R-PROVE-18: the first rung, then it uncofactored


def test_R_PROVE_16_every_rung_of_the_old_ladder_is_still_met_in_order() -> None:
    rest = iter(LADDER)
    assert all(rung in rest for rung in BEFORE)  # a subsequence: same rungs, same order
