"""Invariant registry (spec/invariants.md): each invariant once, with its ID.

A predicate takes (pre-state, operation, post-state, events, mechanism) and returns True
when the invariant holds for that step. Every checker evaluates the same predicate: the
stress scenarios and `waterfall run` on concrete steps, the fuzzer on random sequences, and
`waterfall prove` on `model.step` run over unknowns (proofs/prove/symexec.py), which is why the
predicates are written with the arithmetic facade of model/arith.py. Each invariant also
names its trigger (R-PROVE-4): the event that makes a step interesting for it (a haircut
moved, a later layer drawn, an ADL fill...); a proof counts only with a witness step where
the trigger fires.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from waterfall.model.arith import Cond, Num, all_, any_, implies, ite, max_, min_, not_, sum_
from waterfall.model.events import Event
from waterfall.model.mechanism import Adl, Haircut, LayerSpec, Levy, Mechanism
from waterfall.model.ops import AdvanceTime, Deposit, Liquidate, Op, Withdraw
from waterfall.model.state import State, equity, validate_state, value
from waterfall.model.units import PPM

from waterfall.spec.reference import fund_first, layers, prices, queue, ranking

Predicate = Callable[[State, Op, State, Sequence[Event], Mechanism], Cond]


@dataclass(frozen=True)
class Invariant:
    """ID, name, one-sentence statement, why users care, the predicate, and the trigger:
    when it fires on a step the predicate is exercised there, not satisfied vacuously."""

    id: str
    name: str
    statement: str
    why: str
    holds: Predicate
    trigger: Predicate
    trigger_text: str
    applies: Callable[[Mechanism], str] = lambda mech: ""  # why it does not apply ('' when it does)


def external_flow(op: Op, ev: Sequence[Event] = ()) -> Num:
    """Value that enters (deposit) or leaves (withdraw) the venue in one operation: what
    the deposit brings in, what the withdrawal's events pay out (a withdrawal haircut keeps
    its charge inside the venue, R-WH-2)."""
    if isinstance(op, Deposit):
        return op.amount
    if isinstance(op, Withdraw):
        return -sum_(e.amount for e in ev if e.dst == "external")
    return 0


def conservation(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-CONS: value(post) = value(pre) + external flow."""
    return value(post) == value(pre) + external_flow(op, ev)


