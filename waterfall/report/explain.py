"""The terms of an invariant's predicate on one step, as a reader checks them by hand
("value before 1000, after 999"): what a counterexample shows beside its ledger.

Each function reads the quantities through the helpers of spec/invariants.py (the same
definitions the checkers evaluate) and lists the ones that decide the verdict; it never
decides anything itself. Relational invariants (two runs compared) are shown by
waterfall/report/trace.py, which runs both.
"""
from __future__ import annotations

from typing import Callable, Sequence

from waterfall.model.events import Event
from waterfall.model.mechanism import Adl, Haircut, Mechanism
from waterfall.model.ops import Liquidate, Op
from waterfall.model.state import State, equity, value
from waterfall.spec.reference.ranking import order
from waterfall.spec.invariants import (DEFICIT_RULES, adl_trades, drawn_from, external_flow, haircut_view,
                                       prop_terms)

Terms = Callable[[State, Op, State, Sequence[Event], Mechanism], list[str]]


def eq(state: State, aid: str) -> int:
    """Equity of an account (0 if absent)."""
    a = state.accounts.get(aid)
    return equity(state, a) if a else 0


def conservation(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-CONS: value before, after, and the external flow."""
    flow = external_flow(op)
    return [f"value before {value(pre)}, after {value(post)}, external flow {flow:+d} "
            f"(expected after: {value(pre) + flow}, difference {value(post) - value(pre) - flow:+d})"]


def zero_sum(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-ZERO: the column sums of every market."""
    out = []
    for m in sorted(post.markets):
        held = [a.positions[m] for a in post.accounts.values() if m in a.positions]
        out.append(f"market {m}: sizes sum to {sum(p.size for p in held)}, "
                   f"open notionals sum to {sum(p.open_notional for p in held)} (both must be 0)")
    return out


def fund_nonneg(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-FUND: the negative balances."""
    bad = [f"layer {k}: before {pre.layers.get(k, 0)}, after {v}" for k, v in sorted(post.layers.items()) if v < 0]
    bad += [f"default fund contribution of {k}: before {pre.default_fund.get(k, 0)}, after {v}"
            for k, v in sorted(post.default_fund.items()) if v < 0]
    return bad or ["every layer and contribution is >= 0"]


def no_negative(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-NONNEG: accounts solvent before and negative after (bankrupt and counterparty spared)."""
    if not isinstance(op, Liquidate):
        return ["not a liquidation"]
    spared = {op.account, op.counterparty}
    hit = [f"account {i}: equity before {eq(pre, i)}, after {eq(post, i)}" for i in sorted(post.accounts)
           if i not in spared and eq(pre, i) >= 0 > eq(post, i)]
    return hit or ["no solvent account ends below zero"]


def no_loss(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-NOLOSS: bad debt before/after and the bankrupt's equity after."""
    out = [f"bad debt before {pre.bad_debt}, after {post.bad_debt} (must not shrink)"]
    if isinstance(op, Liquidate):
        out.append(f"bankrupt {op.account}: equity after {eq(post, op.account)} (must be >= 0)")
    return out


def layer_order(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-ORDER: what each layer held, paid and kept in reserve, and what later stages paid."""
    out = []
    for spec in mech.layers:
        paid = sum(e.amount for e in ev if e.layer == spec.name and e.rule in DEFICIT_RULES)
        if spec.kind == "balance":
            held = {k: v for k, v in pre.layers.items() if k == spec.name or k.startswith(spec.name + ":")}
            detail = ", ".join(f"{k} held {v}, paid {drawn_from(ev, 'layer:' + k)}" for k, v in sorted(held.items()))
            out.append(f"layer {spec.name} (reserve {spec.reserve}, cap {spec.cap_per_event or 'none'}): {detail or 'empty'}")
        else:
            out.append(f"layer {spec.name} ({spec.kind}): paid {paid}")
    social = sum(e.amount for e in ev if e.rule in ("R-HC-2", "R-LEVY-2", "R-WF-5"))
    out.append(f"final resort (haircut, levy, bad debt) took {social}")
    return out


def budget(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-BUDGET: the bankrupt's equity before and after (exactly 0 once a deficit is covered)."""
    if not isinstance(op, Liquidate):
        return ["not a liquidation"]
    covered = sum(e.amount for e in ev if e.rule in DEFICIT_RULES)
    return [f"bankrupt {op.account}: equity before {eq(pre, op.account)}, after {eq(post, op.account)} "
            f"(must be exactly 0); deficit transfers {covered}"]


def proportional(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-PROP: each account's haircut against its exact share R * w / W."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Haircut):
        return ["not a haircut liquidation"]
    paid, base, target = prop_terms(pre, op, post, ev, mech.final)
    wsum = sum(base.values())
    out = [f"to collect R = {target}, total base W = {wsum}"]
    for i, w in sorted(base.items()):
        share = f"{target * w}/{wsum}" if wsum else "0"
        out.append(f"account {i}: base w {w}, paid {paid.get(i, 0)}, exact share R*w/W = {share} "
                   f"(must be within 1)")
    return out


def bounded(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-BOUND: each account's haircut against its base."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Haircut):
        return ["not a haircut liquidation"]
    paid, base = haircut_view(pre, op, post, ev, mech.final)
    return [f"account {i}: paid {paid.get(i, 0)}, base {w} (paid must be <= base)" for i, w in sorted(base.items())
            if paid.get(i, 0) or w]


def adl_bounded(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-ADL-BOUND: lots deleveraged against what the bankrupt lost, and each counterparty."""
    if not isinstance(op, Liquidate):
        return ["not a liquidation"]
    out = []
    for m, p in sorted(pre.accounts[op.account].positions.items()):
        fills = [(j, q) for mk, j, q in adl_trades(ev, op.account) if mk == m]
        after = post.accounts[op.account].positions.get(m)
        lost = abs(p.size) - abs(after.size if after else 0)
        out.append(f"market {m}: bankrupt size {p.size} -> {after.size if after else 0} (lost {lost}), "
                   f"ADL lots {sum(q for _, q in fills)}")
        for j, q in fills:
            before = pre.accounts[j].positions.get(m)
            now = post.accounts[j].positions.get(m)
            out.append(f"  counterparty {j}: size {before.size if before else 0} -> {now.size if now else 0}, "
                       f"closed {q} lots")
    return out


def adl_ranked(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-ADL-RANK: the queue in rank order, with what each gave and kept."""
    if not isinstance(op, Liquidate) or not isinstance(mech.final, Adl):
        return ["not an ADL liquidation"]
    out = []
    for m in sorted({mk for mk, _, _ in adl_trades(ev, op.account)}):
        side = -1 if pre.accounts[op.account].positions[m].size > 0 else 1
        gave = {j: q for mk, j, q in adl_trades(ev, op.account) if mk == m}
        queue = order(pre, mech.final.ranking, m, side, op.account, op.seed)  # the reference order (R-ADL-3)
        rows = [f"{j} gave {gave.get(j, 0)}, kept {post.accounts[j].positions[m].size if m in post.accounts[j].positions else 0}"
                for j in queue]
        out.append(f"market {m}, {mech.final.ranking} queue by spec/reference (highest first): " + "; ".join(rows))
    return out or ["no ADL fill"]


def residues(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """I-RESIDUE: each residue transfer against its declared sink."""
    residue = getattr(mech.final, "residue_sink", "bad_debt")
    out = [f"{e.rule} {e.src} -> {e.dst} {e.amount}" for e in ev if e.rule in ("R-HC-4", "R-HC-3", "R-LEVY-3")]
    return out + [f"declared: residue sink {residue}, surplus sink {mech.liquidation.surplus_sink}"]


TERMS: dict[str, Terms] = {
    "I-CONS": conservation, "I-ZERO": zero_sum, "I-FUND": fund_nonneg, "I-NONNEG": no_negative,
    "I-NOLOSS": no_loss, "I-ORDER": layer_order, "I-BUDGET": budget, "I-PROP": proportional,
    "I-BOUND": bounded, "I-ADL-BOUND": adl_bounded, "I-ADL-RANK": adl_ranked, "I-RESIDUE": residues,
}


def terms(inv: str, pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> list[str]:
    """The predicate's terms on this step (an invariant without an explainer: none)."""
    fn = TERMS.get(inv)
    return fn(pre, op, post, ev, mech) if fn else []
