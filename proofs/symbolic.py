"""The liquidation step over Z3 terms (R-PROVE-1): N accounts, one market.

A second encoding of model/waterfall.py's liquidation, written branch-free (every `if` on
an amount is an if-then-else term, every transfer is recorded even when its amount may be
0), so that one call yields the post-state and the events as Z3 terms. The invariant
predicates of spec/invariants.py are then evaluated on it unchanged: the proved property
is the checked property. The step itself is a separate encoding (the model branches on
values and sorts), tied to the model by tests/test_symbolic.py, which fixes thousands of
random concrete states, solves, and compares post-state and events with model.step.

What the encoding covers (anything else raises Unsupported, reported as n/a):
- one market M0 whose mark P and the fill price F are symbolic; margin rates fixed;
- account a00 is liquidated; it holds a non-zero position and is below maintenance margin;
- a book close to counterparty a01 at F (haircut, levy and bad-debt-only mechanisms); ADL
  mechanisms deleverage straight away (no counterparty: the model's main ADL path);
- surplus rules all / fee / none; balance layers (reserve, cap), the defaulter's
  contribution, the default fund (pro rata with its rounding, clipped), assessments;
- haircuts (profit upnl / total_gain, eligibility, floor / ceil / largest remainder, residue
  sink, caps); the OI levy; ADL.
Capped water-filling (assessments, capped haircuts) is encoded only by its lemmas (the
'lemmas' encoding); the exact encodings refuse such mechanisms (Unsupported).
ADL order: the encoding fills the opposite side in index order with no assumption on the
scores. Every invariant but I-ADL-RANK holds for every order if it holds for index order
over all states (accounts can be renamed), so proving them without the ranking is sound
for every ranking; I-ADL-RANK (the order itself) is checked concretely (tests, fuzzer).
Largest remainder: the k extra units go to the accounts whose remainder is above a
symbolic cut-off c, or equal to it with an index below a symbolic t, with sum = k: linear
in N (no pairwise order constraints); the selection such (c, t) give is the unique one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from waterfall.model.arith import all_, any_, ceil_div, floor_div, implies, ite, max_, min_, sum_
from waterfall.model.events import Event, acct, layer
from waterfall.model.layers import sink_key
from waterfall.model.mechanism import Adl, BadDebtOnly, Haircut, LayerSpec, Levy, Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.units import MAX_BALANCE, MAX_INPUT, PPM

MARKET, OTHER = "M0", "M1"  # the bankrupt's market; a second one where the mechanism looks across
IM_PPM, MM_PPM = 100_000, 50_000
# 'lemmas': each allocated share is a fresh unknown constrained only by the allocation facts
# proved for every N in proofs/alln.py (an over-approximation: a proof is sound, a
# counterexample is replayed and, if spurious, the prover retries with 'named');
# 'named': fresh quotient unknowns with their exact defining bounds; 'div': Z3's own div.
ENCODINGS = ("lemmas", "named", "div")


class Unsupported(Exception):
    """The mechanism uses a feature the symbolic step does not encode."""


def account_ids(n: int) -> list[str]:
    """Account ids whose code-point order is index order (ties in rounding go by id)."""
    return [f"a{i:02d}" for i in range(n)]


@dataclass
class Work:
    """The working copy of a symbolic venue: balances as terms, events, side definitions."""

    n: int
    mark: Any
    c: list[Any]
    d: list[Any]
    s: list[Any]
    o: list[Any]
    layers: dict[str, Any]
    fund: dict[str, Any]
    bad_debt: Any
    encoding: str = "named"
    proportional: bool = False  # 'lemmas': add the per-account proportionality fact
    long: bool | None = None  # the bankrupt's side when the query is split by case
    size0: Any = 0  # the bankrupt's size before the step (its side)
    fund0: dict[str, Any] = field(default_factory=dict)  # contributions before the step
    ctx: Any = None  # the Z3 context of the query's terms
    mark1: Any = None  # the second market (None: one market), where a01.. hold static positions
    s1: list[Any] = field(default_factory=list)
    o1: list[Any] = field(default_factory=list)
    allocation: tuple[Any, list[Any], list[Any]] | None = None  # the haircut's (R, w, shares)
    events: list[Event] = field(default_factory=list)
    defs: list[Any] = field(default_factory=list)
    fresh_count: int = 0

    @property
    def ids(self) -> list[str]:
        return account_ids(self.n)

    def copy(self) -> "Work":
        """A copy to step (lists and maps copied, terms shared)."""
        return Work(self.n, self.mark, list(self.c), list(self.d), list(self.s), list(self.o),
                    dict(self.layers), dict(self.fund), self.bad_debt, self.encoding, self.proportional, self.long,
                    self.size0, dict(self.fund0), self.ctx, self.mark1, self.s1, self.o1)

    def by_side(self, if_long: Any, if_short: Any) -> Any:
        """A term that depends on the bankrupt's side: resolved in Python when the query
        fixes the side (case split, R-PROVE-8), else an if-then-else on size > 0."""
        if self.long is None:
            return ite(self.size0 > 0, if_long, if_short)
        return if_long if self.long else if_short

    def fresh(self, name: str) -> Any:
        """A new integer unknown, defined by constraints added to `defs`."""
        self.fresh_count += 1
        return z3.Int(f"{name}!{self.fresh_count}", self.ctx)

    def upnl(self, i: int) -> Any:
        """R-PNL-1 in the bankrupt's market M0."""
        return self.s[i] * self.mark - self.o[i]

    def upnl_other(self, i: int) -> Any:
        """R-PNL-1 in the second market (0 with one market; the bankrupt holds none there)."""
        return 0 if self.mark1 is None or i == 0 else self.s1[i] * self.mark1 - self.o1[i]

    def equity(self, i: int) -> Any:
        """R-PNL-3 over every market."""
        return self.c[i] + self.upnl(i) + self.upnl_other(i)

    def state(self) -> State:
        """The model's State with term fields (every account holds an M0 record; a01.. an
        M1 record too when there are two markets)."""
        markets = {MARKET: Market(MARKET, self.mark, IM_PPM, MM_PPM)}
        if self.mark1 is not None:
            markets[OTHER] = Market(OTHER, self.mark1, IM_PPM, MM_PPM)
        accounts = {}
        for i, a in enumerate(self.ids):
            pos = {MARKET: Position(self.s[i], self.o[i])}
            if self.mark1 is not None and i > 0:
                pos[OTHER] = Position(self.s1[i], self.o1[i])
            accounts[a] = Account(self.c[i], self.d[i], pos)
        return State(markets, accounts, dict(self.layers), dict(self.fund), self.bad_debt)

    def pay(self, rule: str, src: str, dst: str, amount: Any, stage: str) -> None:
        """Tx.pay: move `amount` (>= 0, possibly 0) between endpoints, with its event."""
        self._apply(src, -amount)
        self._apply(dst, amount)
        self.events.append(Event(rule, "transfer", src, dst, amount, stage, ""))

    def _apply(self, endpoint: str, delta: Any) -> None:
        kind, _, name = endpoint.partition(":")
        if kind == "account":
            i = self.ids.index(name)
            self.c[i] = self.c[i] + delta
        elif kind == "layer":
            self.layers[name] = self.layers.get(name, 0) + delta
        elif kind == "default_fund":
            self.fund[name] = self.fund.get(name, 0) + delta
        elif kind == "bad_debt":
            self.bad_debt = self.bad_debt - delta

    def move(self, i: int, dsize: Any, dnotional: Any) -> None:
        """Tx._move: add to a position's size and open notional."""
        self.s[i] = self.s[i] + dsize
        self.o[i] = self.o[i] + dnotional


