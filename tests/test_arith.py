"""R-ARITH: the facade gives the same answers on Python integers and on Z3 terms."""
from __future__ import annotations

import itertools

import z3

from waterfall.model.arith import all_, any_, ceil_div, floor_div, implies, is_term, ite, max_, min_, not_, sum_

VALUES = [-7, -3, -1, 0, 1, 2, 5, 9]


def z3_value(term: object) -> object:
    """Evaluate a closed Z3 term to a Python int or bool."""
    v = z3.simplify(term)
    return v.as_long() if z3.is_int_value(v) else z3.is_true(v)


def test_R_ARITH_1_2_integer_functions_agree_on_ints_and_terms() -> None:
    for a, b in itertools.product(VALUES, VALUES):
        za, zb = z3.IntVal(a), z3.IntVal(b)
        assert z3_value(min_(za, zb)) == min_(a, b) == min(a, b)
        assert z3_value(max_(za, zb)) == max_(a, b) == max(a, b)
        assert z3_value(ite(za < zb, za, zb)) == ite(a < b, a, b)
        if b > 0:
            assert z3_value(floor_div(za, zb)) == floor_div(a, b) == a // b
            assert z3_value(ceil_div(za, zb)) == ceil_div(a, b) == -((-a) // b)


def test_R_ARITH_3_4_sums_and_connectives_agree() -> None:
    for xs in itertools.combinations(VALUES, 3):
        zs = [z3.IntVal(x) for x in xs]
        assert z3_value(sum_(zs)) == sum_(xs) == sum(xs)
        conds = [x > 0 for x in xs]
        zconds = [z > 0 for z in zs]
        assert z3_value(all_(zconds)) == all_(conds) == all(conds)
        assert z3_value(any_(zconds)) == any_(conds) == any(conds)
        assert z3_value(not_(zconds[0])) == not_(conds[0])
        assert z3_value(implies(zconds[0], zconds[1])) == implies(conds[0], conds[1])


def test_R_ARITH_python_values_stay_python_and_terms_stay_terms() -> None:
    assert min_(3, 4) == 3 and type(min_(3, 4)) is int
    assert not is_term(all_([True, False]))
    x = z3.Int("x")
    assert is_term(min_(x, 4)) and is_term(sum_([x, 1])) and is_term(all_([x > 0]))
    assert sum_([]) == 0 and all_([]) is True and any_([]) is False
    # a symbolic floor division is refuted below its floor: x = 7, 7 // 2 == 3 for every model
    s = z3.Solver()
    s.add(x == 7, floor_div(x, 2) != 3)
    assert s.check() == z3.unsat


def test_R_ARITH_mixed_python_and_term_operands_stay_symbolic() -> None:
    """A symbolic condition with Python branches, a Python dividend over a symbolic divisor and
    a symbolic premise with a Python conclusion must all build terms (Python's `if`, `//` and
    `not` cannot take a Z3 term), and agree with Python once x is fixed."""
    x = z3.Int("x")
    for v in [1, 2, 3, 7, 9]:
        def at(term: object) -> object:
            return z3_value(z3.substitute(term, (x, z3.IntVal(v))))
        assert at(ite(x > 2, 1, 2)) == (1 if v > 2 else 2)
        assert at(floor_div(7, x)) == 7 // v
        assert at(implies(x > 2, False)) == (not v > 2)
