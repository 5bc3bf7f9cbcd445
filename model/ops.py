"""Operations (R-OP-*): plain records; `model.step.step` applies them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union


@dataclass(frozen=True)
class Deposit:
    """R-OP-1: add collateral from outside."""

    account: str
    amount: int


@dataclass(frozen=True)
class Withdraw:
    """R-OP-2: remove collateral, refused if it breaks initial margin."""

    account: str
    amount: int


@dataclass(frozen=True)
class Trade:
    """R-OP-3: `buyer` buys `size` lots from `seller` at `price`."""

    buyer: str
    seller: str
    market: str
    size: int
    price: int


@dataclass(frozen=True)
class SetMark:
    """R-OP-4: move a market's mark price."""

    market: str
    price: int


@dataclass(frozen=True)
class Funding:
    """R-OP-5: zero-sum funding: each account pays size * rate (longs pay when rate > 0)."""

    market: str
    rate: int


@dataclass(frozen=True)
class Liquidate:
    """R-LIQ: liquidate an account through the mechanism's waterfall.

    `counterparty` takes the closed positions at `fill_prices` (default: mark); `seed`
    drives random-start deleveraging (dYdX)."""

    account: str
    counterparty: str | None = None
    fill_prices: Mapping[str, int] = field(default_factory=dict)
    seed: str = "0"


@dataclass(frozen=True)
class AdvanceTime:
    """R-TIME-1: the clock moves forward by `seconds` (> 0); windows that end roll (R-TIME-4)."""

    seconds: int


@dataclass(frozen=True)
class Deleverage:
    """R-POOL-3: a keeper closes `size` lots of `account`'s position in `market` against
    the pool (GMX v2 ADL order)."""

    account: str
    market: str
    size: int


Op = Union[Deposit, Withdraw, Trade, SetMark, Funding, Liquidate, AdvanceTime, Deleverage]

OP_NAMES: dict[type, str] = {Deposit: "deposit", Withdraw: "withdraw", Trade: "trade",
                             SetMark: "set_mark", Funding: "funding", Liquidate: "liquidate",
                             AdvanceTime: "advance_time", Deleverage: "deleverage"}
