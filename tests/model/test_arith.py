"""R-ARITH: the facade gives the same answers on Python integers and on the prover's unknowns
(proofs/prove/symexec.py), whose value and Z3 term must agree with Python's own arithmetic."""
from __future__ import annotations

import itertools

import z3

from waterfall.model.arith import (all_, any_, ceil_div, floor_div, implies, is_int, is_term, ite, max_, min_, not_,
                                   sum_)
from waterfall.proofs.prove.symexec import Sym, variable

VALUES = [-7, -3, -1, 0, 1, 2, 5, 9]


def sym(name: str, v: int) -> Sym:
    """An unknown worth v in this (non-exploring) evaluation."""
    return variable(name, {name: v})


def at(x: object, values: dict[str, int]) -> object:
    """x's Z3 term with the unknowns fixed, evaluated to a Python int or bool."""
    if not isinstance(x, Sym):
        return x
    t = z3.simplify(z3.substitute(x.term(), *[(z3.Int(n), z3.IntVal(v)) for n, v in values.items()]))
    return t.as_long() if z3.is_int_value(t) else z3.is_true(t)


def test_R_ARITH_1_2_integer_functions_agree_on_ints_and_unknowns() -> None:
    for a, b in itertools.product(VALUES, VALUES):
        sa, sb, env = sym("a", a), sym("b", b), {"a": a, "b": b}
        for got, want in [(min_(sa, sb), min(a, b)), (max_(sa, sb), max(a, b)), (ite(sa < sb, sa, sb), a if a < b else b)]:
            assert got.v == want and at(got, env) == want
        if b > 0:
            for got, want in [(floor_div(sa, b), a // b), (ceil_div(sa, b), -((-a) // b))]:
                assert got.v == want and at(got, env) == want


def test_R_ARITH_python_division_semantics_for_every_sign() -> None:
    """Python rounds toward minus infinity for every sign of the divisor; SMT-LIB's div does
    not for negative divisors: the unknowns follow Python."""
    for a, b in itertools.product(VALUES, [-4, -3, -1, 1, 2, 3]):
        env = {"a": a}
        q, r = divmod(sym("a", a), b)
        assert (q.v, r.v) == divmod(a, b) and (at(q, env), at(r, env)) == divmod(a, b)
        assert at(sym("a", a) % b, env) == a % b


def test_R_ARITH_3_4_sums_and_connectives_agree() -> None:
    for xs in itertools.combinations(VALUES, 3):
        env = {f"x{k}": x for k, x in enumerate(xs)}
        ss = [sym(f"x{k}", x) for k, x in enumerate(xs)]
        assert sum_(ss).v == sum(xs) == at(sum_(ss), env)
        conds, sconds = [x > 0 for x in xs], [s > 0 for s in ss]
        for got, want in [(all_(sconds), all(conds)), (any_(sconds), any(conds)), (not_(sconds[0]), not conds[0]),
                          (implies(sconds[0], sconds[1]), (not conds[0]) or conds[1])]:
            assert bool(got.v) == want and at(got, env) == want


def test_R_ARITH_python_values_stay_python_and_unknowns_stay_unknown() -> None:
    assert min_(3, 4) == 3 and type(min_(3, 4)) is int
    assert not is_term(all_([True, False])) and is_int(3) and not is_int(True) and not is_int(3.0)
    x = sym("x", 7)
    assert is_term(min_(x, 4)) and is_term(sum_([x, 1])) and is_term(all_([x > 0])) and is_int(x)
    assert sum_([]) == 0 and all_([]) is True and any_([]) is False
    assert all_([x > 0, False]) is False and any_([x > 0, True]) is True  # constants fold
