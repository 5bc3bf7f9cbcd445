"""A working copy of a state that an operation edits and then freezes (R-EVT-2).

Every change goes through a method that also records its event, so the events itemise
every transfer. The input state is never touched: accounts are immutable tuples and the
maps are copied once per operation.
"""
from __future__ import annotations

from .events import Event, acct, transfer
from .state import Account, Market, Position, State, equity
from .units import MAX_BALANCE, MAX_INPUT, check_balance, check_input

_new = tuple.__new__  # builds a NamedTuple from a tuple without its Python-level __new__ (hot loops)


class Tx:
    """Mutable working copy of a `State`; `freeze()` returns the new state."""

    def __init__(self, state: State) -> None:
        self.base = state
        self.markets: dict[str, Market] = dict(state.markets)
        self.accounts: dict[str, Account] = dict(state.accounts)
        self.layers: dict[str, int] = dict(state.layers)
        self.default_fund: dict[str, int] = dict(state.default_fund)
        self.bad_debt = state.bad_debt
        self.clock = state.clock
        self.history: dict[str, tuple[int, ...]] = dict(state.history)
        self.layer_paid: dict[str, int] = dict(state.layer_paid)
        self.window_base: dict[str, int] = dict(state.window_base)
        self.deferred: dict[str, int] = dict(state.deferred)
        self.partial_at: dict[str, int] = dict(state.partial_at)
        self.assessable: dict[str, int] = dict(state.assessable)
        self.events: list[Event] = []

    def view(self) -> State:
        """The current working state (shares the working maps; do not keep it)."""
        return State(self.markets, self.accounts, self.layers, self.default_fund, self.bad_debt,
                     self.clock, self.history, self.layer_paid, self.window_base, self.deferred, self.partial_at,
                     self.assessable)

    def snapshot(self) -> State:
        """A copy of the current working state that later edits do not change."""
        return State(dict(self.markets), dict(self.accounts), dict(self.layers), dict(self.default_fund),
                     self.bad_debt, self.clock, dict(self.history), dict(self.layer_paid),
                     dict(self.window_base), dict(self.deferred), dict(self.partial_at), dict(self.assessable))

    def freeze(self) -> tuple[State, list[Event]]:
        """The new state and the events that led to it."""
        return self.view(), self.events

    def equity(self, aid: str) -> int:
        """R-PNL-3 on the working state."""
        return equity(self.view(), self.accounts[aid])

    def add_collateral(self, aid: str, delta: int) -> None:
        """Change an account's collateral (no event; callers record one)."""
        a = self.accounts[aid]
        c = check_balance(a.collateral + delta, "collateral", account=aid)
        self.accounts[aid] = Account(c, a.net_deposit, a.positions)

    def pay(self, rule: str, src: str, dst: str, amount: int, stage: str, market: str = "") -> None:
        """Move `amount` between account:/layer:/default_fund: endpoints, with its event."""
        if amount == 0:
            return
        self._apply(src, -amount)
        self._apply(dst, amount)
        self.events.append(transfer(rule, src, dst, amount, stage, market))

    def collect(self, rule: str, payers: list[str], amounts: list[int], aid: str, stage: str,
                dst: str | None = None) -> None:
        """Many accounts pay account `aid` (haircut, levy), or the endpoint `dst`: the same
        state and events as one `pay` per payer in order, with the payee credited once (hot
        path at 10^6 accounts)."""
        accounts, events = self.accounts, self.events
        dst = dst or acct(aid)
        total = 0
        for i, amount in zip(payers, amounts):
            if amount:
                a = accounts[i]
                c = a.collateral - amount
                if c < -MAX_BALANCE:  # refusal guard: check_balance raises E-BOUND
                    check_balance(c, "collateral", account=i)
                accounts[i] = _new(Account, (c, a.net_deposit, a.positions))
                events.append(_new(Event, (rule, "transfer", "account:" + i, dst, amount, stage, "", 0, 0)))
                total += amount
        if dst == acct(aid):
            self.add_collateral(aid, total)
        else:
            self._apply(dst, total)

    def _apply(self, endpoint: str, delta: int) -> None:
        kind, _, name = endpoint.partition(":")
        if kind == "account":
            self.add_collateral(name, delta)
        elif kind == "layer":
            self.layers[name] = check_balance(self.layers.get(name, 0) + delta, "layer", layer=name)
        elif kind == "default_fund":
            self.default_fund[name] = check_balance(self.default_fund.get(name, 0) + delta, "default_fund",
                                                    account=name)
        elif kind == "bad_debt":
            self.bad_debt = check_balance(self.bad_debt - delta, "bad_debt")
        elif kind == "deferred":  # R-HC-7: a liability like bad debt, by market
            self.deferred[name] = check_balance(self.deferred.get(name, 0) - delta, "deferred", layer=name)
        elif kind not in ("external", "funding"):
            raise ValueError(f"unknown endpoint {endpoint!r}")

    def trade(self, rule: str, buyer: str, seller: str, market: str, size: int, price: int, stage: str) -> None:
        """R-OP-3: move `size` lots at `price` from seller to buyer, updating open notionals."""
        self.fills(rule, seller, market, [(buyer, size)], price, stage, -1)

    def fills(self, rule: str, aid: str, market: str, fills: list[tuple[str, int]], price: int,
              stage: str, sign: int) -> None:
        """Account `aid` trades with each (counterparty, lots) at `price`, buying if sign > 0
        and selling if < 0: the same state and events as one `trade` per fill in order, with
        `aid`'s position updated once (ADL hot path)."""
        events = self.events
        me = acct(aid)
        lots = 0
        for j, q in fills:
            self._move(j, market, -sign * q, -sign * q * price)
            src, dst = (me, "account:" + j) if sign < 0 else ("account:" + j, me)
            events.append(_new(Event, (rule, "trade", src, dst, q * price, stage, market, q, price)))
            lots += q
        self._move(aid, market, sign * lots, sign * lots * price)

    def fill_quote(self, rule: str, aid: str, market: str, j: str, q: int, quote: int, stage: str,
                   sign: int) -> None:
        """Account `aid` trades `q` lots with `j` for a total of `quote` (R-ADL-8), buying if
        sign > 0; the event's price is floor(quote / q) and its amount the quote."""
        self._move(j, market, -sign * q, -sign * quote)
        self._move(aid, market, sign * q, sign * quote)
        src, dst = (acct(aid), "account:" + j) if sign < 0 else ("account:" + j, acct(aid))
        self.events.append(_new(Event, (rule, "trade", src, dst, quote, stage, market, q, quote // q)))

    def _move(self, aid: str, market: str, dsize: int, dnotional: int) -> None:
        """Add to an account's size and open notional in a market (a flat, zero position goes)."""
        a = self.accounts[aid]
        old = a.positions.get(market)
        size = dsize + (old.size if old else 0)
        on = dnotional + (old.open_notional if old else 0)
        if abs(size) > MAX_INPUT:  # refusal guard (R-UNIT-3: a position stays a valid size; found by I-VALID)
            check_input(size, "size", account=aid, market=market)
        if abs(on) > MAX_BALANCE:  # refusal guard: check_balance raises E-BOUND
            check_balance(on, "open_notional", account=aid, market=market)
        positions = dict(a.positions)
        if size == 0 and on == 0:
            positions.pop(market, None)
        else:
            positions[market] = _new(Position, (size, on))
        self.accounts[aid] = _new(Account, (a.collateral, a.net_deposit, positions))

    def set_mark(self, market: str, price: int) -> None:
        """R-OP-4 on the working copy; the old mark becomes the previous mark (R-TIME-2)."""
        old = self.markets[market]
        self.markets[market] = old._replace(mark=price, prev_mark=old.mark)

    def write_off(self, rule: str, aid: str, amount: int) -> None:
        """R-WF-5: record `amount` as bad debt and bring the bankrupt account up by it."""
        self.pay(rule, "bad_debt", acct(aid), amount, "bad_debt")