def markets_for(mech: Mechanism) -> int:
    """R-PROVE-1: two markets where the mechanism looks across markets (a haircut base over
    all markets, net-profit eligibility or total gain, assessments or ADL solvency checks
    capped by equity), else one."""
    f = mech.final
    across = isinstance(f, Haircut) and (f.scope == "all_markets" or f.eligibility == "net_profitable"
                                         or f.profit == "total_gain")
    across |= any(s.kind == "assessment" for s in mech.layers) or (isinstance(f, Adl) and f.skip_insolvent)
    return 2 if across else 1


def symbolic_venue(mech: Mechanism, n: int, encoding: str = "lemmas", proportional: bool = False,
                   long: bool | None = None, markets: int | None = None) -> Work:
    """A venue of n >= 2 accounts whose every amount is a Z3 unknown."""
    if n < 2:
        raise ValueError("the symbolic venue needs at least 2 accounts")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}")
    ids = account_ids(n)
    ctx = z3.Context()  # one context per query: its result does not depend on earlier queries
    ints = lambda name: [z3.Int(f"{name}_{a}", ctx) for a in ids]  # noqa: E731
    two = (markets or markets_for(mech)) == 2
    keys = mech.layer_keys([MARKET, OTHER] if two else [MARKET])
    fund = {a: z3.Int(f"fund_{a}", ctx) for a in ids} if any(s.kind != "balance" for s in mech.layers) else {}
    sizes = ints("size")
    return Work(n, z3.Int("mark", ctx), ints("collateral"), ints("net_deposit"), sizes, ints("notional"),
                {k: z3.Int(f"layer_{k}", ctx) for k in keys}, fund, z3.Int("bad_debt", ctx), encoding, proportional, long,
                sizes[0], dict(fund), ctx, z3.Int("mark1", ctx) if two else None,
                [0] + ints("size1")[1:] if two else [], [0] + ints("notional1")[1:] if two else [])


