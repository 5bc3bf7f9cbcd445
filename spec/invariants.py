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
from waterfall.model.layers import plan_balance, sink_key
from waterfall.model.mechanism import Adl, Haircut, LayerSpec, Levy, Mechanism
from waterfall.model.ops import Deposit, Liquidate, Op, Withdraw
from waterfall.model.ranking import ranked
from waterfall.model.state import State, equity, validate_state, value
from waterfall.model.tx import Tx
from waterfall.model.units import MAX_BALANCE, PPM

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


def exhausted(pre: State, post: State, ev: Sequence[Event], mech: Mechanism, spec: LayerSpec, aid: str) -> Cond:
    """A layer has paid all it could in this liquidation (R-WF-3, R-CH-1/2): a balance layer
    drew, from each key of the bankrupt's markets, what R-WF-3 allows it on the pre-state
    (reserve, drawdown rule R-WF-8, lifetime cap R-WF-9), or reached its per-event cap.
    Assessments are not checked (their caps depend on equities mid-waterfall)."""
    if spec.kind == "balance":  # a later surplus may refill it, so the draws are counted
        capped = paid_by(ev, {"R-WF-3"}, spec.name) == spec.cap_per_event if spec.cap_per_event else False
        if spec.drawdown_ppm or spec.lifetime_cap or spec.isolated or spec.settlement:  # the model's own rule (R-WF-8/9/10/13)
            allowed = plan_balance(Tx(pre), spec, MAX_BALANCE, sorted(pre.accounts[aid].positions))
            return any_([capped, all_(drawn_from(ev, "layer:" + k) >= can for k, can in allowed)])
        keys = [k for k in pre.layers if k == spec.name or k.startswith(spec.name + ":")]
        touched = [k for k in keys if k == spec.name or k.split(":", 1)[1] in pre.accounts[aid].positions]
        return any_([capped, all_(drawn_from(ev, "layer:" + k) >= pre.layers[k] - spec.reserve for k in touched)])
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
    resort (haircut, levy, bad debt) only when every layer is; a layer that pays no deficit
    (R-WF-11) is never drawn."""
    if not isinstance(op, Liquidate):
        return True
    conds = []
    for k, spec in enumerate(mech.layers):
        if not spec.pays:  # R-WF-11: a layer that only receives never falls in a liquidation
            if spec.name not in {s.alongside for s in mech.layers}:  # (R-CH-5: paid in the fund's split)
                conds += [post.layers.get(k, 0) >= v for k, v in pre.layers.items()
                          if k == spec.name or k.startswith(spec.name + ":")]
            continue
        later = {s.name for s in mech.layers[k + 1:]}
        drawn_later = any_([moved(ev, DEFICIT_RULES - SOCIALISE_RULES, later), moved(ev, SOCIALISE_RULES)])
        conds.append(implies(drawn_later, exhausted(pre, post, ev, mech, spec, op.account)))
    return all_(conds)


def budget(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-BUDGET: when a deficit is covered (by layers, accounts or bad debt), the bankrupt
    ends at exactly zero: the waterfall takes exactly the deficit, no more, no less."""
    if not isinstance(op, Liquidate):
        return True
    return implies(moved(ev, DEFICIT_RULES), equity(post, post.accounts[op.account]) == 0)


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


def bounded_haircut(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-BOUND: no account pays more haircut than its base; accounts outside it pay none."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Haircut):
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
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Haircut):
        return True
    paid, base, target = prop_terms(pre, op, post, ev, mech.final)
    wsum = sum_(base.values())
    gaps = [paid.get(i, 0) * wsum - target * w for i, w in base.items()]  # (paid - exact share) * W
    return implies(moved(ev, {"R-HC-2"}), all_(all_([-wsum < g, g < wsum]) for g in gaps))


def residue_sinks(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> Cond:
    """I-RESIDUE: every rounding residue lands in its declared sink: shortfalls are paid
    only by the residue sink (R-HC-4), surpluses go only to the surplus sink (R-HC-3,
    R-LEVY-3), and nothing else is left over (I-BUDGET)."""
    if not isinstance(op, Liquidate):
        return True
    markets = sorted(pre.accounts[op.account].positions)  # R-WF-7
    residue = getattr(mech.final, "residue_sink", "bad_debt")
    def key(sink: str) -> str:
        return "layer:" + sink_key(mech, sink, markets, pre.markets)
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
    """I-ADL-RANK: no account is deleveraged while an opposite account ranked above it (by
    the mechanism's score on the pre-state) keeps size it could have given. Cyclic
    deleveraging has no ranking and is not checked; the counterparty of a fund-first split is
    not in the queue (R-ADL-7), and an account deleveraged from outside the queue breaks it."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Adl) or mech.final.ranking == "cyclic":
        return True
    conds = []
    for m in {mk for mk, _, _ in adl_trades(ev, op.account)}:
        side = -1 if pre.accounts[op.account].positions[m].size > 0 else 1
        book = op.counterparty if mech.final.fund_first else None  # R-ADL-7: not deleveraged
        order = [j for j in ranked(pre, mech.final.ranking, m, side, op.account, op.seed) if j != book]
        filled = [j for mk, j, _ in adl_trades(ev, op.account) if mk == m]
        if any(j not in order for j in filled):  # deleveraged from outside the queue
            conds.append(False)
            continue
        last = max(order.index(j) for j in filled)
        for j in order[:last]:
            left = post.accounts[j].positions[m].size if m in post.accounts[j].positions else 0
            conds.append(any_([left == 0, mech.final.skip_insolvent]))
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
              "A layer is drawn only when every earlier layer is exhausted; socialisation only when "
              "every layer is.",
              "Traders are haircut only once the fund that was promised to protect them is gone.", layer_order,
              later_drawn, "a later layer or the final resort paid"),
    Invariant("I-BUDGET", "budget balance",
              "When a deficit is covered, the layers, accounts and bad debt together take exactly the "
              "deficit: the bankrupt ends at exactly zero.",
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
    ba = _run(state, [second, first], mech)
    if ab is None or ba is None:
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
    many = _run(scaled(state, k), [Liquidate(op.account, op.counterparty,
                                             {m: p * k for m, p in op.fill_prices.items()}, op.seed)], mech)
    if one is None or many is None:
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
    two_pre = split_state(state, aid)
    if two_pre is None:
        return None
    two = _run(two_pre, [op], mech)
    if one is None or two is None:
        return None
    lost = equity(state, state.accounts[aid]) - equity(one, one.accounts[aid])
    pair = [aid, aid + "~2"]
    lost2 = sum(equity(two_pre, two_pre.accounts[i]) - equity(two, two.accounts[i]) for i in pair)
    return abs(lost2 - lost) <= 2


RELATIONS: dict[str, Relation] = {r.id: r for r in (
    Relation("I-PATH", "path independence",
             "Two liquidations give the same result in either order.",
             "The order in which a venue processes simultaneous bankruptcies should not pick winners.",
             path_independent),
    Relation("I-SCALE", "scale invariance",
             "Scaling every amount and price by k scales every resulting balance by k, up to rounding.",
             "The rule should not depend on the unit the venue counts in.", scale_invariant),
    Relation("I-SPLIT", "Sybil resistance",
             "Splitting an account into two does not change what the pair loses, up to rounding.",
             "Otherwise traders can lower their share of a loss by opening more accounts.", sybil_proof),
)}
