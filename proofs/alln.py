"""All-N proofs (spec/invariants.md, "All N" paragraphs): invariants that are sum identities
or per-account bounds, proved for every number of accounts N at once.

Three kinds of argument, each named in the verdict's `reason`:
  sympy identity   a sum over i = 1..n with symbolic n (sympy.Sum over IndexedBase, .doit(),
                   simplify / refine) reduces to 0;
  induction        Z3 proves, by unsat of the negation, a predicate P over prefix aggregates
                   (S_N = sum of shares, T_N = sum of weights, ...): base P(0), step P(N) and
                   one fresh account -> P(N+1), closing P(N) and T_N = W -> the claim;
  per-account      Z3 proves the claim for one arbitrary account whose weight w and total
                   W >= w are free: the other accounts enter only through W, so the
                   statement covers every account of every N-account allocation.
Every Z3 stage first checks that its assumptions are satisfiable (vacuity) and stores the
witness. When a stage fails, the claim is searched for a concrete counterexample with
N <= 3 and replayed through the reference model (model/allocation.py, model/layers.py,
model/haircut.py): COUNTEREXAMPLE only if the model fails too, UNKNOWN otherwise.

Documented behaviour relied on: Z3 proves a claim by showing its negation unsat (z3py
`prove`, https://z3prover.github.io/api/html/z3py_8py_source.html; z3py guide,
https://ericpony.github.io/z3py-tutorial/guide-examples.htm); sympy evaluates finite sums with
symbolic limits with `Sum(...).doit()` (https://docs.sympy.org/latest/modules/concrete.html)
and simplifies the resulting Piecewise under assumptions with `refine`
(https://docs.sympy.org/latest/modules/assumptions/refine.html).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sympy as sp
import z3

from waterfall.model.allocation import CEIL, FLOOR, LARGEST_REMAINDER, allocate, water_fill
from waterfall.model.units import PPM

from waterfall.proofs.verdict import COUNTEREXAMPLE, PROVED_ALL_N, UNKNOWN, VACUOUS, Verdict

RLIMIT = 50_000_000  # R-PROVE-11: solver work per all-N query, counted by Z3 (no wall-clock)
Stage = tuple[str, list[Any], Any]  # (name, assumptions, goal)
Claim = Callable[[int, list[int], list[int]], bool]  # (total, weights, shares) -> holds


@dataclass(frozen=True)
class Obligation:
    """One all-N proof obligation: its ID, the invariant, the mechanism family it covers, a
    one-line statement, the argument, the proof and a deliberately wrong variant."""

    id: str
    invariant: str
    family: str
    statement: str
    argument: str
    discharge: Callable[[], Verdict]
    wrong: Callable[[], Verdict]


# ---- engines ------------------------------------------------------------------------------

def _mech(family: str) -> str:
    """The verdict's mechanism field: '*' for any mechanism, else the family."""
    return "*" if family == "any" else family


def sympy_verdict(ob_id: str, inv: str, family: str, residual: sp.Expr, instance: dict[Any, int],
                  argument: str, t0: float) -> Verdict:
    """A sympy identity: PROVED_ALL_N when `residual` simplifies to 0 for symbolic n; else a
    concrete instance (n and values substituted) evaluating to non-zero refutes it."""
    if sp.simplify(residual) == 0:
        return Verdict(_mech(family), inv, PROVED_ALL_N, None, time.perf_counter() - t0,
                       f"{ob_id}: sympy identity: {argument}")
    value = sp.simplify(residual.subs(instance).doit().subs(instance))
    seconds = time.perf_counter() - t0
    if value.is_number and value != 0:
        cx = {str(k): str(v) for k, v in instance.items()} | {"residual": str(value)}
        return Verdict(_mech(family), inv, COUNTEREXAMPLE, None, seconds,
                       f"{ob_id}: identity fails: residual {sp.simplify(residual)} is {value} on the "
                       "instance (exact evaluation of the stated identity; a wrong mechanism, nothing "
                       "in model/ to replay)", counterexample=cx)
    return Verdict(_mech(family), inv, UNKNOWN, None, seconds,
                   f"{ob_id}: sympy left residual {sp.simplify(residual)} and the instance did not decide it")


def _stats(solver: z3.Solver) -> dict[str, Any]:
    """Z3 statistics as a plain dict."""
    st = solver.statistics()
    return {k: st.get_key_value(k) for k in st.keys()}


def _model_dict(m: z3.ModelRef) -> dict[str, str]:
    """A Z3 model as {name: value}."""
    return {d.name(): str(m[d]) for d in m.decls()}


def z3_check(assumptions: list[Any], goal: Any | None) -> tuple[z3.CheckSatResult, z3.Solver]:
    """Satisfiability of assumptions (and not goal, when a goal is given)."""
    s = z3.Solver()
    s.set("rlimit", RLIMIT)
    s.add(*assumptions)
    if goal is not None:
        s.add(z3.Not(goal))
    return s.check(), s