def inputs(w: Work, fill: Any) -> list[Any]:
    """Every unknown of the pre-state and the operation."""
    other = [w.mark1, *w.s1[1:], *w.o1[1:]] if w.mark1 is not None else []
    return [w.mark, fill, w.bad_debt, *w.c, *w.d, *w.s, *w.o, *w.layers.values(), *w.fund.values(), *other]


def assumptions(w: Work, fill: Any) -> list[Any]:
    """The pre-state is one the model accepts (R-STATE-5, R-UNIT-3) and account a00 may be
    liquidated (R-LIQ-1) with a non-zero position and a positive fill price."""
    mm = ceil_div(w.by_side(w.s[0], -w.s[0]) * w.mark * MM_PPM, PPM)
    side = [] if w.long is None else [w.s[0] > 0 if w.long else w.s[0] < 0]
    out = side + [w.mark >= 1, w.mark <= MAX_INPUT, fill >= 1, fill <= MAX_INPUT, w.s[0] != 0,
           sum_(w.s) == 0, sum_(w.o) == 0, w.bad_debt >= 0, w.bad_debt <= MAX_BALANCE,
           w.equity(0) < mm]
    if w.mark1 is not None:  # the second market: valid, zero-sum, within bounds
        out += [w.mark1 >= 1, w.mark1 <= MAX_INPUT, sum_(w.s1) == 0, sum_(w.o1) == 0]
        out += [z3.And(v >= -MAX_INPUT, v <= MAX_INPUT) for v in w.s1[1:]]
        out += [z3.And(v >= -MAX_BALANCE, v <= MAX_BALANCE) for v in w.o1[1:]]
    for v in w.s:
        out += [v >= -MAX_INPUT, v <= MAX_INPUT]
    for v in [*w.c, *w.d, *w.o]:
        out += [v >= -MAX_BALANCE, v <= MAX_BALANCE]
    for v in [*w.layers.values(), *w.fund.values()]:
        out += [v >= 0, v <= MAX_BALANCE]
    return out


def accepted(w: Work) -> list[Any]:
    """The model applies the step only if every balance it writes stays within R-UNIT-3's
    bounds (else it refuses with E-BOUND and nothing changes): the post-state's balances,
    open notionals and every transferred amount are within MAX_BALANCE."""
    out = []
    for v in [*w.c, *w.o, *(e.amount for e in w.events)]:
        out += [v >= -MAX_BALANCE, v <= MAX_BALANCE]
    for v in [*w.layers.values(), *w.fund.values(), w.bad_debt]:
        out.append(v <= MAX_BALANCE)
    return out


# ---- allocation (R-ALLOC-1..3) -------------------------------------------------------------

def quotient(w: Work, num: Any, den: Any, up: bool) -> Any:
    """floor (or ceil) of num / den for den > 0, 0 when den <= 0: a named unknown q with
    q*den <= num < (q+1)*den (encoding 'named') or Z3's integer division ('div')."""
    if w.encoding == "div":
        return ite(den <= 0, 0, ceil_div(num, den) if up else floor_div(num, den))
    q = w.fresh("q")
    if up:
        w.defs.append(z3.If(den <= 0, q == 0, z3.And(q * den >= num, q * den < num + den)))
    else:
        w.defs.append(z3.If(den <= 0, q == 0, z3.And(q * den <= num, q * den > num - den)))
    return q


