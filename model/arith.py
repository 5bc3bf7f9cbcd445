"""One arithmetic over Python integers and the prover's unknowns (R-ARITH-*).

Invariant predicates (spec/invariants.py) are written with these functions, so the same
definition evaluates on a concrete step (Python ints and bools) and on a symbolic one, where
`waterfall prove` runs `model.step` itself over unknowns (proofs/prove/symexec.py). On Python
values each function is the ordinary operation. An unknown's type marks itself `symbolic`
and provides `ite`, `and_`, `or_`, `not_` and `implies` building a condition without
deciding it, so a predicate yields one condition per path instead of forking on every
connective. The model imports nothing from the prover.
"""
from __future__ import annotations

from typing import Any, Iterable

Num = Any  # int or an unknown integer
Cond = Any  # bool or an unknown truth value


def is_term(x: object) -> bool:
    """True for an unknown of the prover (its type marks itself `symbolic`)."""
    return getattr(type(x), "symbolic", False)


def is_int(x: object) -> bool:
    """R-UNIT-3: an integer amount: a Python int (not a bool), or an unknown integer of the
    prover (its type marks itself `symbolic_int`), which stands for one."""
    return (isinstance(x, int) and not isinstance(x, bool)) or getattr(type(x), "symbolic_int", False)


def _backend(*xs: object) -> Any:
    """The type of the first unknown among xs, or None when all are Python values."""
    return next((type(x) for x in xs if is_term(x)), None)


def ite(c: Cond, a: Num, b: Num) -> Num:
    """R-ARITH-1: if c then a else b."""
    s = _backend(c)
    return s.ite(c, a, b) if s else (a if c else b)


def min_(a: Num, b: Num) -> Num:
    """R-ARITH-1: the smaller of a and b."""
    return ite(a <= b, a, b)


def max_(a: Num, b: Num) -> Num:
    """R-ARITH-1: the larger of a and b."""
    return ite(a >= b, a, b)


def floor_div(a: Num, b: Num) -> Num:
    """R-ARITH-2: a / b rounded toward minus infinity, for b > 0."""
    return a // b


def ceil_div(a: Num, b: Num) -> Num:
    """R-ARITH-2: a / b rounded toward plus infinity, for b > 0."""
    return -floor_div(-a, b)


def sum_(xs: Iterable[Num]) -> Num:
    """R-ARITH-3: the sum (0 for none)."""
    total: Num = 0
    for x in xs:
        total = total + x
    return total


def all_(cs: Iterable[Cond]) -> Cond:
    """R-ARITH-4: conjunction (True for none)."""
    cs = list(cs)
    s = _backend(*cs)
    return s.and_(cs) if s else all(cs)


def any_(cs: Iterable[Cond]) -> Cond:
    """R-ARITH-4: disjunction (False for none)."""
    cs = list(cs)
    s = _backend(*cs)
    return s.or_(cs) if s else any(cs)


def not_(c: Cond) -> Cond:
    """R-ARITH-4: negation."""
    s = _backend(c)
    return s.not_(c) if s else not c


def implies(a: Cond, b: Cond) -> Cond:
    """R-ARITH-4: a implies b."""
    s = _backend(a, b)
    return s.implies(a, b) if s else (not a) or b