def z3_verdict(ob_id: str, inv: str, family: str, kind: str, stages: Sequence[Stage],
               refute: Callable[[], dict[str, Any] | None], t0: float) -> Verdict:
    """Discharge every stage (vacuity check, then unsat of the negated goal); on a failed
    stage, search a concrete counterexample and replay it through the model (`refute`)."""
    witness: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    mech = _mech(family)
    for name, assumptions, goal in stages:
        res, s = z3_check(assumptions, None)
        if res != z3.sat:
            kind_ = VACUOUS if res == z3.unsat else UNKNOWN
            return Verdict(mech, inv, kind_, None, time.perf_counter() - t0,
                           f"{ob_id}: {kind}, stage {name}: assumptions {res} ({s.reason_unknown()})")
        witness[name] = _model_dict(s.model())
        res, s = z3_check(assumptions, goal)
        stats[name] = _stats(s)
        if res == z3.unsat:
            continue
        cti = _model_dict(s.model()) if res == z3.sat else None
        cx = refute()
        seconds = time.perf_counter() - t0
        if cx is not None:
            return Verdict(mech, inv, COUNTEREXAMPLE, None, seconds,
                           f"{ob_id}: {kind}, stage {name} fails; a concrete instance replayed through "
                           "the model violates the claim", witness=witness, counterexample=cx, stats=stats)
        why = f"countermodel {cti}" if cti is not None else f"solver: {s.reason_unknown()}"
        return Verdict(mech, inv, UNKNOWN, None, seconds,
                       f"{ob_id}: {kind}, stage {name} not proved ({why}); no concrete counterexample "
                       "with N <= 3 in the model", witness=witness, stats=stats)
    return Verdict(mech, inv, PROVED_ALL_N, None, time.perf_counter() - t0,
                   f"{ob_id}: {kind}", witness=witness, stats=stats)


# ---- concrete search and replay through the model (N <= 3, small values) ------------------

def small_allocations(max_n: int = 3, max_w: int = 3) -> list[tuple[int, list[int]]]:
    """(total, weights) with 1..max_n accounts, weights 0..max_w, total 0..2W+1."""
    out = []
    for n in range(1, max_n + 1):
        for ws in itertools.product(range(max_w + 1), repeat=n):
            out += [(r, list(ws)) for r in range(2 * sum(ws) + 2)]
    return out


def search_allocation(rounding: str, claim: Claim) -> dict[str, Any] | None:
    """R-ALLOC-1/2: the first small allocation whose model shares (allocate) break `claim`."""
    for total, ws in small_allocations():
        if sum(ws) == 0:  # the obligations assume W >= 1 (R-ALLOC-3 allocates nothing)
            continue
        shares = allocate(total, ws, [f"a{j}" for j in range(len(ws))], rounding)
        if not claim(total, ws, shares):
            return {"rounding": rounding, "total": str(total), "weights": [str(w) for w in ws],
                    "shares": [str(s) for s in shares]}
    return None


def pair_replay(rounding: str, claim: Claim, capped: Callable[[int], int] | None = None
                ) -> Callable[[], dict[str, Any] | None]:
    """Replay of a per-account claim: a free (w, W >= w) is the venue [w, W - w]; searched
    over small values through allocate (or water_fill with caps `capped(w)`)."""
    def run() -> dict[str, Any] | None:
        for total, ws in small_allocations(max_n=2, max_w=4):
            keys = [f"a{j}" for j in range(len(ws))]
            if capped is None:
                shares = allocate(total, ws, keys, rounding)
            else:
                shares = water_fill(total, ws, [capped(w) for w in ws], keys, rounding)
            if not claim(total, ws, shares):
                return {"rounding": rounding, "total": str(total), "weights": [str(w) for w in ws],
                        "shares": [str(s) for s in shares], "capped": capped is not None}
        return None
    return run


# ---- sympy obligations --------------------------------------------------------------------

n = sp.Symbol("n", integer=True, positive=True)
i, k, e = sp.symbols("i k e", integer=True)
w_, x_, a_ = sp.IndexedBase("w"), sp.IndexedBase("x"), sp.IndexedBase("a")


def transfer_residual(wrong: bool) -> sp.Expr:
    """I-CONS, R-EVT-1: value change of K transfers over E = N + M endpoints (accounts,
    layers, contributions, bad debt, each entering value with sign so a credit raises it)."""
    E = sp.Symbol("E", integer=True, positive=True)
    K = sp.Symbol("K", integer=True, positive=True)
    t, s, f = sp.symbols("t s f", integer=True)
    credit = sp.KroneckerDelta(e, t) * (1 - f if wrong else 1)  # wrong: the credit burns a fee f
    per_transfer = sp.Sum(credit - sp.KroneckerDelta(e, s), (e, 1, E)).doit()
    in_range = sp.Q.ge(t, 1) & sp.Q.le(t, E) & sp.Q.ge(s, 1) & sp.Q.le(s, E)
    return sp.Sum(a_[k] * sp.refine(per_transfer, in_range), (k, 1, K)).doit()


def p_cons(wrong: bool = False) -> Verdict:
    """I-CONS (R-EVT-1, R-WF-5): transfers between endpoints conserve value for any N."""
    t0 = time.perf_counter()
    res = transfer_residual(wrong)
    f = sp.Symbol("f", integer=True)
    inst = {sp.Symbol("K", integer=True, positive=True): 1, a_[1]: 1, f: 1}
    return sympy_verdict("P-CONS-ALLN", "I-CONS", "any", res, inst,
                         "sum over endpoints e=1..N+M of sum_k a_k([e = dst_k] - [e = src_k]) = "
                         "sum_k a_k (1 - 1) = 0 when each transfer's src and dst are endpoints "
                         "(bad debt enters value negated, and a transfer from it raises it)", t0)