def allocate(w: Work, total: Any, weights: list[Any], rounding: str) -> list[Any]:
    """R-ALLOC-1..3 over terms: floor, ceil, or floor plus one unit to the largest
    remainders (ties to the lower index = smaller id), by the cut-off formulation."""
    wsum = sum_(weights)
    if w.encoding == "lemmas":
        return allocate_by_lemmas(w, total, weights, wsum, rounding)
    floors = [quotient(w, total * x, wsum, up=rounding == "ceil") for x in weights]
    if rounding in ("floor", "ceil"):
        return floors
    rems = [total * x - q * wsum for q, x in zip(floors, weights)]
    extra = total - sum_(floors)
    cut, tie = w.fresh("cut"), w.fresh("tie")
    bonus = [ite(r > cut, 1, ite(z3.And(r == cut, i < tie), 1, 0)) for i, r in enumerate(rems)]
    w.defs.append(sum_(bonus) == extra)
    return [q + b for q, b in zip(floors, bonus)]


def allocate_by_lemmas(w: Work, total: Any, weights: list[Any], wsum: Any, rounding: str) -> list[Any]:
    """R-ALLOC-1..3 abstracted by the facts proved for all N (proofs/alln.py): shares are
    >= 0, 0 for weight 0 or W = 0, at most the weight when total <= W (P-BOUND-*), their sum
    within the rounding's band (P-FLOOR-SUM, P-LR-SUM, P-CEIL-SUM), and, for I-PROP only,
    each within one unit of the exact share (P-PROP-*: share*W - total*w in (-W, W))."""
    n = len(weights)
    shares = [w.fresh("share") for _ in weights]
    s = sum_(shares)
    band = {"floor": z3.And(s <= total, s > total - n), "ceil": z3.And(s >= total, s < total + n),
            "largest_remainder": s == total}[rounding]
    w.defs.append(z3.If(z3.Or(wsum <= 0, total <= 0), z3.And([x == 0 for x in shares]), band))
    for x, wt in zip(shares, weights):
        w.defs += [x >= 0, z3.Implies(wt <= 0, x == 0), z3.Implies(total <= wsum, x <= wt)]
        if w.proportional:
            w.defs.append(z3.Implies(wsum > 0, z3.And(x * wsum - total * wt > -wsum, x * wsum - total * wt < wsum)))
    return shares


# ---- the step -----------------------------------------------------------------------------

def liquidate(w0: Work, mech: Mechanism, fill: Any) -> tuple[Liquidate, Work]:
    """R-LIQ-2 over terms: the operation and the working copy after it (events, defs)."""
    w = w0.copy()
    adl = isinstance(mech.final, Adl)
    capped = any(s.kind == "assessment" for s in mech.layers) or (
        isinstance(mech.final, Haircut) and mech.final.cap_ppm < PPM)
    if capped and w.encoding != "lemmas":
        raise Unsupported("capped water-filling (assessments, capped haircuts) is encoded only by its lemmas")
    ids = w.ids
    if adl:
        op = Liquidate(ids[0], None, {}, "0")
        deleverage(w, mech.final)  # type: ignore[arg-type]
    else:
        op = Liquidate(ids[0], ids[1], {MARKET: fill}, "0")
        close_to(w, fill)
    rest = settle(w, w0, mech, socialise=not adl)
    w.pay("R-WF-5", "bad_debt", acct(ids[0]), rest, "bad_debt")
    return op, w


def close_to(w: Work, fill: Any) -> None:
    """R-LIQ-3: a01 takes a00's whole position at the fill price."""
    size = w.s[0]
    w.move(1, size, size * fill)
    w.move(0, -size, -size * fill)
    lots = w.by_side(size, -size)
    w.events.append(Event("R-LIQ-3", "trade", acct(w.ids[0]), acct(w.ids[1]), lots * fill, "close",
                          MARKET, lots, fill))


