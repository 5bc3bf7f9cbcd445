"""Invariant registry (spec/invariants.md): each invariant once, with its ID.

A predicate takes (pre-state, operation, post-state, events, mechanism) and returns True
when the invariant holds for that step. This issue's registry holds the concrete checks
`make verify` runs on the stress scenarios; the invariants issue moves them onto an
arithmetic facade shared with the Z3 encoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from model.events import Event
from model.mechanism import Mechanism
from model.ops import Deposit, Liquidate, Op, Withdraw
from model.state import State, equity, value

Predicate = Callable[[State, Op, State, Sequence[Event], Mechanism], bool]


@dataclass(frozen=True)
class Invariant:
    """ID, name, one-sentence statement, why users care, and the predicate."""

    id: str
    name: str
    statement: str
    why: str
    holds: Predicate


def external_flow(op: Op) -> int:
    """Value that enters (deposit) or leaves (withdraw) the venue in one operation."""
    if isinstance(op, Deposit):
        return op.amount
    if isinstance(op, Withdraw):
        return -op.amount
    return 0


def conservation(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> bool:
    """I-CONS: value(post) = value(pre) + external flow."""
    return value(post) == value(pre) + external_flow(op)


def zero_sum(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> bool:
    """I-ZERO: per market, sizes and open notionals (hence unrealised PnL) sum to zero."""
    for m in post.markets:
        if sum(a.positions[m].size for a in post.accounts.values() if m in a.positions) != 0:
            return False
        if sum(a.positions[m].open_notional for a in post.accounts.values() if m in a.positions) != 0:
            return False
    return True


def fund_nonneg(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> bool:
    """I-FUND: every layer balance and contribution stays >= 0."""
    return all(v >= 0 for v in post.layers.values()) and all(v >= 0 for v in post.default_fund.values())


def no_negative(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> bool:
    """I-NONNEG: a liquidation leaves no account other than the bankrupt and its chosen
    counterparty with negative equity if it had equity >= 0 before."""
    if not isinstance(op, Liquidate):
        return True
    spared = {op.account, op.counterparty}
    return all(equity(post, a) >= 0 for i, a in post.accounts.items()
               if i not in spared and equity(pre, pre.accounts[i]) >= 0)


def no_loss(pre: State, op: Op, post: State, ev: Sequence[Event], mech: Mechanism) -> bool:
    """I-NOLOSS: after a liquidation the bankrupt's equity is >= 0, what nobody covered
    being recorded as bad debt; bad debt never shrinks."""
    if post.bad_debt < pre.bad_debt:
        return False
    return not isinstance(op, Liquidate) or equity(post, post.accounts[op.account]) >= 0


REGISTRY: dict[str, Invariant] = {inv.id: inv for inv in (
    Invariant("I-CONS", "conservation of value",
              "Account equities plus every layer and contribution minus recorded bad debt change "
              "only by deposits and withdrawals.",
              "Value that appears or vanishes is someone's unrecorded gain or loss.", conservation),
    Invariant("I-ZERO", "zero-sum positions",
              "In every market sizes and open notionals, hence unrealised PnL, sum to zero.",
              "Every profit is some counterparty's loss; a non-zero sum is money made up.", zero_sum),
    Invariant("I-FUND", "layers non-negative",
              "The insurance fund and every other layer and contribution stay >= 0.",
              "A negative fund is an unrecorded liability.", fund_nonneg),
    Invariant("I-NONNEG", "no negative balances",
              "A liquidation leaves no other solvent account (bar its chosen counterparty) "
              "with negative equity.",
              "Traders never owe more than their margin for someone else's default.", no_negative),
    Invariant("I-NOLOSS", "no silent loss",
              "After a liquidation the bankrupt's equity is >= 0; what nobody covered is bad debt.",
              "A loss nobody covers must be on the books.", no_loss),
)}