def trade_residuals(wrong: bool) -> tuple[sp.Expr, sp.Expr]:
    """I-ZERO, R-OP-3: size and notional change of a trade of q lots at p, summed over N."""
    q, p, p2, b, s = sp.symbols("q p p2 b s", integer=True)
    ind = sp.KroneckerDelta(i, b) - sp.KroneckerDelta(i, s)
    seller_price = p2 if wrong else p  # wrong: the seller books a different price
    notional = q * p * sp.KroneckerDelta(i, b) - q * seller_price * sp.KroneckerDelta(i, s)
    in_range = sp.Q.ge(b, 1) & sp.Q.le(b, n) & sp.Q.ge(s, 1) & sp.Q.le(s, n)
    sizes = sp.refine(sp.Sum(q * ind, (i, 1, n)).doit(), in_range)
    notionals = sp.refine(sp.Sum(notional, (i, 1, n)).doit(), in_range)
    return sizes, notionals


def p_zero(wrong: bool = False) -> Verdict:
    """I-ZERO (R-OP-3, R-LIQ-3, R-ADL-1): a trade keeps per-market size and notional sums."""
    t0 = time.perf_counter()
    sizes, notionals = trade_residuals(wrong)
    q, p, p2, b, s = sp.symbols("q p p2 b s", integer=True)
    inst = {q: 1, p: 2, p2: 1, b: 1, s: 1}
    return sympy_verdict("P-ZERO-ALLN", "I-ZERO", "any", sp.Abs(sizes) + sp.Abs(notionals), inst,
                         "sum_i q([i=b]-[i=s]) = 0 and sum_i qp([i=b]-[i=s]) = 0 for any N with buyer b "
                         "and seller s among the N accounts; every position change (trade, liquidation "
                         "close, ADL fill) is such a trade, set_mark and funding change no position", t0)


def p_funding(wrong: bool = False) -> Verdict:
    """I-CONS (R-OP-5): the funding pool nets to 0 when sizes sum to 0, for any N."""
    t0 = time.perf_counter()
    r, c = sp.symbols("r c", integer=True)
    pay = r * x_[i] + (c if wrong else 0)  # wrong: a flat charge c per account
    pool = sp.factor_terms(sp.expand(sp.Sum(pay, (i, 1, n)).doit()))
    residual = pool.subs(sp.Sum(x_[i], (i, 1, n)), 0)
    inst = {n: 1, x_[1]: 0, r: 1, c: 1}
    return sympy_verdict("P-FUNDING-ALLN", "I-CONS", "any", residual, inst,
                         "sum_i r x_i = r sum_i x_i = 0 given sum_i x_i = 0 (I-ZERO): the pool pays out "
                         "exactly what it takes", t0)


def p_exact_shares(wrong: bool = False) -> Verdict:
    """I-BUDGET (R-ALLOC-1): exact pro-rata shares R w_i / W sum to R for any N."""
    t0 = time.perf_counter()
    R = sp.Symbol("R", integer=True, nonnegative=True)
    W = sp.Sum(w_[i], (i, 1, n))
    shares = sp.Sum(R * w_[i] / (W + 1 if wrong else W), (i, 1, n))  # wrong: W + 1
    inst = {n: 1, R: 1, w_[1]: 1}
    return sympy_verdict("P-SHARES-ALLN", "I-BUDGET", "pro-rata (exact shares)", shares - R, inst,
                         "sum_i R w_i / W = R (sum_i w_i) / W = R with W = sum_i w_i > 0: the rounding "
                         "obligations below bound the distance of the integer shares from these", t0)


# ---- Z3: induction over prefix aggregates ---------------------------------------------------

def Ints(names: str) -> list[Any]:
    """Fresh Z3 integers."""
    return list(z3.Ints(names))


def floor_induction(ceil: bool, wrong: bool) -> list[Stage]:
    """R-ALLOC-1: P(N): 0 <= +-(R T_N - W S_N) <= N (W - 1), T_N > 0 -> N >= 1; closing at
    T_N = W: floor S <= R <= S + N - 1 (ceil: R <= S <= R + N - 1)."""
    R, W, N, T, S, w, s = Ints("R W N T S w s")
    sign = -1 if ceil else 1
    def P(n_: Any, t: Any, s_: Any) -> Any:
        gap = sign * (R * t - W * s_)
        return z3.And(n_ >= 0, 0 <= gap, gap <= n_ * (W - 1), z3.Implies(t > 0, n_ >= 1))
    ctx = [R >= 0, W >= 1]
    fresh = [w >= 0, W * s <= R * w, R * w < W * s + W] if not ceil else [w >= 0, W * s - W < R * w, R * w <= W * s]
    claim = z3.And(S <= R, R - S <= N - 1) if not ceil else z3.And(R <= S, S - R <= N - 1)
    if wrong:
        claim = S >= R if not ceil else S <= R  # wrong: floor over-collects / ceil under-collects
    return [("base", ctx, P(z3.IntVal(0), z3.IntVal(0), z3.IntVal(0))),
            ("step", ctx + [P(N, T, S)] + fresh, P(N + 1, T + w, S + s)),
            ("closing", ctx + [P(N, T, S), T == W], claim)]