def settle(w: Work, w0: Work, mech: Mechanism, *, socialise: bool) -> Any:
    """R-WF-1: surplus rule or deficit through the layers and the final resort; returns
    the uncovered rest (>= 0)."""
    eq = w.equity(0)
    surplus_key = sink_key(mech, mech.liquidation.surplus_sink, [MARKET], [MARKET])
    w.pay("R-LIQ-5", acct(w.ids[0]), layer(surplus_key), ite(eq >= 0, surplus(w0, mech, eq), 0), "surplus")
    rest = ite(eq < 0, -eq, 0)
    for spec in mech.layers:
        rest = rest - DRAW[spec.kind](w, spec, rest)
    if socialise and isinstance(mech.final, Haircut):
        rest = haircut(w, mech, rest, surplus_key)
    elif socialise and isinstance(mech.final, Levy):
        rest = levy(w, mech, rest, surplus_key)
    elif not isinstance(mech.final, (Haircut, Levy, Adl, BadDebtOnly)):
        raise Unsupported(f"final resort {type(mech.final).__name__}")
    return rest


def surplus(w0: Work, mech: Mechanism, eq: Any) -> Any:
    """R-LIQ-5: what a liquidation with equity eq >= 0 left pays its sink."""
    rule = mech.liquidation
    if rule.surplus == "all":
        return eq
    if rule.surplus == "fee":
        size = w0.s[0]
        return min_(eq, floor_div(w0.by_side(size, -size) * w0.mark * rule.fee_ppm, PPM))
    return 0


def draw_balance(w: Work, spec: LayerSpec, deficit: Any) -> Any:
    """R-WF-3: min(deficit, balance - reserve, cap)."""
    key = f"{spec.name}:{MARKET}" if spec.scope == "market" else spec.name
    room = max_(0, w.layers.get(key, 0) - spec.reserve)
    if spec.cap_per_event:
        room = min_(room, spec.cap_per_event)
    amount = min_(deficit, room)
    w.pay("R-WF-3", layer(key), acct(w.ids[0]), amount, spec.name)
    return amount


def draw_defaulter(w: Work, spec: LayerSpec, deficit: Any) -> Any:
    """R-CH-1: the defaulter's own contribution."""
    amount = min_(deficit, w.fund.get(w.ids[0], 0))
    w.pay("R-CH-1", "default_fund:" + w.ids[0], acct(w.ids[0]), amount, spec.name)
    return amount


def draw_default_fund(w: Work, spec: LayerSpec, deficit: Any) -> Any:
    """R-CH-2: the others' contributions pro rata, clipped to the deficit in id order."""
    members = w.ids[1:]
    left = [w.fund[m] for m in members]
    amount = min_(deficit, sum_(left))
    shares, limit = [], amount
    for share in allocate(w, amount, left, spec.rounding):
        shares.append(min_(share, limit))
        limit = limit - shares[-1]
    for m, share in zip(members, shares):
        w.pay("R-CH-2", "default_fund:" + m, acct(w.ids[0]), share, spec.name)
    return sum_(shares)


def draw_assessment(w: Work, spec: LayerSpec, deficit: Any) -> Any:
    """R-CH-3: members with a contribution are assessed pro rata to it, each capped at
    multiple x contribution and at its equity, clipped to the deficit in id order."""
    members = list(range(1, w.n))
    contrib = [w.fund0[w.ids[i]] for i in members]  # original contributions (model: tx.base)
    caps = [min_(floor_div(c * spec.assessment_multiple_ppm, PPM), max_(0, w.equity(i))) for c, i in zip(contrib, members)]
    shares, limit = [], deficit
    for share in water_fill(w, deficit, contrib, caps, spec.rounding):
        shares.append(min_(share, limit))
        limit = limit - shares[-1]
    for i, share in zip(members, shares):
        w.pay("R-CH-3", acct(w.ids[i]), acct(w.ids[0]), share, spec.name)
    return sum_(shares)


DRAW = {"balance": draw_balance, "defaulter_contribution": draw_defaulter, "default_fund": draw_default_fund,
        "assessment": draw_assessment}


def water_fill(w: Work, total: Any, weights: list[Any], caps: list[Any], rounding: str) -> list[Any]:
    """R-ALLOC-4 by its lemmas only (P-BOUND-CAP-ALLN and the sum bands): 0 <= share <= cap,
    0 for weight 0; largest remainder sums to min(total, sum of caps), floor to at most
    that and more than it less n, ceil to at most total + n - 1."""
    n, shares = len(weights), [w.fresh("capped") for _ in weights]
    s, cap_sum = sum_(shares), sum_(ite(x > 0, c, 0) for x, c in zip(weights, caps))
    reach = min_(total, cap_sum)
    band = {"largest_remainder": s == reach, "floor": z3.And(s <= reach, s > reach - n),
            "ceil": z3.And(s >= 0, s < total + n)}[rounding]
    w.defs.append(z3.If(total <= 0, z3.And([x == 0 for x in shares]), band))
    for x, wt, c in zip(shares, weights, caps):
        w.defs += [x >= 0, x <= max_(0, c), z3.Implies(wt <= 0, x == 0)]
    return shares