def zero_sum(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ZERO: per market, sizes and open notionals (hence unrealised PnL) sum to zero."""
    def column(m: str, field: str) -> Num:
        return sum_(getattr(a.positions[m], field) for a in post.accounts.values() if m in a.positions)
    return all_(all_([column(m, "size") == 0, column(m, "open_notional") == 0]) for m in post.markets)


def fund_nonneg(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-FUND: every layer balance and contribution stays >= 0."""
    return all_([all_(v >= 0 for v in post.layers.values()), all_(v >= 0 for v in post.default_fund.values())])


def no_negative(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-NONNEG: a liquidation leaves no account other than the bankrupt and its chosen
    counterparty with negative equity if it had equity >= 0 before."""
    if not isinstance(op, Liquidate):
        return True
    spared = {op.account, op.counterparty, getattr(mech.final, "account", None)}  # R-POOL-1: the pool is the counterparty
    return all_(implies(equity(pre, pre.accounts[i]) >= 0, equity(post, a) >= 0)
                for i, a in post.accounts.items() if i not in spared)


def no_loss(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-NOLOSS: after a liquidation the bankrupt's equity is >= 0, what nobody covered
    being recorded as bad debt; bad debt never shrinks. R-ADL-11: under a mechanism that
    skips takers failing the collateral check, a liquidation may instead leave the account
    pending: still holding size, with nothing settled (no layer draw, surplus or write-off)."""
    if not isinstance(op, Liquidate):
        return post.bad_debt >= pre.bad_debt
    settled = equity(post, post.accounts[op.account]) >= 0
    if isinstance(mech.final, Adl) and mech.final.skip_insolvent:
        left = any_(p.size != 0 for p in post.accounts[op.account].positions.values())
        untouched = paid_by(ev, {"R-WF-3", "R-WF-5", "R-LIQ-5"}) == 0
        settled = any_([settled, all_([left, untouched])])
    if isinstance(mech.final, Levy) and mech.final.only_when_exhausted:  # R-LEVY-6
        room = [post.layers.get(k, 0) > s.reserve for s in mech.layers if s.kind == "balance" and s.pays
                for k in post.layers if k == s.name or k.startswith(s.name + ":")]
        settled = any_([settled, all_([any_(room), paid_by(ev, {"R-WF-5", "R-LEVY-2"}) == 0])])
    return all_([post.bad_debt >= pre.bad_debt, settled])


# ---- the waterfall's order and budget (events of one liquidation) -------------------------

DEFICIT_RULES = {"R-WF-3", "R-CH-1", "R-CH-2", "R-CH-3", "R-HC-2", "R-HC-4", "R-LEVY-2", "R-WF-5", "R-HC-7", "R-WH-4"}
SOCIALISE_RULES = {"R-HC-2", "R-LEVY-2", "R-WF-5", "R-HC-7"}


def paid_by(ev: Sequence[Event], rules: set[str], stage: str | None = None) -> Num:
    """Sum of the transfers of some rules (and one stage)."""
    return sum_(e.amount for e in ev if e.rule in rules and (stage is None or e.layer == stage))


def drawn_from(ev: Sequence[Event], src: str) -> Num:
    """What a layer paid towards the deficit (R-WF-3) in this liquidation."""
    return sum_(e.amount for e in ev if e.rule == "R-WF-3" and e.src == src)


def exhausted(pre: State, post: State, ev: Sequence[Event], mech: Mechanism, spec: LayerSpec, aid: str,
              markets: list[str]) -> Cond:
    """A layer has paid all it could in this liquidation (R-WF-3, R-CH-1/2): a balance layer
    drew, from each key of the bankrupt's markets, what R-WF-3 allows it on the pre-state
    (reserve, drawdown rule R-WF-8, lifetime cap R-WF-9, isolated keys R-WF-10: the reference
    plan, spec/reference/layers.py), or reached its per-event cap. Assessments are not
    checked (their caps depend on equities mid-waterfall). `markets` are the bankrupt's
    markets (R-WF-7), or the one market of a per-market pass (R-WF-15, `pre` then the
    balances that pass starts from)."""
    if spec.kind == "balance":  # a later surplus may refill it, so the draws are counted
        capped = paid_by(ev, {"R-WF-3"}, spec.name) == spec.cap_per_event if spec.cap_per_event else False
        allowed = layers.plan(pre, spec, layers.UNBOUNDED, markets)
        return any_([capped, all_(drawn_from(ev, "layer:" + k) >= can for k, can in allowed)])
    if spec.kind == "defaulter_contribution":
        return post.default_fund.get(aid, 0) == 0
    if spec.kind == "default_fund":  # R-CH-5: with the balance that pays alongside it
        tranche = [post.layers.get(spec.alongside, 0) == 0] if spec.alongside else []
        return all_([c == 0 for m, c in post.default_fund.items() if m != aid] + tranche)
    return True


def moved(ev: Sequence[Event], rules: set[str], stages: set[str] | None = None) -> Cond:
    """Some transfer of these rules (and stages) moved a positive amount. The model never
    records a zero transfer, so on concrete events this is 'such an event exists'; asking the
    amount keeps it one condition when `waterfall prove` runs the model over unknowns."""
    return any_(e.amount > 0 for e in ev if e.rule in rules and (stages is None or e.layer in stages))


def layer_order(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ORDER: a layer is drawn only when every earlier layer is exhausted, and the final
    resort (haircut, levy, bad debt) only when every layer is. ADL fills count as
    socialisation where the rules let the layers act first: with a counterparty named and
    no fund-first split (R-LIQ-2), an ADL fill only when the balance layers could not pay
    the deficit the counterparty's fill leaves (the fund-first split is I-ADL-FUND). A layer that pays no deficit
    (R-WF-11) is never drawn. R-WF-15: with layers per market, each market's pass on its
    own: its transfers (those carrying the market) against the balances the earlier
    markets' passes left."""
    if not isinstance(op, Liquidate):
        return True
    passes = market_passes(pre, op, mech)
    if passes:
        return all_([seniority(layers.pass_state(pre, earlier_moves(ev, passes, m)), post, of_market(ev, m), mech,
                               op.account, [m]) for m in passes])
    conds = [seniority(pre, post, ev, mech, op.account, sorted(pre.accounts[op.account].positions))]
    if isinstance(mech.final, Adl) and not mech.final.fund_first and op.counterparty is not None \
            and all(spec.kind == "balance" for spec in mech.layers):
        scope = sorted(pre.accounts[op.account].positions)
        conds.append(implies(adl_filled(pre, op, post, ev, mech),
                             layers.capacity(pre, mech, scope) < fill_deficit(pre, op)))
    return all_(conds)


def market_passes(pre: State, op: Op, mech: Mechanism) -> list[str]:
    """R-WF-15: the markets a liquidation resolves one at a time (the bankrupt's, R-WF-7, id
    order); [] when the rule does not apply."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Levy) or not mech.final.layers_per_market:
        return []
    return sorted(pre.accounts[op.account].positions)


def of_market(ev: Sequence[Event], market: str) -> list[Event]:
    """R-WF-15: the transfers of one market's pass (R-EVT-1: they carry its market)."""
    return [e for e in ev if e.kind == "transfer" and e.market == market]


def earlier_moves(ev: Sequence[Event], passes: list[str], market: str) -> list[tuple[str, str, Num]]:
    """R-WF-15: (src, dst, amount) of the transfers of the passes before `market`'s."""
    before = set(passes[:passes.index(market)])
    return [(e.src, e.dst, e.amount) for e in ev if e.kind == "transfer" and e.market in before]


def seniority(pre: State, post: State, ev: Sequence[Event], mech: Mechanism, aid: str, markets: list[str]) -> Cond:
    """I-ORDER's layer part over one set of transfers: a layer drawn later, or the final
    resort, implies every earlier layer exhausted for `markets` on the balances of `pre`."""
    conds = []
    for k, spec in enumerate(mech.layers):
        if not spec.pays:  # R-WF-11: a layer that only receives never falls in a liquidation
            if spec.name not in {s.alongside for s in mech.layers}:  # (R-CH-5: paid in the fund's split)
                conds += [post.layers.get(k, 0) >= v for k, v in pre.layers.items()
                          if k == spec.name or k.startswith(spec.name + ":")]
            continue
        later = {s.name for s in mech.layers[k + 1:]}
        if not any(e.rule in SOCIALISE_RULES or (e.rule in DEFICIT_RULES and e.layer in later) for e in ev):
            continue  # nothing later was drawn (the model records no zero transfer)
        drawn_later = any_([moved(ev, DEFICIT_RULES - SOCIALISE_RULES, later), moved(ev, SOCIALISE_RULES)])
        conds.append(implies(drawn_later, exhausted(pre, post, ev, mech, spec, aid, markets)))
    return all_(conds)


def fill_deficit(pre: State, op: Liquidate) -> Num:
    """R-LIQ-2: the deficit the bankrupt has after selling every open position to the named
    counterparty at its fill price (default: mark): minus its equity after those trades."""
    a = pre.accounts[op.account]
    moves = sum_(p.size * (op.fill_prices.get(m, pre.markets[m].mark) - pre.markets[m].mark)
                 for m, p in a.positions.items())
    return -(equity(pre, a) + moves)


def budget(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-BUDGET: when a deficit is covered (by layers, accounts or bad debt), the bankrupt
    ends at exactly zero: the waterfall takes exactly the deficit, no more, no less. R-WF-15:
    with layers per market, each market's pass takes exactly that market's part of the
    deficit (split as spec/reference/layers.py `split` says)."""
    if not isinstance(op, Liquidate):
        return True
    whole = implies(moved(ev, DEFICIT_RULES), equity(post, post.accounts[op.account]) == 0)
    passes = market_passes(pre, op, mech)
    if not passes or mech.final.only_when_exhausted:  # type: ignore[union-attr]
        return whole
    parts = layers.split(max_(0, fill_deficit(pre, op)), [market_loss(pre, op, m) for m in passes], passes)
    return all_([whole] + [implies(moved(ev, DEFICIT_RULES), market_cover(of_market(ev, m), op.account) == part)
                           for m, part in zip(passes, parts)])


def market_loss(pre: State, op: Liquidate, market: str) -> Num:
    """R-WF-15 / R-LEVY-7: the bankrupt's loss in a market once closed at its fill price
    (default mark): max(0, open notional - size x fill)."""
    p = pre.accounts[op.account].positions[market]
    return max_(0, p.open_notional - p.size * op.fill_prices.get(market, pre.markets[market].mark))


def market_cover(ev: Sequence[Event], aid: str) -> Num:
    """R-WF-15: what one market's pass brought the bankrupt: its deficit transfers in, less
    an over-collection paid out (R-LEVY-3)."""
    me = "account:" + aid
    return sum_(e.amount for e in ev if e.rule in DEFICIT_RULES and e.dst == me) - \
        sum_(e.amount for e in ev if e.rule == "R-LEVY-3" and e.src == me)


# ---- haircuts -----------------------------------------------------------------------------

def haircuts(ev: Sequence[Event]) -> dict[str, Num]:
    """What each account paid in haircuts (R-HC-2), by account id."""
    out: dict[str, Num] = {}
    for e in ev:
        if e.rule == "R-HC-2":
            aid = e.src.partition(":")[2]
            out[aid] = out.get(aid, 0) + e.amount
    return out


def base_of(post: State, policy: Haircut, aid: str, bankrupt_markets: set[str], paid: Num) -> Num:
    """R-HC-1 as the spec states it, on the state just before the haircut (the haircut only
    moved `paid` out of collateral): max(0, min(profit, equity)), eligibility applied;
    window gains count from the window's base (R-HC-6); exempt accounts have none (R-HC-8)."""
    if aid in policy.exempt:
        return 0
    a = post.accounts[aid]
    upnls = {m: p.size * post.markets[m].mark - p.open_notional for m, p in a.positions.items()}
    total = sum_(upnls.values())
    eq = a.collateral + paid + total
    if policy.profit == "total_gain":
        profit = eq - a.net_deposit
    elif policy.profit == "window_gain":
        profit = eq - a.net_deposit - post.window_base.get(aid, 0)
    elif policy.scope == "bankrupt_markets":
        profit = sum_(u for m, u in upnls.items() if m in bankrupt_markets)
    else:
        profit = total
    w = max_(0, min_(profit, eq))
    return ite(total > 0, w, 0) if policy.eligibility == "net_profitable" else w


def haircut_view(pre: State, op: Liquidate, post: State, ev: Sequence[Event], policy: Haircut
                 ) -> tuple[dict[str, Num], dict[str, Num]]:
    """(paid, base) for every account other than the bankrupt."""
    paid = haircuts(ev)
    scope = set(pre.accounts[op.account].positions)  # R-WF-7
    base = {i: base_of(post, policy, i, scope, paid.get(i, 0)) for i in post.accounts if i != op.account}
    return paid, base


def settlement_views(pre: State, post: State, ev: Sequence[Event], policy: Haircut
                     ) -> list[tuple[dict[str, Num], dict[str, Num], Num]]:
    """R-HC-7's haircut at a settlement, one view per market with a deferred loss L: (paid,
    base, target) where paid is what each account paid to that market's deferred record, its
    base w is R-HC-1's on that market alone with no bankrupt excluded, and the target is
    R = min(L, W)."""
    markets = sorted(pre.deferred)
    paid_in: dict[str, dict[str, Num]] = {m: {} for m in markets}
    for e in ev:
        m = e.dst.partition(":")[2]
        if e.rule == "R-HC-2" and e.dst.startswith("deferred:") and m in paid_in:
            aid = e.src.partition(":")[2]
            paid_in[m][aid] = paid_in[m].get(aid, 0) + e.amount
    out = []
    for j, m in enumerate(markets):  # markets settle in id order: market m's haircut saw every later one unpaid
        restore = {i: sum_(paid_in[n].get(i, 0) for n in markets[j:]) for i in post.accounts}
        base = {i: base_of(post, policy, i, {m}, restore[i]) for i in post.accounts}
        out.append((paid_in[m], base, min_(pre.deferred[m], sum_(base.values()))))
    return out


def bounded_haircut(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-BOUND: no account pays more haircut than its base; accounts outside it pay none
    (at a liquidation, and at a settlement's haircut, R-HC-7)."""
    if not isinstance(mech.final, Haircut):
        return True
    if isinstance(op, AdvanceTime):
        return all_(all_(paid.get(i, 0) <= w for i, w in base.items())
                    for paid, base, _ in settlement_views(pre, post, ev, mech.final))
    if not isinstance(op, Liquidate):
        return True
    paid, base = haircut_view(pre, op, post, ev, mech.final)
    return all_(paid.get(i, 0) <= w for i, w in base.items())


def prop_terms(pre: State, op: Liquidate, post: State, ev: Sequence[Event], policy: Haircut
               ) -> tuple[dict[str, Num], dict[str, Num], Num]:
    """I-PROP's quantities: what each account paid, its base w, and the target R =
    min(theta x deficit left when the haircut began, W): with severity theta < 1 (R-HC-9)
    the part not socialised is written off and is no part of what is split pro rata."""
    paid, base = haircut_view(pre, op, post, ev, policy)
    # deficit when the haircut began: what the haircut stage and the write-off brought in,
    # less what it sent on as surplus (R-HC-3), given the bankrupt ends at exactly 0
    left = (paid_by(ev, {"R-HC-2", "R-HC-4", "R-WF-5"}) - paid_by(ev, {"R-HC-3"})
            - equity(post, post.accounts[op.account]))
    if policy.severity_ppm < PPM:  # R-HC-9: only floor(D x theta) is socialised
        left = left * policy.severity_ppm // PPM
    return paid, base, min_(left, sum_(base.values()))


def proportional(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-PROP: each haircut is within one unit of the exact pro-rata share R * w / W of its
    base, R being what the haircut stage had to collect, min(deficit left, W)."""
    if not isinstance(mech.final, Haircut):
        return True
    if isinstance(op, AdvanceTime):  # R-HC-7: each market's settlement haircut on its own
        return all_(implies(moved([e for e in ev if e.dst == "deferred:" + m], {"R-HC-2"}), pro_rata(*view))
                    for m, view in zip(sorted(pre.deferred), settlement_views(pre, post, ev, mech.final)))
    if not isinstance(op, Liquidate):
        return True
    return implies(moved(ev, {"R-HC-2"}), pro_rata(*prop_terms(pre, op, post, ev, mech.final)))


def pro_rata(paid: dict[str, Num], base: dict[str, Num], target: Num) -> Cond:
    """I-PROP's test: every payment within one unit of target * w / W (cross-multiplied)."""
    wsum = sum_(base.values())
    gaps = [paid.get(i, 0) * wsum - target * w for i, w in base.items()]  # (paid - exact share) * W
    return all_(all_([-wsum < g, g < wsum]) for g in gaps)


def residue_sinks(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-RESIDUE: every rounding residue lands in its declared sink: shortfalls are paid
    only by the residue sink (R-HC-4), surpluses go only to the surplus sink (R-HC-3,
    R-LEVY-3), and nothing else is left over (I-BUDGET)."""
    if not isinstance(op, Liquidate):
        return True
    markets = sorted(pre.accounts[op.account].positions)  # R-WF-7
    residue = getattr(mech.final, "residue_sink", "bad_debt")
    def key(sink: str) -> str:
        return "layer:" + layers.sink_key(mech, sink, markets, pre.markets)
    ok = [e.src == key(residue) for e in ev if e.rule == "R-HC-4"]
    ok += [e.dst == key(mech.liquidation.surplus_sink) for e in ev if e.rule in ("R-HC-3", "R-LEVY-3")]
    return all(ok)


# ---- ADL ----------------------------------------------------------------------------------

def adl_trades(ev: Sequence[Event], bankrupt: str) -> list[tuple[str, str, int]]:
    """(market, counterparty, lots) of each ADL fill, in order."""
    me = "account:" + bankrupt
    return [(e.market, (e.dst if e.src == me else e.src).partition(":")[2], e.size) for e in ev if e.rule == "R-ADL-1"]


def opposite(a: Num, b: Num) -> Cond:
    """a and b have strictly opposite signs (a * b < 0, written without the product)."""
    return any_([all_([a > 0, b < 0]), all_([a < 0, b > 0])])


def adl_bounded(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ADL-BOUND: per market the lots deleveraged plus those sold to the counterparty
    (R-ADL-7) equal what the bankrupt lost of its position (no overshoot); nobody is closed
    beyond its own position, flipped or increased; only the opposite side is touched."""
    if not isinstance(op, Liquidate):
        return True
    conds = []
    aid = op.account
    for m, p in pre.accounts[aid].positions.items():
        fills = [(j, q) for mk, j, q in adl_trades(ev, aid) if mk == m]
        if not fills:
            continue
        after = post.accounts[aid].positions.get(m)
        booked = sum_(e.size for e in ev if e.rule == "R-LIQ-3" and e.market == m)
        conds.append(sum_(q for _, q in fills) + booked == abs(p.size) - abs(after.size if after else 0))
        for j, q in fills:  # (q > 0 always on the model's events; the symbolic step's may be 0)
            pos = pre.accounts[j].positions.get(m)
            before = pos.size if pos else 0
            now = post.accounts[j].positions[m].size if m in post.accounts[j].positions else 0
            conds.append(implies(q > 0, all_([opposite(before, p.size), q <= abs(before),
                                              not_(opposite(before, now)), abs(now) <= abs(before)])))
    return all_(conds)


def adl_ranked(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ADL-RANK: no account is deleveraged while an opposite account ranked above it keeps
    size it could have given. The rank is the reference one (spec/reference/ranking.py:
    R-ADL-3/4 scores on the pre-state, R-ADL-5 cyclic order), never the model's; the
    counterparty of a fund-first split is not in the queue (R-ADL-7), an account
    deleveraged from outside the queue breaks it, and with skip_insolvent (R-ADL-6) an
    account ranked above may keep size (its fill would have failed the collateral check)."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Adl):
        return True
    policy = mech.final
    book = op.counterparty if policy.fund_first else None  # R-ADL-7: not deleveraged
    conds = []
    for m in sorted({mk for mk, _, _ in adl_trades(ev, op.account)}):
        bust = pre.accounts[op.account].positions[m].size
        queue_ids = [i for i, a in pre.accounts.items() if i not in (op.account, book) and m in a.positions]
        side = -1 if bust > 0 else 1
        cyclic = [i for i in ranking.cyclic(ranking.holders(pre, m, side, op.account), op.seed, m, op.account)
                  if i != book] if policy.ranking == "cyclic" else None
        scores = {i: ranking.SCORES[policy.ranking](pre, pre.accounts[i], m) for i in queue_ids} if cyclic is None else {}
        for _, j, q in [t for t in adl_trades(ev, op.account) if t[0] == m]:
            if j not in queue_ids:  # deleveraged from outside the queue
                conds.append(implies(q > 0, False))
                continue
            for i in queue_ids:
                if i == j:
                    continue
                if cyclic is not None:
                    first = i in cyclic and j in cyclic and cyclic.index(i) < cyclic.index(j)
                else:
                    first = ranking.above(scores[i], scores[j], i, j)
                left = post.accounts[i].positions[m].size if m in post.accounts[i].positions else 0
                conds.append(implies(all_([q > 0, opposite(pre.accounts[i].positions[m].size, bust), first]),
                                     any_([left == 0, policy.skip_insolvent])))
    return all_(conds)


# ---- rules that decide who pays (issue 18): claims from spec/reference/ ------------------

def exempt_of(mech: Mechanism) -> tuple[str, ...]:
    """R-HC-8 / R-LEVY-5: the accounts a haircut or a levy lists as exempt."""
    return tuple(mech.final.exempt) if isinstance(mech.final, (Haircut, Levy)) else ()


def exempt_spared(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-EXEMPT (R-LEVY-5, R-HC-8): an account listed in `exempt` pays no levy and no haircut."""
    spared = {"account:" + i for i in exempt_of(mech)}
    return not_(any_(e.amount > 0 for e in ev if e.rule in ("R-LEVY-2", "R-HC-2") and e.src in spared))


def queue_exact(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-QUEUE (R-HC-9): a haircut queue collects exactly R = min(floor(D * severity_ppm /
    10^6), sum of bases), D the deficit left when the haircut began, each account
    min(what is left of R, its base) in the order of the bases, largest first (ties to the
    smaller id): spec/reference/queue.py on the bases of R-HC-1."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Haircut) or mech.final.order != "queue":
        return True
    if mech.final.timing == "settlement":  # R-HC-7: the loss is deferred, not haircut here
        return True
    paid, base = haircut_view(pre, op, post, ev, mech.final)
    shares = queue.queue_shares(queue.socialised(deficit_at_haircut(pre, op, ev), mech.final.severity_ppm, base), base)
    return all_(paid.get(i, 0) == shares[i] for i in base)


def deficit_at_haircut(pre: State, op: Liquidate, ev: Sequence[Event]) -> Num:
    """R-WF-1: the deficit the final resort starts from, without reading what it collected:
    minus the bankrupt's equity on the pre-state, moved by its closing trades (R-LIQ-3: what
    each sold or bought at its price against the mark) and by what the layers paid it."""
    me = "account:" + op.account
    eq = equity(pre, pre.accounts[op.account])
    for e in ev:
        if e.rule == "R-LIQ-3" and me in (e.src, e.dst):
            gain = e.amount - e.size * pre.markets[e.market].mark
            eq = eq + (gain if e.src == me else -gain)
    return -(eq + paid_by(ev, {"R-WF-3", "R-CH-1", "R-CH-2", "R-CH-3"}))


def fund_first_split(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ADL-FUND (R-ADL-7): with a counterparty named, a fund-first mechanism sells it
    every lot when its fill leaves no deficit, else exactly the lots the reference split
    (spec/reference/fund_first.py: budget of the balance layers, costs against the planned
    prices, takeover cap) sends it: ADL takes only what the fund could not pay."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Adl) or not mech.final.fund_first:
        return True
    if op.counterparty is None or mech.liquidation.step_ppm:  # R-LIQ-6 steps are not split
        return True
    markets = prices.open_markets(pre, op.account)
    scope = sorted(pre.accounts[op.account].positions)
    booked = {m: sum_(e.size for e in ev if e.rule == "R-LIQ-3" and e.market == m) for m in markets}
    if not markets:
        return True
    if fill_deficit(pre, op) <= 0:  # the fill leaves no deficit: every lot goes to the counterparty
        return all_(booked[m] == fund_first.lots(pre.accounts[op.account].positions[m].size) for m in markets)
    want = fund_first.book_lots(pre, mech, op, markets, scope)
    return all_(booked[m] == want[m] for m in markets)


def adl_priced(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-ADL-PRICE (R-ADL-2, R-ADL-9, R-ADL-10): every deleveraging fill is at the price the
    rules choose (spec/reference/prices.py): mark, the previous mark, or the bankruptcy price
    while the bankrupt's equity is below 0 (for 'mark_or_bankruptcy' only when the balance
    layers cannot pay its deficit at mark); fund first (R-ADL-7) the planned prices.
    Pricing 'per_fill' (R-ADL-8) is not covered."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Adl) or mech.final.pricing != "uniform":
        return True
    fills = [e for e in ev if e.rule == "R-ADL-1"]
    if not fills:
        return True
    markets = prices.open_markets(pre, op.account)
    scope = sorted(pre.accounts[op.account].positions)
    lots = {m: sum_(e.size for e in fills if e.market == m) for m in markets}
    want = prices.adl_prices(pre, mech, op.account, scope, markets, lots)
    return all_(implies(e.size > 0, e.price == want[e.market]) if e.market in want else False for e in fills)


def balance_specs(mech: Mechanism, key: str) -> list[LayerSpec]:
    """The balance layers whose keys include `key` (NAME or NAME:MARKET)."""
    name = key.partition(":")[0]
    return [s for s in mech.layers if s.kind == "balance" and s.name == name]


def reserve_kept(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-RESERVE (R-WF-3, R-HC-4): a balance layer's reserve is never drawn: each of its keys
    ends at least at min(its balance before, the reserve)."""
    conds = []
    for spec in mech.layers:
        if spec.kind == "balance" and spec.reserve:
            conds += [v >= min_(pre.layers.get(k, 0), spec.reserve) for k, v in layers.balances(post.layers, spec).items()]
    return all_(conds)


def lifetime_accumulated(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-LIFETIME (R-WF-9): a lifetime-capped layer pays in a liquidation at most what its
    allowance for the bankrupt's first market has left, and that market's record grows by
    exactly what it paid; no other record moves. R-WF-15: with layers per market, each of the
    bankrupt's markets: what the layer paid in that market's pass is at most that market's
    allowance left, and its record grows by exactly that."""
    conds = []
    for spec in mech.layers:
        if spec.kind != "balance" or not spec.lifetime_cap:
            continue
        records = {k for k in [*pre.layer_paid, *post.layer_paid] if k.startswith(spec.name + ":")}
        drawn: dict[str, Num] = {}
        passes = market_passes(pre, op, mech)
        if passes:
            for m in passes:
                key = layers.lifetime_key(spec, [m])
                drawn[key] = paid_by(of_market(ev, m), {"R-WF-3"}, spec.name)
                conds.append(drawn[key] <= layers.lifetime_left(pre, spec, [m]))
        elif isinstance(op, Liquidate):
            scope = sorted(pre.accounts[op.account].positions)
            key = layers.lifetime_key(spec, scope)
            drawn[key] = paid_by(ev, {"R-WF-3"}, spec.name)
            conds.append(drawn[key] <= layers.lifetime_left(pre, spec, scope))
        records |= set(drawn)
        conds += [post.layer_paid.get(k, 0) == pre.layer_paid.get(k, 0) + drawn.get(k, 0) for k in sorted(records)]
    return all_(conds)


def drawdown_kept(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-DRAWDOWN (R-WF-8, R-WF-8b, R-TIME-3, R-WF-14): a key of a layer with a drawdown rule
    pays in a liquidation at most what the rule leaves it on the pre-state (its peak over the
    window, mode 'cap'; the reserve in mode 'trigger'; per market for a shared pool), and
    after every operation its kept history gives the peak that every point recorded gives
    (dropping points loses no peak); a shared pool's market records move as R-WF-14 says."""
    conds = []
    for spec in mech.layers:
        if spec.kind != "balance" or not spec.drawdown_ppm:
            continue
        conds += [layers.same_peak(pre, post, k, spec.drawdown_window) for k in layers.balances(post.layers, spec)]
        if isinstance(op, Liquidate):  # the keys that paid (the model records no zero transfer)
            scope = sorted(pre.accounts[op.account].positions)
            keys = layers.keys(spec, scope)
            paid = [k for k in keys if any(e.rule == "R-WF-3" and e.src == "layer:" + k for e in ev)]
            conds += [drawn_from(ev, "layer:" + k) <= layers.room(pre, spec, k, markets=scope) for k in paid]
            if spec.drawdown_by == "market":
                conds.append(market_record_moved(pre, post, spec, scope))
    return all_(conds)


def market_record_moved(pre: State, post: State, spec: LayerSpec, scope: list[str]) -> Cond:
    """I-DRAWDOWN (R-WF-14): in a liquidation the shared key's change is the bankrupt's first
    shared market's PnL change: that market's drawdown becomes max(0, drawdown - change), and
    no other market's record moves."""
    market = layers.pool_market(spec, scope)
    conds = []
    for m in sorted(pre.markets):
        before = layers.record_peak(pre, spec, m)
        if m == market:
            change = post.layers.get(spec.name, 0) - pre.layers.get(spec.name, 0)
            conds.append(layers.record_peak(post, spec, m) == max_(0, before - change))
        else:
            conds.append(layers.record_peak(post, spec, m) == before)
    return all_(conds)


def valid_after(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-VALID: an operation that applies maps a valid state (R-STATE-5) to a valid state,
    so every state invariant R-STATE-5 states (zero-sum markets, layers, contributions and
    bad debt >= 0, the R-UNIT-3 bounds) holds after any sequence of operations."""
    from waterfall.model.errors import WaterfallError
    try:
        validate_state(post)
    except WaterfallError:
        return False
    return True


def well_formed(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-EVENTS (R-EVT-1): every transfer moves a positive amount between two different
    endpoints, and every trade a positive size at a positive price."""
    return all_(all_([e.amount > 0, e.src != e.dst] + ([e.size > 0, e.price > 0] if e.kind == "trade" else []))
                for e in ev)


# ---- triggers: the steps on which an invariant is exercised (R-PROVE-4) --------------------

def any_transfer(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """Some amount moved (a transfer or a trade of positive size)."""
    return any_(e.amount > 0 for e in ev)


def position_moved(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """Some lots changed hands (a trade, a close or an ADL fill)."""
    return any_(e.size > 0 for e in ev if e.kind == "trade")


def layer_paid(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A layer or a contribution paid towards a deficit."""
    return moved(ev, {"R-WF-3", "R-CH-1", "R-CH-2", "R-HC-4"})


def others_charged(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A liquidation charged an account other than the bankrupt and its counterparty
    (haircut, levy, assessment, ADL fill)."""
    if not isinstance(op, Liquidate):
        return False
    return any_([moved(ev, {"R-HC-2", "R-LEVY-2", "R-CH-3"}), any_(q > 0 for _, _, q in adl_trades(ev, op.account))])


def deficit_covered(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A liquidation had a deficit that the waterfall covered (a layer, accounts, bad debt)."""
    return isinstance(op, Liquidate) and moved(ev, DEFICIT_RULES)


def later_drawn(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A layer after the first, or the final resort, paid in a liquidation."""
    if not isinstance(op, Liquidate) or not mech.layers:
        return False
    later = {s.name for s in mech.layers[1:]}
    return any_([moved(ev, DEFICIT_RULES - SOCIALISE_RULES, later), moved(ev, SOCIALISE_RULES)])


def haircut_moved(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A haircut (R-HC-2) took a positive amount."""
    return moved(ev, {"R-HC-2"})


def adl_filled(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """An ADL fill (R-ADL-1) of positive size."""
    return any_(e.size > 0 for e in ev if e.rule == "R-ADL-1")


def residue_moved(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A rounding shortfall (R-HC-4) or surplus (R-HC-3, R-LEVY-3) moved."""
    return moved(ev, {"R-HC-4", "R-HC-3", "R-LEVY-3"})


def exempt_at_stake(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A levy or haircut charged someone while an exempt account held lots in the bankrupt's markets."""
    if not isinstance(op, Liquidate):
        return False
    scope = pre.accounts[op.account].positions
    held = [p.size != 0 for i in exempt_of(mech) if i in pre.accounts and i != op.account
            for m, p in pre.accounts[i].positions.items() if m in scope]
    return all_([moved(ev, {"R-LEVY-2", "R-HC-2"}), any_(held)])


def fund_first_reached(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A fund-first liquidation with a counterparty named whose fill left a deficit (ADL or a layer paid)."""
    if not isinstance(op, Liquidate) or op.counterparty is None:
        return False
    return any_([adl_filled(pre, op, post, ev, mech), moved(ev, {"R-WF-3"})])


def reserve_layer_drawn(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A layer with a reserve paid (R-WF-3, R-HC-4)."""
    return any_(e.amount > 0 for e in ev if e.rule in ("R-WF-3", "R-HC-4") and e.src.startswith("layer:")
                and any(s.reserve for s in balance_specs(mech, e.src.partition(":")[2])))


def lifetime_layer_drawn(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A layer with a lifetime cap paid (R-WF-3)."""
    return moved(ev, {"R-WF-3"}, {s.name for s in mech.layers if s.lifetime_cap})


def drawdown_layer_moved(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A layer with a drawdown rule paid or received."""
    ruled = {s.name for s in mech.layers if s.drawdown_ppm}
    return any_(e.amount > 0 for e in ev for end in (e.src, e.dst)
                if end.startswith("layer:") and end[6:].partition(":")[0] in ruled)


def needs(what: str, test: Callable[[Mechanism], bool]) -> Callable[[Mechanism], str]:
    """An applicability test: '' when `test(mech)`, else why not."""
    return lambda mech: "" if test(mech) else f"applies only to mechanisms with {what}"


REGISTRY: dict[str, Invariant] = {inv.id: inv for inv in (
    Invariant("I-CONS", "conservation of value",
              "Account equities plus every layer and contribution minus recorded bad debt change "
              "only by deposits and withdrawals.",
              "Value that appears or vanishes is someone's unrecorded gain or loss.", conservation,
              any_transfer, "an amount moved"),
    Invariant("I-ZERO", "zero-sum positions",
              "In every market sizes and open notionals, hence unrealised PnL, sum to zero.",
              "Every profit is some counterparty's loss; a non-zero sum is money made up.", zero_sum,
              position_moved, "lots changed hands"),
    Invariant("I-FUND", "layers non-negative",
              "The insurance fund and every other layer and contribution stay >= 0.",
              "A negative fund is an unrecorded liability.", fund_nonneg,
              layer_paid, "a layer or contribution paid"),
    Invariant("I-NONNEG", "no negative balances",
              "A liquidation leaves no other solvent account (bar its chosen counterparty) "
              "with negative equity.",
              "Traders never owe more than their margin for someone else's default.", no_negative,
              others_charged, "another account was charged"),
    Invariant("I-NOLOSS", "no silent loss",
              "After a liquidation the bankrupt's equity is >= 0; what nobody covered is bad debt, "
              "which never shrinks. A liquidation no valid taker could complete (R-ADL-11) may leave "
              "the account pending instead: still holding size, nothing settled.",
              "A loss nobody covers must be on the books.", no_loss,
              deficit_covered, "a deficit was covered"),
    Invariant("I-ORDER", "layer seniority",
              "A layer is drawn only when every earlier layer is exhausted; socialisation (an ADL fill "
              "the layers could have paid included) only when every layer is; with layers per market, "
              "in each market's pass (R-WF-15).",
              "Traders are haircut only once the fund that was promised to protect them is gone.", layer_order,
              later_drawn, "a later layer or the final resort paid"),
    Invariant("I-BUDGET", "budget balance",
              "When a deficit is covered, the layers, accounts and bad debt together take exactly the "
              "deficit: the bankrupt ends at exactly zero; with layers per market, each market's pass "
              "exactly that market's part (R-WF-15).",
              "Overshoot takes money nobody owed; undershoot leaves a hole.", budget,
              deficit_covered, "a deficit was covered"),
    Invariant("I-PROP", "haircut proportionality",
              "Each haircut is within one base unit of the exact pro-rata share R * w / W of its base.",
              "Equal treatment: the same fraction of every profit, up to one unit of rounding.", proportional,
              haircut_moved, "a haircut moved"),
    Invariant("I-BOUND", "haircut bounded by base",
              "No account pays more haircut than its base (profit capped at equity); accounts outside "
              "the base pay none.",
              "A haircut may take profit, never principal.", bounded_haircut,
              haircut_moved, "a haircut moved"),
    Invariant("I-ADL-BOUND", "bounded ADL",
              "The lots deleveraged equal what the bankrupt's position lost; nobody is closed beyond "
              "its own position, flipped or increased; only the opposite side is touched.",
              "ADL must close the bankrupt position, not more, and never open risk for anyone.", adl_bounded,
              adl_filled, "an ADL fill"),
    Invariant("I-ADL-RANK", "ADL ranking respected",
              "No account is deleveraged while one ranked above it keeps size.",
              "The published ranking is the rule traders rely on to manage their ADL risk.", adl_ranked,
              adl_filled, "an ADL fill"),
    Invariant("I-RESIDUE", "residues to their sinks",
              "Every rounding shortfall is paid by the declared residue sink and every surplus goes to "
              "the declared surplus sink.",
              "Rounding units are money too; they must end where the rules say.", residue_sinks,
              residue_moved, "a rounding residue moved"),
    Invariant("I-EVENTS", "well-formed transfers",
              "Every transfer moves a positive amount between two different endpoints; every trade a "
              "positive size at a positive price (R-EVT-1).",
              "A negative transfer is a payment in the wrong direction that every ledger total hides.",
              well_formed, any_transfer, "an amount moved"),
    Invariant("I-VALID", "valid states are closed under every operation",
              "An operation that applies maps a valid state (R-STATE-5: zero-sum markets, layers, "
              "contributions and bad debt >= 0, the R-UNIT-3 bounds) to a valid state.",
              "The state invariants then hold after any sequence of operations, not just one.", valid_after,
              any_transfer, "an amount moved"),
    Invariant("I-EXEMPT", "exempt accounts spared",
              "An account listed as exempt (a levy's or a haircut's) is never charged the levy or a "
              "haircut (R-LEVY-5, R-HC-8).",
              "A protocol-owned market maker charged the loss drains the venue's own liquidity.",
              exempt_spared, exempt_at_stake, "a levy or haircut moved while an exempt account held lots",
              needs("exempt accounts", lambda m: bool(exempt_of(m)))),
    Invariant("I-QUEUE", "queue collects exactly its share",
              "A haircut queue collects exactly min(floor(D x severity), sum of bases), bases largest "
              "first, each up to its base (R-HC-9).",
              "Who pays in a queue is decided by the order; a wrong order or total charges the wrong "
              "traders.", queue_exact, haircut_moved, "a haircut moved",
              needs("a haircut queue", lambda m: isinstance(m.final, Haircut) and m.final.order == "queue")),
    Invariant("I-ADL-FUND", "fund first before ADL",
              "With a counterparty named, a fund-first venue sends it exactly the lots the layers' budget "
              "and the takeover cap allow; only the rest is deleveraged (R-ADL-7).",
              "ADL takes from traders only what the insurance fund could not pay.", fund_first_split,
              fund_first_reached, "a fund-first liquidation with a counterparty left a deficit",
              needs("fund-first ADL", lambda m: isinstance(m.final, Adl) and m.final.fund_first)),
    Invariant("I-ADL-PRICE", "ADL close price",
              "Every deleveraging fill is at the price the rules choose: mark, previous mark, or the "
              "bankruptcy price (for mark_or_bankruptcy only when the layers cannot pay at mark) "
              "(R-ADL-2, R-ADL-9, R-ADL-10).",
              "The close price decides whether the fund or the deleveraged trader bears the loss.",
              adl_priced, adl_filled, "an ADL fill",
              needs("ADL at one price per market", lambda m: isinstance(m.final, Adl) and m.final.pricing == "uniform")),
    Invariant("I-RESERVE", "layer reserve kept",
              "No balance layer key ends below the lesser of its balance before and its reserve "
              "(R-WF-3, R-HC-4).",
              "A reserve is the part of the fund the venue promised never to spend.", reserve_kept,
              reserve_layer_drawn, "a layer with a reserve paid",
              needs("a layer reserve", lambda m: any(s.kind == "balance" and s.reserve for s in m.layers))),
    Invariant("I-LIFETIME", "lifetime cap accumulated",
              "A lifetime-capped layer pays at most its market's allowance left, and that record grows "
              "by exactly what it paid (R-WF-9); with layers per market, for each of the bankrupt's "
              "markets (R-WF-15).",
              "A cap that forgets what was paid is no cap.", lifetime_accumulated,
              lifetime_layer_drawn, "a lifetime-capped layer paid",
              needs("a lifetime cap", lambda m: any(s.kind == "balance" and s.lifetime_cap for s in m.layers))),
    Invariant("I-DRAWDOWN", "drawdown rule and its record",
              "A layer with a drawdown rule pays at most what the rule leaves it, and its kept history "
              "gives the peak every recorded point gives; a shared pool measured per market keeps each "
              "market's drawdown record as R-WF-14 says (R-WF-8, R-WF-8b, R-TIME-3, R-WF-14).",
              "The drawdown stop is what keeps the fund from being spent in one crash.", drawdown_kept,
              drawdown_layer_moved, "a layer with a drawdown rule paid or received",
              needs("a drawdown rule", lambda m: any(s.kind == "balance" and s.drawdown_ppm for s in m.layers))),
)}


# ---- relational invariants: two runs of the model compared (metamorphic) ------------------

@dataclass(frozen=True)
class Relation:
    """ID, name, statement, why, and a check over (state, liquidation, mechanism, parameter)
    that runs the model itself; None when the two runs are not comparable (a step refused)."""

    id: str
    name: str
    statement: str
    why: str
    holds: Callable[[State, Liquidate, Mechanism, object], "bool | None"]
    trigger: Callable[[State, Liquidate, Mechanism, object], Cond] = lambda *a: False
    trigger_text: str = ""


def _run(state: State, ops: Sequence[Op], mech: Mechanism) -> State | None:
    """The state after `ops`, or None if one is refused."""
    from waterfall.model.errors import WaterfallError
    from waterfall.model.step import step
    try:
        for op in ops:
            state, _ = step(state, op, mech)
    except WaterfallError:
        return None
    return state


def _ledger(state: State) -> tuple:
    return ({i: (a.collateral, {m: p for m, p in a.positions.items() if p != (0, 0)})
             for i, a in state.accounts.items()}, {k: v for k, v in state.layers.items() if v},
            {k: v for k, v in state.default_fund.items() if v}, state.bad_debt)


def path_independent(state: State, op: Liquidate, mech: Mechanism, other: object) -> bool | None:
    """I-PATH: liquidating `op.account` then `other` gives the same state as the reverse
    order (the second liquidation uses the same counterparty and fills)."""
    second = Liquidate(str(other), op.counterparty if op.counterparty != other else None, op.fill_prices, op.seed)
    first = Liquidate(op.account, op.counterparty if op.counterparty != other else None, op.fill_prices, op.seed)
    ab = _run(state, [first, second], mech)
    if ab is None:  # not comparable: the other order is not run
        return None
    ba = _run(state, [second, first], mech)
    if ba is None:
        return None
    return _ledger(ab) == _ledger(ba)


def times_records(state: State, k: int) -> dict:
    """The time-dependent records (R-STATE-6) with every amount times k, times unchanged."""
    return {"clock": state.clock,
            "history": {n: tuple(v if i % 2 == 0 else v * k for i, v in enumerate(pts)) for n, pts in state.history.items()},
            "layer_paid": {n: v * k for n, v in state.layer_paid.items()},
            "window_base": {n: v * k for n, v in state.window_base.items()},
            "deferred": {n: v * k for n, v in state.deferred.items()}, "partial_at": dict(state.partial_at),
            "assessable": {n: v * k for n, v in state.assessable.items()}}


def scaled(state: State, k: int) -> State:
    """Every amount and price times k; sizes unchanged (so notionals scale by k)."""
    from waterfall.model.state import Account, Market, Position
    return State({m: Market(m, mk.mark * k, mk.im_ppm, mk.mm_ppm, mk.prev_mark * k) for m, mk in state.markets.items()},
                 {i: Account(a.collateral * k, a.net_deposit * k,
                             {m: Position(p.size, p.open_notional * k) for m, p in a.positions.items()})
                  for i, a in state.accounts.items()},
                 {n: v * k for n, v in state.layers.items()}, {n: v * k for n, v in state.default_fund.items()},
                 state.bad_debt * k, **times_records(state, k))


def scale_invariant(state: State, op: Liquidate, mech: Mechanism, k: object) -> bool | None:
    """I-SCALE: scaling every amount and price by k scales every resulting balance by k, up
    to rounding: within 2k (two units at the original scale) of k times the original."""
    k = int(k)  # type: ignore[call-overload]
    one = _run(state, [op], mech)
    if one is None:  # not comparable: the scaled run is not made
        return None
    many = _run(scaled(state, k), [Liquidate(op.account, op.counterparty,
                                             {m: p * k for m, p in op.fill_prices.items()}, op.seed)], mech)
    if many is None:
        return None
    near = lambda x, y: abs(y - k * x) <= 2 * k  # noqa: E731
    accounts = all(near(a.collateral, many.accounts[i].collateral) and
                   all(near(p.open_notional, many.accounts[i].positions.get(m, p._replace(open_notional=0)).open_notional)
                       for m, p in a.positions.items())
                   for i, a in one.accounts.items())
    layers = all(near(v, many.layers.get(n, 0)) for n, v in one.layers.items())
    deferred = all(near(v, many.deferred.get(n, 0)) for n, v in one.deferred.items())
    return accounts and layers and deferred and near(one.bad_debt, many.bad_debt)


def split_state(state: State, aid: str) -> State | None:
    """`aid` split into two equal halves `aid` and `aid~2` (collateral, deposits, default
    fund contribution, every size and open notional halved); None when a quantity is odd:
    no exact split exists."""
    from waterfall.model.state import Account, Position
    a = state.accounts[aid]
    contribution = state.default_fund.get(aid, 0)
    base = state.window_base.get(aid)
    charged = state.assessable.get(aid)
    values = [a.collateral, a.net_deposit, contribution, base or 0, charged or 0] + [v for p in a.positions.values() for v in p]
    if any(v % 2 for v in values):
        return None
    half = Account(a.collateral // 2, a.net_deposit // 2,
                   {m: Position(p.size // 2, p.open_notional // 2) for m, p in a.positions.items()})
    fund = dict(state.default_fund)
    if contribution:
        fund[aid] = fund[aid + "~2"] = contribution // 2
    window = dict(state.window_base)
    if base is not None:
        window[aid] = window[aid + "~2"] = base // 2
    stepped = dict(state.partial_at)
    if aid in stepped:
        stepped[aid + "~2"] = stepped[aid]
    assessable = dict(state.assessable)
    if charged is not None:
        assessable[aid] = assessable[aid + "~2"] = charged // 2
    return replace(state, accounts={**state.accounts, aid: half, aid + "~2": half}, default_fund=fund,
                   window_base=window, partial_at=stepped, assessable=assessable)


def doubled(state: State) -> State:
    """The same venue with every account, position and balance doubled (prices unchanged),
    so that any account splits exactly into two copies of itself."""
    from waterfall.model.state import Account, Position
    return State(dict(state.markets),
                 {i: Account(2 * a.collateral, 2 * a.net_deposit,
                             {m: Position(2 * p.size, 2 * p.open_notional) for m, p in a.positions.items()})
                  for i, a in state.accounts.items()},
                 {n: 2 * v for n, v in state.layers.items()}, {n: 2 * v for n, v in state.default_fund.items()},
                 2 * state.bad_debt, **times_records(state, 2))


def sybil_proof(state: State, op: Liquidate, mech: Mechanism, aid: object) -> bool | None:
    """I-SPLIT: splitting an account (not the bankrupt nor the counterparty) into two does not
    change what the pair loses in a liquidation, up to rounding (2 units). Checked on the
    doubled venue, where the account splits exactly into two copies of the original."""
    aid = str(aid)
    state = doubled(state)
    one = _run(state, [op], mech)
    if one is None:  # not comparable: the split run is not made
        return None
    two_pre = split_state(state, aid)
    if two_pre is None:
        return None
    two = _run(two_pre, [op], mech)
    if two is None:
        return None
    lost = equity(state, state.accounts[aid]) - equity(one, one.accounts[aid])
    pair = [aid, aid + "~2"]
    lost2 = sum(equity(two_pre, two_pre.accounts[i]) - equity(two, two.accounts[i]) for i in pair)
    return abs(lost2 - lost) <= 2


# ---- relational triggers (R-PROVE-12): when the two runs compare something worth comparing ----

def reaches_others(pre: State, op: Liquidate, post: State) -> Cond:
    """A liquidation's loss reached beyond the bankrupt and its counterparty: a layer, the
    bad-debt ledger, or another account's collateral or size changed."""
    spared = (op.account, op.counterparty)
    others = [any_([a.collateral != pre.accounts[i].collateral]
                   + [p.size != pre.accounts[i].positions[m].size for m, p in a.positions.items()
                      if m in pre.accounts[i].positions])
              for i, a in post.accounts.items() if i not in spared and i in pre.accounts]
    layers = [v != pre.layers.get(n, 0) for n, v in post.layers.items()]
    return any_(others + layers + [post.bad_debt != pre.bad_debt])


def path_trigger(state: State, op: Liquidate, mech: Mechanism, other: object) -> Cond:
    """I-PATH's trigger: both orders apply, and the first liquidation's loss reaches beyond
    its bankrupt and counterparty (so the second can see it)."""
    cp = op.counterparty if op.counterparty != other else None
    first, second = Liquidate(op.account, cp, op.fill_prices, op.seed), Liquidate(str(other), cp, op.fill_prices, op.seed)
    once = _run(state, [first], mech)
    if once is None or _run(state, [first, second], mech) is None or _run(state, [second, first], mech) is None:
        return False  # (`or` short-circuits: a refused run stops it)
    return reaches_others(state, first, once)


def scale_trigger(state: State, op: Liquidate, mech: Mechanism, k: object) -> Cond:
    """I-SCALE's trigger: the liquidation applies at both scales and its loss reaches beyond
    the bankrupt and its counterparty (where the waterfall divides and rounds)."""
    one = _run(state, [op], mech)
    many = _run(scaled(state, int(k)), [Liquidate(op.account, op.counterparty,  # type: ignore[call-overload]
                                                  {m: p * int(k) for m, p in op.fill_prices.items()},  # type: ignore[call-overload]
                                                  op.seed)], mech)
    if one is None or many is None:
        return False
    return reaches_others(state, op, one)


def split_trigger(state: State, op: Liquidate, mech: Mechanism, aid: object) -> Cond:
    """I-SPLIT's trigger: on the doubled venue both runs apply and the account (as one)
    loses or gains equity in the liquidation, so the pair's share is compared."""
    aid = str(aid)
    venue = doubled(state)
    one = _run(venue, [op], mech)
    halves = split_state(venue, aid)
    if one is None or halves is None or _run(halves, [op], mech) is None:
        return False
    return equity(venue, venue.accounts[aid]) != equity(one, one.accounts[aid])


RELATIONS: dict[str, Relation] = {r.id: r for r in (
    Relation("I-PATH", "path independence",
             "Two liquidations give the same result in either order.",
             "The order in which a venue processes simultaneous bankruptcies should not pick winners.",
             path_independent, path_trigger,
             "both orders apply and the first liquidation's loss reaches a layer, the bad debt or another account"),
    Relation("I-SCALE", "scale invariance",
             "Scaling every amount and price by k scales every resulting balance by k, up to rounding.",
             "The rule should not depend on the unit the venue counts in.", scale_invariant, scale_trigger,
             "the liquidation applies at both scales and its loss reaches a layer, the bad debt or another account"),
    Relation("I-SPLIT", "Sybil resistance",
             "Splitting an account into two does not change what the pair loses, up to rounding.",
             "Otherwise traders can lower their share of a loss by opening more accounts.", sybil_proof, split_trigger,
             "on the doubled venue both runs apply and the split account's equity changes"),
)}


# ---- witness gates (R-PROVE-3, issue 17) ---------------------------------------------------
# A PROVED needs a witness path where its trigger fires AND the claim is exercised in full:
# an ADL ranking that compares two holders, a pro-rata split over two payers, a residue split
# between two payers. With two accounts (the bankrupt and one other) none of them can happen,
# so such a cell is UNREACHED at k = 2, never PROVED on a witness that compares nothing.

@dataclass(frozen=True)
class Gate:
    """An invariant's witness gate: a condition on the step, and its text for reports."""

    holds: Predicate
    text: str


def payers(ev: Sequence[Event], rules: set[str]) -> dict[str, Num]:
    """What each account paid under these rules (haircuts, levies), by account id."""
    out: dict[str, Num] = {}
    for e in ev:
        if e.rule in rules and e.src.startswith("account:"):
            aid = e.src.partition(":")[2]
            out[aid] = out.get(aid, 0) + e.amount
    return out


def two_paid(rules: set[str]) -> Predicate:
    """A gate: at least two accounts paid a positive amount under `rules`."""
    def gate(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
        paid = sorted(payers(ev, rules).items())
        return any_(all_([a > 0, b > 0]) for k, (_, a) in enumerate(paid) for _, b in paid[k + 1:])
    return gate


def two_opposite_holders(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """A gate: before a liquidation, two accounts other than the bankrupt hold positions
    opposite to one of the bankrupt's, so the ADL ranking compares two holders."""
    if not isinstance(op, Liquidate):
        return False
    bankrupt = pre.accounts[op.account]
    pairs = []
    for m, b in sorted(bankrupt.positions.items()):
        opp = [any_([all_([b.size > 0, a.positions[m].size < 0]), all_([b.size < 0, a.positions[m].size > 0])])
               for i, a in sorted(pre.accounts.items()) if i != op.account and m in a.positions]
        pairs += [all_([x, y]) for k, x in enumerate(opp) for y in opp[k + 1:]]
    return any_(pairs)


WITNESS_GATES: dict[str, Gate] = {
    "I-ADL-RANK": Gate(two_opposite_holders, "two opposite holders ranked"),
    "I-PROP": Gate(two_paid({"R-HC-2"}), "two accounts haircut"),
    "I-RESIDUE": Gate(two_paid({"R-HC-2", "R-LEVY-2"}), "two accounts paid the haircut or levy"),
}
