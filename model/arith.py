"""One arithmetic over Python integers and Z3 terms (R-ARITH-*).

Invariant predicates (spec/invariants.py) are written with these functions only, so the same
definition evaluates on a concrete state (Python ints and bools) and on a symbolic one (Z3
Int and Bool terms): the checked property is the proved property. On Python values each
function is the ordinary operation; as soon as one argument is a Z3 term, it builds the
corresponding Z3 term. Z3 is imported only when a term is seen.
"""
from __future__ import annotations

from typing import Any, Iterable

Num = Any  # int or z3.ArithRef
Cond = Any  # bool or z3.BoolRef


def is_term(x: object) -> bool:
    """True for a Z3 expression (checked by module name, so z3 need not be imported)."""
    return type(x).__module__.startswith("z3")


def is_int(x: object) -> bool:
    """R-UNIT-3: an integer amount: a Python int (not a bool), or a symbolic integer of the
    prover (an object marking itself `symbolic_int`, proofs/symexec.py), which stands for one."""
    return (isinstance(x, int) and not isinstance(x, bool)) or getattr(type(x), "symbolic_int", False)


def _z3() -> Any:
    import z3
    return z3


def ite(c: Cond, a: Num, b: Num) -> Num:
    """R-ARITH-1: if c then a else b."""
    if is_term(c) or is_term(a) or is_term(b):
        return _z3().If(c, a, b)
    return a if c else b


def min_(a: Num, b: Num) -> Num:
    """R-ARITH-1: the smaller of a and b."""
    return ite(a <= b, a, b)


def max_(a: Num, b: Num) -> Num:
    """R-ARITH-1: the larger of a and b."""
    return ite(a >= b, a, b)


def floor_div(a: Num, b: Num) -> Num:
    """R-ARITH-2: a / b rounded toward minus infinity, for b > 0 (Z3's integer division
    agrees with floor division for positive divisors)."""
    return a / b if is_term(a) or is_term(b) else a // b


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
    if any(is_term(c) for c in cs):
        return _z3().And(*cs) if cs else True
    return all(cs)


def any_(cs: Iterable[Cond]) -> Cond:
    """R-ARITH-4: disjunction (False for none)."""
    cs = list(cs)
    if any(is_term(c) for c in cs):
        return _z3().Or(*cs) if cs else False
    return any(cs)


def not_(c: Cond) -> Cond:
    """R-ARITH-4: negation."""
    return _z3().Not(c) if is_term(c) else not c


def implies(a: Cond, b: Cond) -> Cond:
    """R-ARITH-4: a implies b."""
    return _z3().Implies(a, b) if is_term(a) or is_term(b) else (not a) or b