def p_floor_sum(wrong: bool = False) -> Verdict:
    """I-BUDGET / I-RESIDUE (R-ALLOC-1, R-HC-4): floor shares sum to S with R-(N-1) <= S <= R."""
    t0 = time.perf_counter()
    claim: Claim = (lambda r, ws, ss: sum(ss) >= r) if wrong else \
        (lambda r, ws, ss: 0 <= r - sum(ss) <= max(0, len(ws) - 1))
    return z3_verdict("P-FLOOR-SUM-ALLN", "I-BUDGET", "pro-rata, floor rounding",
                      "induction base+step over prefix sums (S_N floors, T_N weights), closing at T_N = W; "
                      "assumes R >= 0, W >= 1, weights >= 0",
                      floor_induction(False, wrong), lambda: search_allocation(FLOOR, claim), t0)


def p_ceil_sum(wrong: bool = False) -> Verdict:
    """I-BUDGET / I-RESIDUE (R-ALLOC-1, R-HC-3): ceil shares sum to S with R <= S <= R+N-1."""
    t0 = time.perf_counter()
    claim: Claim = (lambda r, ws, ss: sum(ss) <= r) if wrong else \
        (lambda r, ws, ss: 0 <= sum(ss) - r <= max(0, len(ws) - 1))
    return z3_verdict("P-CEIL-SUM-ALLN", "I-BUDGET", "pro-rata, ceil rounding",
                      "induction base+step over prefix sums (S_N ceilings, T_N weights), closing at T_N = W; "
                      "assumes R >= 0, W >= 1, weights >= 0",
                      floor_induction(True, wrong), lambda: search_allocation(CEIL, claim), t0)


def lr_induction(wrong: bool) -> list[Stage]:
    """R-ALLOC-2: P(N): R T_N = W F_N + Q_N, 0 <= Q_N <= C_N (W - 1), 0 <= C_N <= N, with F
    the floors, Q the remainders, C the count of positive remainders. Closing at T_N = W:
    extra = R - F satisfies 0 <= extra <= N - 1 and extra >= 1 -> C > extra."""
    R, W, N, T, F, Q, C, w, f, r = Ints("R W N T F Q C w f r")
    def P(n_: Any, t: Any, f_: Any, q: Any, c: Any) -> Any:
        return z3.And(R * t == W * f_ + q, 0 <= q, q <= c * (W - 1), 0 <= c, c <= n_,
                      z3.Implies(t > 0, n_ >= 1))
    ctx = [R >= 0, W >= 1]
    zero = z3.IntVal(0)
    fresh = [w >= 0, R * w == W * f + r, 0 <= r, r <= W - 1]
    extra = R - F
    claim = z3.And(0 <= extra, extra <= N - 1, z3.Implies(extra >= 1, C > extra))
    if wrong:
        claim = extra <= 1  # wrong: at most one account gets an extra unit
    return [("base", ctx, P(zero, zero, zero, zero, zero)),
            ("step", ctx + [P(N, T, F, Q, C)] + fresh,
             P(N + 1, T + w, F + f, Q + r, C + z3.If(r > 0, 1, 0))),
            ("closing", ctx + [P(N, T, F, Q, C), T == W], claim)]


