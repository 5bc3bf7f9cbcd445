"""JSON form of states and operations (R-FMT-*): integers travel as decimal strings."""
from __future__ import annotations

from typing import Any, Mapping

from .errors import InvalidState
from .ops import OP_NAMES, AdvanceTime, Deleverage, Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from .state import Account, Market, Position, State

NAME_TO_OP = {v: k for k, v in OP_NAMES.items()}


def state_from_json(doc: Mapping[str, Any]) -> State:
    """R-FMT-2: build a State from its JSON form (already schema-valid); ids must be unique."""
    markets: dict[str, Market] = {}
    for m in doc["markets"]:
        if m["id"] in markets:
            raise InvalidState(f"market {m['id']!r} is listed twice", market=m["id"])
        markets[m["id"]] = Market(m["id"], int(m["mark"]), int(m["im_ppm"]), int(m["mm_ppm"]),
                                  int(m.get("prev_mark", "0")))
    accounts: dict[str, Account] = {}
    for a in doc["accounts"]:
        if a["id"] in accounts:
            raise InvalidState(f"account {a['id']!r} is listed twice", account=a["id"])
        positions: dict[str, Position] = {}
        for p in a.get("positions", []):
            if p["market"] in positions:
                raise InvalidState(f"account {a['id']!r} lists market {p['market']!r} twice",
                                   account=a["id"], market=p["market"])
            positions[p["market"]] = Position(int(p["size"]), int(p["open_notional"]))
        c = int(a["collateral"])
        accounts[a["id"]] = Account(c, int(a.get("net_deposit", c)), positions)
    return State(markets, accounts,
                 {k: int(v) for k, v in doc.get("layers", {}).items()},
                 {k: int(v) for k, v in doc.get("default_fund", {}).items()},
                 int(doc.get("bad_debt", "0")), int(doc.get("clock", "0")),
                 {k: tuple(int(x) for pair in v for x in pair) for k, v in doc.get("layer_history", {}).items()},
                 {k: int(v) for k, v in doc.get("layer_paid", {}).items()},
                 {k: int(v) for k, v in doc.get("window_base", {}).items()},
                 {k: int(v) for k, v in doc.get("deferred", {}).items()},
                 {k: int(v) for k, v in doc.get("partial_at", {}).items()},
                 {k: int(v) for k, v in doc.get("assessable", {}).items()})


def market_to_json(m: Market) -> dict[str, str]:
    """R-FMT-2: a market; `prev_mark` only when one is recorded (R-TIME-2)."""
    doc = {"id": m.id, "mark": str(m.mark), "im_ppm": str(m.im_ppm), "mm_ppm": str(m.mm_ppm)}
    if m.prev_mark:
        doc["prev_mark"] = str(m.prev_mark)
    return doc


def time_to_json(state: State) -> dict[str, Any]:
    """R-FMT-2 / R-STATE-6: the clock and the time-dependent records, each only when set."""
    doc: dict[str, Any] = {}
    if state.clock:
        doc["clock"] = str(state.clock)
    if state.history:
        # pairs; an odd point (only a broken model makes one, I-VALID) is written alone, not lost
        doc["layer_history"] = {k: [[str(x) for x in v[i:i + 2]] for i in range(0, len(v), 2)]
                                for k, v in sorted(state.history.items())}
    for key in ("layer_paid", "window_base", "deferred", "partial_at", "assessable"):
        values = getattr(state, key)
        if values:
            doc[key] = {k: str(v) for k, v in sorted(values.items())}
    return doc


def state_to_json(state: State) -> dict[str, Any]:
    """R-FMT-2: the JSON form of a state, ids sorted, integers as strings."""
    return {
        "markets": [market_to_json(m) for _, m in sorted(state.markets.items())],
        "accounts": [{"id": i, "collateral": str(a.collateral), "net_deposit": str(a.net_deposit),
                      "positions": [{"market": m, "size": str(p.size), "open_notional": str(p.open_notional)}
                                    for m, p in sorted(a.positions.items())]}
                     for i, a in sorted(state.accounts.items())],
        "layers": {k: str(v) for k, v in sorted(state.layers.items())},
        "default_fund": {k: str(v) for k, v in sorted(state.default_fund.items())},
        "bad_debt": str(state.bad_debt),
        **time_to_json(state),
    }


def op_from_json(doc: Mapping[str, Any], default_seed: str = "0") -> Op:
    """R-FMT-3: an operation from its JSON form (already schema-valid)."""
    kind = NAME_TO_OP[doc["op"]]
    if kind in (Deposit, Withdraw):
        return kind(doc["account"], int(doc["amount"]))
    if kind is Trade:
        return Trade(doc["buyer"], doc["seller"], doc["market"], int(doc["size"]), int(doc["price"]))
    if kind is SetMark:
        return SetMark(doc["market"], int(doc["price"]))
    if kind is Funding:
        return Funding(doc["market"], int(doc["rate"]))
    if kind is AdvanceTime:
        return AdvanceTime(int(doc["seconds"]))
    if kind is Deleverage:
        return Deleverage(doc["account"], doc["market"], int(doc["size"]))
    return Liquidate(doc["account"], doc.get("counterparty"),
                     {m: int(p) for m, p in doc.get("fill_prices", {}).items()},
                     doc.get("seed", default_seed))


def op_to_json(op: Op) -> dict[str, Any]:
    """R-FMT-3: the JSON form of an operation."""
    doc: dict[str, Any] = {"op": OP_NAMES[type(op)]}
    for k, v in vars(op).items():
        if k == "counterparty" and v is None:
            continue
        if k == "fill_prices":
            if v:
                doc[k] = {m: str(p) for m, p in sorted(v.items())}
            continue
        doc[k] = str(v) if isinstance(v, int) else v
    return doc
