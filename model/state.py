"""The state of a venue (R-STATE-*): markets, accounts with positions, loss layers, bad debt.

States are never mutated: every operation builds a new `State`, sharing unchanged accounts.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, NamedTuple

from .errors import InvalidState, UnknownAccount, UnknownLayer, UnknownMarket
from .units import check_balance, check_input, ppm_of


class Market(NamedTuple):
    """R-STATE-1: a perpetual market: mark price and margin rates in ppm of notional;
    `prev_mark` is the mark before the last set_mark (R-TIME-2), 0 when none is recorded."""

    id: str
    mark: int
    im_ppm: int
    mm_ppm: int
    prev_mark: int = 0


class Position(NamedTuple):
    """R-STATE-2: signed size in lots and open notional (signed sum of traded size * price).

    Unrealised PnL is size * mark - open_notional; since trades are mirror images, the sizes
    and the open notionals of a market each sum to zero, so its unrealised PnL does too.
    """

    size: int
    open_notional: int


class Account(NamedTuple):
    """R-STATE-3: collateral, net deposits (deposits - withdrawals) and positions by market."""

    collateral: int
    net_deposit: int
    positions: Mapping[str, Position]


EMPTY: Mapping[str, Position] = {}


@dataclass(frozen=True)
class State:
    """R-STATE-4: the whole venue; `layers` are named loss-absorbing balances (insurance
    funds, fee pool, backstop vault, house capital); `default_fund` holds clearing members'
    contributions by account; `bad_debt` records losses nobody covered.

    R-STATE-6 (time): `clock` in seconds (R-TIME-1); `history` per layer key, the balance
    points (t0, b0, t1, b1, ...) that can still be a peak within the mechanism's window
    (R-TIME-3); `layer_paid` what a layer has paid for each market over its life, key
    LAYER:MARKET (R-WF-9); `window_base` each account's gain (equity - net deposits) when
    the current haircut window began (R-HC-6); `deferred` losses awaiting the settlement
    haircut, by market (R-HC-7); `partial_at` the clock of each account's last partial
    liquidation step (R-LIQ-6); `assessable` what each clearing member can still be assessed
    in the current assessment period (R-CH-4)."""

    markets: Mapping[str, Market]
    accounts: Mapping[str, Account]
    layers: Mapping[str, int] = field(default_factory=dict)
    default_fund: Mapping[str, int] = field(default_factory=dict)
    bad_debt: int = 0
    clock: int = 0
    history: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    layer_paid: Mapping[str, int] = field(default_factory=dict)
    window_base: Mapping[str, int] = field(default_factory=dict)
    deferred: Mapping[str, int] = field(default_factory=dict)
    partial_at: Mapping[str, int] = field(default_factory=dict)
    assessable: Mapping[str, int] = field(default_factory=dict)

    def market(self, market_id: str) -> Market:
        """Look up a market or raise UnknownMarket naming it."""
        try:
            return self.markets[market_id]
        except KeyError:
            raise UnknownMarket(f"unknown market {market_id!r}", market=market_id) from None

    def account(self, account_id: str) -> Account:
        """Look up an account or raise UnknownAccount naming it."""
        try:
            return self.accounts[account_id]
        except KeyError:
            raise UnknownAccount(f"unknown account {account_id!r}", account=account_id) from None

    def layer(self, name: str) -> int:
        """Balance of a named layer, or UnknownLayer naming it."""
        try:
            return self.layers[name]
        except KeyError:
            raise UnknownLayer(f"unknown layer {name!r}", layer=name) from None

    def with_accounts(self, changed: Mapping[str, Account]) -> "State":
        """A copy with some accounts replaced."""
        accounts = dict(self.accounts)
        accounts.update(changed)
        return replace(self, accounts=accounts)


def upnl(pos: Position, mark: int) -> int:
    """R-PNL-1: unrealised PnL of a position at a mark price."""
    return pos.size * mark - pos.open_notional


def account_upnl(state: State, acct: Account) -> int:
    """R-PNL-2: sum of an account's unrealised PnL over its markets at mark (R-PNL-1 per
    position, inlined)."""
    markets = state.markets
    return sum(p.size * markets[m].mark - p.open_notional for m, p in acct.positions.items())


def equity(state: State, acct: Account) -> int:
    """R-PNL-3: equity = collateral + unrealised PnL at mark."""
    return acct.collateral + account_upnl(state, acct)


def notional(state: State, acct: Account) -> int:
    """R-MARGIN-0: sum over markets of |size| * mark."""
    markets = state.markets
    return sum(abs(p.size) * markets[m].mark for m, p in acct.positions.items())


def margin_requirement(state: State, acct: Account, *, initial: bool) -> int:
    """R-MARGIN-1: sum over markets of ceil(|size| * mark * rate / 1e6), initial or maintenance."""
    total = 0
    for m, p in acct.positions.items():
        mk = state.markets[m]
        total += ppm_of(abs(p.size) * mk.mark, mk.im_ppm if initial else mk.mm_ppm, up=True)
    return total


def previous_mark(mk: Market) -> int:
    """R-TIME-2: the mark before the last set_mark, or the mark when none is recorded."""
    return mk.prev_mark if mk.prev_mark > 0 else mk.mark


def value(state: State) -> int:
    """I-CONS quantity: sum of equities + every layer + default fund - recorded bad debt -
    losses deferred to a settlement (R-HC-7)."""
    total = sum(equity(state, a) for a in state.accounts.values())
    return (total + sum(state.layers.values()) + sum(state.default_fund.values()) - state.bad_debt
            - sum(state.deferred.values()))


def validate_state(state: State) -> State:
    """R-STATE-5: every position names a known market and each market's sizes and open
    notionals sum to zero; layers and contributions are non-negative; R-UNIT-3 bounds hold
    (marks and sizes as inputs, balances and open notionals within MAX_BALANCE)."""
    size_sum = {m: 0 for m in state.markets}
    on_sum = {m: 0 for m in state.markets}
    for m, mk in state.markets.items():
        check_input(mk.mark, "mark", positive=True, market=m)
        check_input(mk.im_ppm, "im_ppm", nonneg=True, market=m)
        check_input(mk.mm_ppm, "mm_ppm", nonneg=True, market=m)
    for aid, acct in state.accounts.items():
        check_balance(acct.collateral, "collateral", account=aid)
        check_balance(acct.net_deposit, "net_deposit", account=aid)
        for m, p in acct.positions.items():
            check_input(p.size, "size", account=aid, market=m)
            check_balance(p.open_notional, "open_notional", account=aid, market=m)
            if m not in state.markets:
                raise UnknownMarket(f"account {aid!r} holds a position in unknown market {m!r}",
                                    account=aid, market=m)
            size_sum[m] += p.size
            on_sum[m] += p.open_notional
    for m in state.markets:
        if size_sum[m] != 0 or on_sum[m] != 0:
            raise InvalidState(f"market {m!r}: sizes sum to {size_sum[m]} and open notionals to "
                               f"{on_sum[m]}; both must be 0 (R-STATE-5)", market=m)
    for name, bal in state.layers.items():
        check_balance(bal, "layer", layer=name)
        if bal < 0:
            raise InvalidState(f"layer {name!r} has negative balance {bal}", layer=name)
    check_per_account(state, state.default_fund, "default_fund", "default fund contribution", nonneg=True)
    check_balance(state.bad_debt, "bad_debt")
    if state.bad_debt < 0:
        raise InvalidState("bad_debt must not be negative", field="bad_debt")
    validate_time(state)
    return state


def check_per_account(state: State, values: Mapping[str, int], name: str, label: str, *, nonneg: bool) -> None:
    """R-STATE-5/6: amounts kept per account name known accounts, lie within the balance
    bound and, where `nonneg`, are >= 0."""
    for aid, v in values.items():
        if aid not in state.accounts:
            raise UnknownAccount(f"{label} of unknown account {aid!r}", account=aid)
        check_balance(v, name, account=aid)
        if nonneg and v < 0:
            raise InvalidState(f"{label} of {aid!r} is negative", account=aid)


def validate_time(state: State) -> None:
    """R-STATE-6: clock >= 0; a previous mark >= 0 (0: none); history points in time order,
    none after the clock, balances >= 0; lifetime payouts (LAYER:MARKET of a known market)
    and deferred losses (of a known market) >= 0; window bases and partial-liquidation times
    name known accounts (times <= clock)."""
    check_input(state.clock, "clock", nonneg=True)
    for m, mk in state.markets.items():
        check_input(mk.prev_mark, "prev_mark", nonneg=True, market=m)
    for key, points in state.history.items():
        if len(points) % 2:
            raise InvalidState(f"history of layer {key!r} must hold (time, balance) pairs", layer=key)
        last = 0
        for k in range(0, len(points), 2):
            t, b = points[k], points[k + 1]
            check_input(t, "history time", nonneg=True, layer=key)
            check_balance(b, "history balance", layer=key)
            if t < last or t > state.clock or b < 0:
                raise InvalidState(f"history of layer {key!r}: point ({t}, {b}) out of order, after the "
                                   f"clock {state.clock} or negative (R-STATE-6)", layer=key)
            last = t
    for name, fieldmap in (("layer_paid", state.layer_paid), ("deferred", state.deferred)):
        for key, v in fieldmap.items():
            check_balance(v, name, layer=key)
            if v < 0:
                raise InvalidState(f"{name} of {key!r} is negative", layer=key)
    for m in state.deferred:  # deferred losses are kept per market (R-HC-7)
        if m not in state.markets:
            raise UnknownMarket(f"deferred loss of unknown market {m!r}", market=m)
    for key in state.layer_paid:  # LAYER:MARKET (R-WF-9): the market is a known one ('' for none)
        name, sep, m = key.rpartition(":")
        if not sep or not name or (m and m not in state.markets):
            raise InvalidState(f"layer_paid key {key!r} is not LAYER:MARKET of a known market (R-WF-9)", layer=key)
    check_per_account(state, state.window_base, "window_base", "window base", nonneg=False)
    check_per_account(state, state.assessable, "assessable", "assessment allowance", nonneg=True)
    for aid, t in state.partial_at.items():
        if aid not in state.accounts:
            raise UnknownAccount(f"partial liquidation time of unknown account {aid!r}", account=aid)
        check_input(t, "partial_at", nonneg=True, account=aid)
        if t > state.clock:
            raise InvalidState(f"partial liquidation of {aid!r} at {t}, after the clock {state.clock}", account=aid)