def haircut_weights(w: Work, policy: Haircut) -> list[Any]:
    """R-HC-1 for accounts a01..: profit over all markets or the bankrupt's (M0)."""
    out = []
    for i in range(1, w.n):
        total = w.upnl(i) + w.upnl_other(i)
        scoped = w.upnl(i) if policy.scope == "bankrupt_markets" else total
        eq = w.c[i] + total
        profit = eq - w.d[i] if policy.profit == "total_gain" else scoped
        eligible = profit > 0 if policy.eligibility != "net_profitable" else z3.And(profit > 0, total > 0)
        out.append(ite(eligible, max_(0, min_(profit, eq)), 0))
    return out


def haircut(w: Work, mech: Mechanism, rest: Any, surplus_key: str) -> Any:
    """R-HC-2..4: collect min(rest, W) pro rata; surplus (ceil) to the surplus sink; a
    rounding shortfall from the residue sink; returns what is still uncovered."""
    policy: Haircut = mech.final  # type: ignore[assignment]
    weights = haircut_weights(w, policy)
    if policy.cap_ppm < PPM:  # R-HC-2 with caps: water-fill min(rest, sum of caps)
        caps = [floor_div(x * policy.cap_ppm, PPM) for x in weights]
        target = min_(rest, sum_(caps))
        shares = water_fill(w, target, weights, caps, policy.rounding)
    else:
        target = min_(rest, sum_(weights))
        shares = allocate(w, target, weights, policy.rounding)
    w.allocation = (target, weights, shares)
    for i, share in enumerate(shares, start=1):
        w.pay("R-HC-2", acct(w.ids[i]), acct(w.ids[0]), share, "haircut")
    collected = sum_(shares)
    return after_collection(w, mech, policy.residue_sink, rest, collected, target - collected, surplus_key, "haircut")


def after_collection(w: Work, mech: Mechanism, sink: str, rest: Any, collected: Any, residue: Any,
                     surplus_key: str, stage: str) -> Any:
    """R-HC-3/4, R-LEVY-3: over-collection to the surplus sink, shortfall from the residue
    sink (as far as it can pay above its reserve)."""
    over = collected > rest
    rule = "R-HC-3" if stage == "haircut" else "R-LEVY-3"
    w.pay(rule, acct(w.ids[0]), layer(surplus_key), ite(over, collected - rest, 0), stage)
    left = ite(over, 0, rest - collected)
    if sink == "bad_debt":
        return left
    reserve = next((s.reserve for s in mech.layers if s.name == sink), 0)
    key = sink_key(mech, sink, [MARKET], [MARKET])
    paid = ite(z3.And(z3.Not(over), residue > 0), min_(residue, max_(0, w.layers.get(key, 0) - reserve)), 0)
    w.pay("R-HC-4", layer(key), acct(w.ids[0]), paid, "residue")
    return left - paid


def levy(w: Work, mech: Mechanism, rest: Any, surplus_key: str) -> Any:
    """R-LEVY-1..4: rate = round(rest * scale / OI); each other account pays
    round(|size| * rate / scale); zero OI charges nobody."""
    policy: Levy = mech.final  # type: ignore[assignment]
    lots = [ite(w.s[i] >= 0, w.s[i], -w.s[i]) for i in range(1, w.n)]
    oi = sum_(lots)
    rate = quotient(w, rest * policy.rate_scale, oi, up=policy.rate_rounding == "ceil")
    up = policy.payment_rounding == "ceil"
    pays = [ceil_div(x * rate, policy.rate_scale) if up else floor_div(x * rate, policy.rate_scale) for x in lots]
    for i, pay in enumerate(pays, start=1):
        w.pay("R-LEVY-2", acct(w.ids[i]), acct(w.ids[0]), pay, "levy")
    collected = sum_(pays)
    residue = ite(oi == 0, 0, rest - collected)  # zero OI: nothing collected, no residue (R-LEVY-4)
    return after_collection(w, mech, policy.residue_sink, rest, collected, residue, surplus_key, "levy")


