"""Events (R-EVT-1): every transfer an operation makes, itemised with the rule that made it."""
from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    """R-EVT-1: `amount` moves from `src` to `dst` under rule `rule`, within waterfall stage
    `layer`. Trades carry market, size (lots bought by `dst`) and price; `amount` is then
    the notional size * price. Endpoints: account:ID, layer:NAME, default_fund:ID,
    bad_debt, external."""

    rule: str
    kind: str
    src: str
    dst: str
    amount: int
    layer: str
    market: str = ""
    size: int = 0
    price: int = 0

    def to_json(self) -> dict[str, object]:
        """JSON form: integers as decimal strings (spec/scenario.md, R-FMT-1)."""
        return {k: (str(v) if isinstance(v, int) else v) for k, v in self._asdict().items()}


def acct(account_id: str) -> str:
    """Endpoint name of an account."""
    return "account:" + account_id


def layer(name: str) -> str:
    """Endpoint name of a layer."""
    return "layer:" + name


def transfer(rule: str, src: str, dst: str, amount: int, stage: str, market: str = "") -> Event:
    """A money transfer event."""
    return Event(rule, "transfer", src, dst, amount, stage, market)
