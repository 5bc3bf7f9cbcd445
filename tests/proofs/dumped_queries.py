"""SMT-LIB queries dumped from k = 3 runs (tests/proofs/data), and a spy on the ladder's rungs:
shared by the tests of R-PROVE-14, -17, -18 (test_cofactor.py) and R-PROVE-19 (test_guard.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import z3

from waterfall.proofs.prove import symexec

DATA = Path(__file__).parent / "data"
SMALL = 2_000_000
"""The first rung's budget (LADDER[0])."""


def query(name: str) -> list[z3.BoolRef]:
    """A fixture's assertions, in a fresh Z3 context (so Z3's answer does not depend on earlier tests)."""
    symexec.fresh_context()
    return list(z3.parse_smt2_string((DATA / name).read_text()))


def record_rungs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds of the rungs `symexec.solve` asks for from now on, in order (the rungs still run)."""
    tried: list[str] = []
    solver = symexec._solver

    def recording(kind: str, rlimit: int, cofactor: bool = True) -> Any:
        """The rung `solve` asks for, noted."""
        tried.append(kind)
        return solver(kind, rlimit, cofactor)

    monkeypatch.setattr(symexec, "_solver", recording)
    return tried