def bankruptcy_price(w: Work, size: Any, eq: Any, rounding: str) -> Any:
    """R-ADL-2: mark - eq / size, rounded toward the bankrupt or the counterparty, >= 1."""
    toward = rounding == "toward_bankrupt"
    long_delta = (lambda: quotient(w, -eq, size, up=toward))      # size > 0  # noqa: E731
    short_delta = (lambda: quotient(w, eq, -size, up=not toward))  # size < 0  # noqa: E731
    if w.long is None:
        return max_(1, w.mark + ite(size > 0, long_delta(), short_delta()))
    return max_(1, w.mark + (long_delta() if w.long else short_delta()))


def deleverage(w: Work, policy: Adl) -> None:
    """R-ADL-1, R-ADL-6: close a00's position against the opposite side in index order,
    each min(remaining, own size), at the bankruptcy price while equity < 0 (else mark)."""
    size, mark, eq = w.s[0], w.mark, w.equity(0)
    price = mark
    if policy.close_price == "bankruptcy":
        price = ite(eq < 0, bankruptcy_price(w, size, eq, policy.bankruptcy_rounding), mark)
    signed = lambda x: w.by_side(-x, x)  # noqa: E731  side * x, side = -1 for a long bankrupt
    remaining = w.by_side(size, -size)
    start_eq = [w.equity(j) for j in range(w.n)]
    lots = 0
    for j in range(1, w.n):
        sj = w.s[j]
        opposite = w.by_side(sj < 0, sj > 0)
        q = min_(remaining, ite(sj >= 0, sj, -sj))
        take = opposite if not policy.skip_insolvent else z3.And(opposite, start_eq[j] + signed(q * (price - mark)) >= 0)
        q = ite(take, q, 0)
        w.move(j, -signed(q), -signed(q * price))
        w.events.append(Event("R-ADL-1", "trade", acct(w.ids[0]), acct(w.ids[j]), q * price, "adl", MARKET,
                              q, price))
        remaining = remaining - q
        lots = lots + q
    w.move(0, signed(lots), signed(lots * price))


# ---- ADL ranking (R-ADL-3/4a) -------------------------------------------------------------
# Only the 'profit' score (unrealised PnL in the market) is encoded; the ratio scores of
# BitMEX, Binance and Hyperliquid are products of three unknowns under a floor division.

RANKED = ("profit",)


def rank_assumptions(w0: Work) -> list[Any]:
    """Without loss of generality the opposite side is numbered in ranking order: an
    opposite account never scores below a later opposite one (ties go to the smaller id,
    which is the lower index). With it, index order is the ranking's order."""
    opp = [w0.by_side(x < 0, x > 0) for x in w0.s]
    return [z3.Implies(z3.And(opp[i], opp[j]), w0.upnl(i) >= w0.upnl(j))
            for i in range(1, w0.n) for j in range(i + 1, w0.n)]


def adl_ranked_by_profit(w0: Work, w: Work) -> Any:
    """I-ADL-RANK for the profit score on the symbolic step (see ranked_by_profit)."""
    filled = {e.dst.partition(":")[2]: e.size for e in w.events if e.rule == "R-ADL-1"}
    return ranked_by_profit([w0.upnl(i) for i in range(w0.n)], [w0.by_side(x < 0, x > 0) for x in w0.s],
                            [filled.get(a, 0) for a in w0.ids], w.s)


def ranked_by_profit(upnl: list[Any], opp: list[Any], filled: list[Any], left: list[Any]) -> Any:
    """I-ADL-RANK for the profit score, over ints or terms (a separate encoding of the
    registry's predicate, tied to it by tests/test_prove.py): no account (index >= 1) is
    deleveraged while an opposite account ranked above it (higher PnL, or equal PnL and
    smaller index) keeps size."""
    conds = []
    for j in range(1, len(upnl)):
        for i in range(1, len(upnl)):
            if i != j:
                above = any_([upnl[i] > upnl[j], all_([upnl[i] == upnl[j], i < j])])
                conds.append(implies(all_([filled[j] > 0, opp[i], above]), left[i] == 0))
    return all_(conds)