def _lr_extras(r: int, ws: list[int], ss: list[int]) -> list[int]:
    """Units each account got above its floor (R-ALLOC-2)."""
    W = sum(ws)
    return [s - (r * w // W if W else 0) for w, s in zip(ws, ss)]


def p_lr_sum(wrong: bool = False) -> Verdict:
    """I-BUDGET / I-PROP (R-ALLOC-2): largest remainder hands out R - sum floors <= N - 1
    units, fewer than the accounts with a positive remainder, so each gets at most one, only
    where its remainder is positive, and the shares sum to exactly R."""
    t0 = time.perf_counter()
    def claim(r: int, ws: list[int], ss: list[int]) -> bool:
        extra = _lr_extras(r, ws, ss)
        return sum(extra) <= 1 if wrong else sum(ss) == (r if sum(ws) else 0) and all(x in (0, 1) for x in extra)
    return z3_verdict("P-LR-SUM-ALLN", "I-BUDGET", "pro-rata, largest remainder",
                      "induction base+step over prefix floors, remainders and the count of positive "
                      "remainders, closing at T_N = W; the shares are floors + extra = R by construction; "
                      "assumes R >= 0, W >= 1, weights >= 0",
                      lr_induction(wrong), lambda: search_allocation(LARGEST_REMAINDER, claim), t0)


def clip_induction(wrong: bool) -> list[Stage]:
    """R-WF-2 (clip in model/layers.py): P(N): limit_N >= 0, paid_N + limit_N = L0, paid_N >=
    0; each member pays min(share, limit) in [0, share]; closing: paid <= L0."""
    L0, N, P_, lim, s, out = Ints("L0 N P lim s out")
    def P(n_: Any, p: Any, l_: Any) -> Any:
        return z3.And(n_ >= 0, l_ >= 0, p + l_ == L0, p >= 0)
    fresh = [s >= 0, out == z3.If(s <= lim, s, lim)]
    claim = P_ == L0 if wrong else P_ <= L0  # wrong: the layer always pays its whole limit
    return [("base", [L0 >= 0], P(z3.IntVal(0), z3.IntVal(0), L0)),
            ("step", [L0 >= 0, P(N, P_, lim)] + fresh,
             z3.And(P(N + 1, P_ + out, lim - out), 0 <= out, out <= s)),
            ("closing", [L0 >= 0, P(N, P_, lim)], claim)]


def p_clip(wrong: bool = False) -> Verdict:
    """I-FUND / I-BUDGET (R-CH-2, R-CH-3, R-WF-2): a clipped layer pays each member's share at
    most and never more than the deficit, for any number of members."""
    from waterfall.model.layers import clip
    t0 = time.perf_counter()
    def refute() -> dict[str, Any] | None:
        for lim, ss in [(lim, list(ss)) for lim in range(4) for m in (1, 2, 3)
                        for ss in itertools.product(range(4), repeat=m)]:
            out = clip(ss, lim)
            ok = sum(out) == lim if wrong else sum(out) <= lim and all(0 <= o <= s for o, s in zip(out, ss))
            if not ok:
                return {"limit": str(lim), "shares": [str(s) for s in ss], "paid": [str(o) for o in out]}
        return None
    return z3_verdict("P-CLIP-ALLN", "I-FUND", "clearing layers (default fund, assessment)",
                      "induction base+step over the running limit and total paid, closing: paid <= D; "
                      "assumes D >= 0, shares >= 0",
                      clip_induction(wrong), refute, t0)


# ---- Z3: per-account lemmas -----------------------------------------------------------------

PER_ACCOUNT = ("per-account lemma: one account with free weight w and free total W >= w (the "
               "other N - 1 accounts enter only through W), so it holds for every account of "
               "every N")


def share_of(rounding: str, R: Any, w: Any, W: Any, s: Any, ctx: str) -> list[Any]:
    """Constraints defining one account's share s of R over w / W (R-ALLOC-1/2); largest
    remainder: floor f plus e in {0, 1}, e = 1 only with a positive remainder (P-LR-SUM-ALLN)."""
    if rounding == FLOOR:
        return [W * s <= R * w, R * w < W * s + W]
    if rounding == CEIL:
        return [W * s - W < R * w, R * w <= W * s]
    f, rem, ex = z3.Ints(f"f_{ctx} r_{ctx} e_{ctx}")
    return [R * w == W * f + rem, 0 <= rem, rem < W, z3.Or(ex == 0, ex == 1),
            z3.Implies(ex == 1, rem > 0), s == f + ex]


def bound_stage(rounding: str, wrong: bool) -> list[Stage]:
    """I-BOUND (R-HC-1/2): R = min(D, W) <= W -> share <= w. Wrong: every account (losers
    too) weighted by its equity, claim share <= max(0, min(profit, equity))."""
    R, w, W, s, profit = Ints("R w W s profit")
    ctx = [R >= 0, w >= 0, W >= w, W >= 1, R <= W] + share_of(rounding, R, w, W, s, "b")
    if wrong:
        base = z3.If(profit <= 0, 0, z3.If(profit < w, profit, w))  # w is the equity here
        return [("per-account", ctx, s <= base)]
    return [("per-account", ctx, s <= w)]


def p_bound(rounding: str) -> Callable[[bool], Verdict]:
    """I-BOUND for one rounding."""
    def run(wrong: bool = False) -> Verdict:
        """I-BOUND (R-HC-2, R-ALLOC-1/2): no account pays more than its base when R <= W."""
        t0 = time.perf_counter()
        if wrong:  # venue [equity, rest]: the first account lost (profit -1), its equity is its weight
            claim: Claim = lambda r, ws, ss: r > sum(ws) or ss[0] <= 0  # noqa: E731
        else:
            claim = lambda r, ws, ss: r > sum(ws) or all(s <= w for s, w in zip(ss, ws))  # noqa: E731
        return z3_verdict(f"P-BOUND-{TAG[rounding]}-ALLN", "I-BOUND", f"pro-rata haircut, {NAME[rounding]}",
                          PER_ACCOUNT + "; assumes R <= W (R = min(D, W), R-HC-2)",
                          bound_stage(rounding, wrong), pair_replay(rounding, claim), t0)
    return run


def prop_stage(rounding: str, wrong: bool) -> list[Stage]:
    """I-PROP (R-HC-2): |share W - R w| < W. Wrong: within half a unit, 2 |gap| < W."""
    R, w, W, s = Ints("R w W s")
    ctx = [R >= 0, w >= 0, W >= w, W >= 1] + share_of(rounding, R, w, W, s, "p")
    gap = s * W - R * w
    goal = z3.And(-W < 2 * gap, 2 * gap < W) if wrong else z3.And(-W < gap, gap < W)
    return [("per-account", ctx, goal)]


def p_prop(rounding: str) -> Callable[[bool], Verdict]:
    """I-PROP for one rounding."""
    def run(wrong: bool = False) -> Verdict:
        """I-PROP (R-HC-2, R-ALLOC-1/2): each share within one unit of R w / W."""
        t0 = time.perf_counter()
        def claim(r: int, ws: list[int], ss: list[int]) -> bool:
            W = sum(ws)
            gaps = [abs(s * W - r * w) for s, w in zip(ss, ws)]
            return W == 0 or all((2 * g if wrong else g) < W for g in gaps)
        extra = "; largest remainder uses P-LR-SUM-ALLN (an extra unit only on a positive remainder)" \
            if rounding == LARGEST_REMAINDER else ""
        return z3_verdict(f"P-PROP-{TAG[rounding]}-ALLN", "I-PROP", f"pro-rata haircut, {NAME[rounding]}",
                          PER_ACCOUNT + extra, prop_stage(rounding, wrong), pair_replay(rounding, claim), t0)
    return run


TAG = {FLOOR: "FLOOR", CEIL: "CEIL", LARGEST_REMAINDER: "LR"}
NAME = {FLOOR: "floor rounding", CEIL: "ceil rounding", LARGEST_REMAINDER: "largest remainder"}


def p_bound_capped(wrong: bool = False) -> Verdict:
    """I-BOUND (R-HC-2 with cap_ppm, R-ALLOC-4): a water-filled share is its cap or
    min(x, cap) for some x, and cap = floor(w c / 10^6) <= w; wrong: claim the capped share
    is at least the uncapped floor share floor(R w / W)."""
    t0 = time.perf_counter()
    R, w, W, c, cap, x, s, fl = Ints("R w W c cap x s fl")
    ctx = [R >= 0, w >= 0, W >= w, W >= 1, R <= W, 0 <= c, c < PPM,
           cap * PPM <= w * c, w * c < cap * PPM + PPM, z3.Or(s == cap, s == z3.If(x <= cap, x, cap)),
           W * fl <= R * w, R * w < W * fl + W]
    goal = s >= fl if wrong else s <= w
    ppm = PPM // 2
    def claim(r: int, ws: list[int], ss: list[int]) -> bool:
        W_ = sum(ws)
        if wrong:
            return W_ == 0 or ss[0] >= r * ws[0] // W_
        return r > W_ or all(s_ <= w_ for s_, w_ in zip(ss, ws))
    return z3_verdict("P-BOUND-CAP-ALLN", "I-BOUND", "capped pro-rata haircut (water-filling)",
                      PER_ACCOUNT + "; cap_ppm < 10^6, any rounding of the unsaturated rest",
                      [("per-account", ctx, goal)],
                      pair_replay(FLOOR, claim, capped=lambda w_: w_ * ppm // PPM), t0)


def p_fund_balance(wrong: bool = False) -> Verdict:
    """I-FUND (R-WF-3, R-HC-4): a balance layer pays min(d, max(0, L - reserve)[, cap left])
    and keeps L' >= min(L, reserve) >= 0; wrong: claim L' >= reserve."""
    from waterfall.model.layers import draw_balance
    from waterfall.model.mechanism import LayerSpec
    from waterfall.model.state import Account, State
    from waterfall.model.tx import Tx
    t0 = time.perf_counter()
    L, res, d, capleft, capped, amount = Ints("L res d capleft capped amount")
    room0 = z3.If(L - res >= 0, L - res, 0)
    room = z3.If(capped == 1, z3.If(capleft <= room0, capleft, room0), room0)
    ctx = [L >= 0, res >= 0, d >= 0, capleft >= 0, z3.Or(capped == 0, capped == 1),
           amount == z3.If(d <= room, d, room)]
    left = L - amount
    goal = left >= res if wrong else z3.And(amount >= 0, left >= 0, left >= z3.If(L <= res, L, res))
    def refute() -> dict[str, Any] | None:
        for bal, reserve, deficit in itertools.product(range(4), repeat=3):
            tx = Tx(State({}, {"z": Account(-deficit, 0, {})}, {"f": bal}))
            paid = draw_balance(tx, LayerSpec("f", reserve=reserve), "z", deficit, [])
            after = tx.layers["f"]
            ok = after >= reserve if wrong else paid >= 0 and after >= min(bal, reserve) and after >= 0
            if not ok:
                return {"balance": str(bal), "reserve": str(reserve), "deficit": str(deficit),
                        "after": str(after)}
        return None
    return z3_verdict("P-FUND-BALANCE-ALLN", "I-FUND", "balance layers (and residue sink draws)",
                      "per-layer lemma: the draw reads only its own balance, reserve and the deficit "
                      "left, never the accounts, so it holds for any N; assumes L >= 0, reserve >= 0",
                      [("per-layer", ctx, goal)], refute, t0)


def p_fund_default(wrong: bool = False) -> Verdict:
    """I-FUND (R-CH-2): a member pays min(share, limit) with share within one unit of the
    exact R c / W (any rounding, P-PROP-*) and R <= W, so its contribution stays >= 0."""
    from waterfall.model.layers import draw_default_fund
    from waterfall.model.mechanism import LayerSpec
    from waterfall.model.state import Account, State
    from waterfall.model.tx import Tx
    t0 = time.perf_counter()
    R, c, W, s, lim, out = Ints("R c W s lim out")
    ctx = [R >= 0, c >= 0, W >= c, W >= 1, R <= W, -W < s * W - R * c, s * W - R * c < W, s >= 0,
           lim >= 0, out == z3.If(s <= lim, s, lim)]
    goal = z3.Implies(c >= 1, c - out >= 1) if wrong else c - out >= 0
    def refute() -> dict[str, Any] | None:
        for deficit, cs in itertools.product(range(6), itertools.product(range(3), repeat=2)):
            fund = {f"m{j}": v for j, v in enumerate(cs)}
            accounts = {m: Account(0, 0, {}) for m in fund} | {"z": Account(-deficit, 0, {})}
            tx = Tx(State({}, accounts, {}, fund))
            draw_default_fund(tx, LayerSpec("df", kind="default_fund"), "z", deficit, [])
            after = [tx.default_fund[m] for m in fund]
            ok = all(a >= 1 for a, c_ in zip(after, cs) if c_ >= 1) if wrong else min(after) >= 0
            if not ok:
                return {"deficit": str(deficit), "contributions": [str(v) for v in cs],
                        "after": [str(v) for v in after]}
        return None
    return z3_verdict("P-FUND-DF-ALLN", "I-FUND", "default fund (clearing house)",
                      PER_ACCOUNT + " (members, W their total left); with P-CLIP-ALLN for the cut at D",
                      [("per-member", ctx, goal)], refute, t0)


# ---- Z3: budget of the haircut stage, composed with the all-N sum bounds -------------------

def budget_stages(rounding: str, wrong: bool) -> list[Stage]:
    """I-BUDGET (R-WF-2, R-HC-2..4, R-WF-5): layers Lp, collected C, surplus, residue payment
    p and write-off b give Lp + C - surplus + p + b = D0 with every term >= 0, for C within
    the all-N bounds of its rounding (P-*-SUM-ALLN) and any N >= 1."""
    D0, Lp, W, N, C, L, res, sink = Ints("D0 Lp W N C L res sink")
    D = D0 - Lp
    R = z3.If(D <= W, D, W)
    bounds = {FLOOR: [R - (N - 1) <= C, C <= R, C >= 0], CEIL: [R <= C, C <= R + N - 1],
              LARGEST_REMAINDER: [C == R]}[rounding]
    ctx = [D0 >= 1, 0 <= Lp, Lp < D0, W >= 0, N >= 1, L >= 0, res >= 0, z3.Or(sink == 0, sink == 1)] + bounds
    surplus = z3.If(C > D, C - D, 0)
    room = z3.If(L - res >= 0, L - res, 0)
    residue = R - C
    p = z3.If(z3.And(C <= D, sink == 1, residue > 0), z3.If(residue <= room, residue, room), 0)
    rest = z3.If(C > D, 0, D - C - p)
    b = z3.If(rest > 0, rest, 0)
    goal = z3.And(Lp + C - surplus + p + b == D0, surplus >= 0, p >= 0, rest >= 0)
    if wrong:  # WRONG_BUDGET: claims that hold for one rounding but not this one
        goal = {FLOOR: z3.Implies(D <= W, b == 0), CEIL: surplus == 0, LARGEST_REMAINDER: b == 0}[rounding]
    return [("stage identity", ctx, goal)]


def haircut_replay(rounding: str, weights: list[int], deficit: int, fund: int) -> tuple[int, int, int]:
    """Run model/haircut.py on a venue whose accounts a_j have base w_j (mark 1, one market),
    bankrupt z at equity -deficit, residue and surplus sink `insurance_fund`; returns
    (bankrupt equity, write-off, change of the sink)."""
    from waterfall.model.haircut import haircut
    from waterfall.model.mechanism import Haircut, LayerSpec, Mechanism
    from waterfall.model.state import Account, Market, Position, State
    from waterfall.model.tx import Tx
    from waterfall.model.waterfall import finish
    n_ = len(weights)
    accounts = {f"a{j}": Account(0, 0, {"m": Position(1, 1 - w)}) for j, w in enumerate(weights)}
    accounts["y"] = Account(sum(weights) + 10, 0, {"m": Position(-n_, sum(weights) - n_)})
    accounts["z"] = Account(-deficit, 0, {})
    tx = Tx(State({"m": Market("m", 1, 0, 0)}, accounts, {"insurance_fund": fund}))
    mech = Mechanism("t", "t", layers=(LayerSpec("insurance_fund"),),
                     final=Haircut(rounding=rounding, residue_sink="insurance_fund"))
    rest = haircut(tx, mech, "z", deficit, ["m"], "insurance_fund")
    written = tx.bad_debt
    finish(tx, "z", rest)
    return tx.equity("z"), tx.bad_debt - written, tx.layers["insurance_fund"] - fund


WRONG_BUDGET: dict[str, Callable[[int, list[int], int, int], bool]] = {
    # (deficit, weights, write-off, sink change) -> the wrong claim fails on this replay
    FLOOR: lambda d, ws, b, sink: d <= sum(ws) and b != 0,  # "a coverable deficit leaves no bad debt"
    CEIL: lambda d, ws, b, sink: sink > 0,                  # "ceil never over-collects"
    LARGEST_REMAINDER: lambda d, ws, b, sink: b != 0,       # "a haircut never leaves bad debt"
}


def p_budget(rounding: str) -> Callable[[bool], Verdict]:
    """I-BUDGET for one rounding."""
    def run(wrong: bool = False) -> Verdict:
        """I-BUDGET (R-HC-2..4, R-WF-5): the pro-rata stage takes exactly the deficit."""
        t0 = time.perf_counter()
        def refute() -> dict[str, Any] | None:
            for deficit, fund, ws in itertools.product(range(1, 4), range(2),
                                                       [list(x) for m in (1, 2, 3) for x in
                                                        itertools.product(range(1, 3), repeat=m)]):
                eq, written, sink = haircut_replay(rounding, ws, deficit, fund)
                bad = WRONG_BUDGET[rounding](deficit, ws, written, sink) if wrong else (eq != 0 or written < 0)
                if bad:
                    return {"rounding": rounding, "weights": [str(v) for v in ws], "deficit": str(deficit),
                            "fund": str(fund), "bankrupt_equity": str(eq), "written_off": str(written),
                            "sink_change": str(sink)}
            return None
        return z3_verdict(f"P-BUDGET-{TAG[rounding]}-ALLN", "I-BUDGET", f"pro-rata haircut, {NAME[rounding]}",
                          "stage identity over the waterfall (layers, collection, surplus, residue sink, "
                          f"write-off) with the collected sum C bounded by P-{TAG[rounding]}-SUM-ALLN for "
                          "symbolic N (N enters only through those bounds)",
                          budget_stages(rounding, wrong), refute, t0)
    return run


# ---- registry and entry point -------------------------------------------------------------

def _ob(id_: str, inv: str, family: str, statement: str, argument: str,
        fn: Callable[..., Verdict]) -> Obligation:
    """An obligation whose proof is fn(False) and whose wrong variant is fn(True)."""
    return Obligation(id_, inv, family, statement, argument, lambda: fn(False), lambda: fn(True))


SUM_ID = {FLOOR: "P-FLOOR-SUM-ALLN", CEIL: "P-CEIL-SUM-ALLN", LARGEST_REMAINDER: "P-LR-SUM-ALLN"}

OBLIGATIONS: list[Obligation] = [
    _ob("P-CONS-ALLN", "I-CONS", "any", "Transfers between endpoints leave value unchanged.",
        "sympy identity", p_cons),
    _ob("P-FUNDING-ALLN", "I-CONS", "any", "The funding pool nets to 0 when sizes sum to 0.",
        "sympy identity", p_funding),
    _ob("P-ZERO-ALLN", "I-ZERO", "any", "A trade leaves each market's size and notional sums unchanged.",
        "sympy identity", p_zero),
    _ob("P-SHARES-ALLN", "I-BUDGET", "pro-rata (exact shares)", "Exact shares R w_i / W sum to R.",
        "sympy identity", p_exact_shares),
    _ob("P-FLOOR-SUM-ALLN", "I-BUDGET", "pro-rata, floor rounding",
        "Floor shares sum to S with R - (N - 1) <= S <= R.", "induction", p_floor_sum),
    _ob("P-CEIL-SUM-ALLN", "I-BUDGET", "pro-rata, ceil rounding",
        "Ceil shares sum to S with R <= S <= R + N - 1.", "induction", p_ceil_sum),
    _ob("P-LR-SUM-ALLN", "I-BUDGET", "pro-rata, largest remainder",
        "Largest remainder gives R - sum floors <= N - 1 extra units, each to a distinct account "
        "with a positive remainder; shares sum to R.", "induction", p_lr_sum),
    _ob("P-CLIP-ALLN", "I-FUND", "clearing layers (default fund, assessment)",
        "A clipped layer pays each member at most its share and at most D in all.", "induction", p_clip),
    _ob("P-FUND-BALANCE-ALLN", "I-FUND", "balance layers (and residue sink draws)",
        "A balance draw leaves L' >= min(L, reserve) >= 0.", "per-layer lemma", p_fund_balance),
    _ob("P-FUND-DF-ALLN", "I-FUND", "default fund (clearing house)",
        "A member's default-fund contribution stays >= 0.", "per-account lemma", p_fund_default),
    _ob("P-BOUND-CAP-ALLN", "I-BOUND", "capped pro-rata haircut (water-filling)",
        "A capped share is at most the base.", "per-account lemma", p_bound_capped),
] + [
    _ob(f"P-BOUND-{TAG[r]}-ALLN", "I-BOUND", f"pro-rata haircut, {NAME[r]}",
        "With R <= W, each share is at most its base w.", "per-account lemma", p_bound(r))
    for r in (FLOOR, CEIL, LARGEST_REMAINDER)
] + [
    _ob(f"P-PROP-{TAG[r]}-ALLN", "I-PROP", f"pro-rata haircut, {NAME[r]}",
        "Each share s satisfies |s W - R w| < W.", "per-account lemma", p_prop(r))
    for r in (FLOOR, CEIL, LARGEST_REMAINDER)
] + [
    _ob(f"P-BUDGET-{TAG[r]}-ALLN", "I-BUDGET", f"pro-rata haircut, {NAME[r]}",
        "Layers + collected - surplus + residue payment + write-off = deficit, each term >= 0.",
        "stage identity + all-N sum bounds", p_budget(r))
    for r in (FLOOR, CEIL, LARGEST_REMAINDER)
]


def all_n_verdicts(invariant: str | None = None) -> list[Verdict]:
    """Discharge every all-N obligation (of one invariant ID, if given)."""
    return [ob.discharge() for ob in OBLIGATIONS if invariant is None or ob.invariant == invariant]
