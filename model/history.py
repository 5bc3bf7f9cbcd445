"""Layer balance history and its peak over a time window (R-TIME-3).

A layer whose mechanism stops it after a drawdown from its peak (R-WF-8) keeps, per key,
the balance points that can still be the peak of some later window: start times
increasing, balances strictly decreasing (a point is dropped once a later point is at
least as high, since every later window meeting it reaches that later point; the later
point takes over its start, so the point before it still ends where it did). A point
holds from its start to the next point's start; the first kept point may start before the
window: it is the balance in effect when the window began.

A shared pool measured per market (R-WF-14) also keeps, per market M it pays from its
shared key, the record NAME:M of that market's PnL: points (start, level), a level being
how far the market's PnL then stood above its current PnL (so the current level is 0 and
no level is negative); its peak over the window is the market's PnL drawdown.
"""
from __future__ import annotations

from typing import Mapping

from .arith import max_
from .mechanism import Mechanism
from .tx import Tx


def windows(mech: Mechanism) -> dict[str, int]:
    """Balance layers with a drawdown rule (R-WF-8), by name: their window in seconds."""
    return {s.name: s.drawdown_window for s in mech.layers if s.kind == "balance" and s.drawdown_ppm > 0}


def push(points: tuple[int, ...], t: int, balance: int) -> tuple[int, ...]:
    """R-TIME-3: add the point (t, balance), dropping earlier points no higher than it; the
    new point starts when the first dropped one did (every window that meets a dropped
    point reaches the new one, and the point before keeps its end)."""
    kept = list(points)
    start = t
    while kept and kept[-1] <= balance:
        start = kept[-2]
        del kept[-2:]
    return tuple(kept) + (start, balance)


def prune(points: tuple[int, ...], start: int) -> tuple[int, ...]:
    """R-TIME-3: drop a first point that a second point at or before `start` replaced."""
    kept = points
    while len(kept) >= 4 and kept[2] <= start:
        kept = kept[2:]
    return kept


def peak(history: Mapping[str, tuple[int, ...]], key: str, balance: int, clock: int, window: int) -> int:
    """R-TIME-3: the highest balance of `key` within [clock - window, clock]: the current
    balance and every kept point not replaced before the window began."""
    points = history.get(key, ())
    start = clock - window
    best = balance
    for k in range(0, len(points), 2):
        replaced = k + 2 < len(points) and points[k + 2] <= start
        if not replaced:
            best = max(best, points[k + 1])
    return best


def record(tx: Tx, mech: Mechanism) -> None:
    """R-TIME-3: after every operation, each windowed layer key adds its balance at the
    clock (a key without history first adds its balance before the operation), then drops
    the points its window no longer needs. Mechanisms without a drawdown rule keep none."""
    spans = windows(mech)
    if not spans:
        return
    for key in sorted(tx.layers):
        span = spans.get(key.partition(":")[0])
        if span is None:
            continue
        points = tx.history.get(key)
        if points is None:
            points = (tx.base.clock, tx.base.layers.get(key, tx.layers[key]))
        tx.history[key] = prune(push(points, tx.clock, tx.layers[key]), tx.clock - span)
    record_markets(tx, mech)


def market_flows(tx: Tx, name: str, isolated: tuple[str, ...]) -> dict[str, int]:
    """R-WF-14: what the shared key NAME gained (+) or paid (-) in this operation, by the
    market it belongs to: an account's first market (id order, before the operation) that
    is not isolated, or the market of a deferred-loss record; flows of neither are not
    attributed."""
    flows: dict[str, int] = {}
    me = "layer:" + name
    for e in tx.events:
        if me not in (e.src, e.dst) or e.kind != "transfer":
            continue
        other = e.dst if e.src == me else e.src
        kind, _, ident = other.partition(":")
        if kind == "account":
            held = sorted(tx.base.accounts[ident].positions) if ident in tx.base.accounts else []
            market = next((m for m in held if m not in isolated), "")
        else:
            market = ident if kind == "deferred" else ""
        if market:
            flows[market] = flows.get(market, 0) + (e.amount if e.dst == me else -e.amount)
    return flows


def shift(points: tuple[int, ...], t: int, delta: int) -> tuple[int, ...]:
    """R-WF-14: a market's PnL moved by `delta` at time t: every level falls by delta (not
    below 0: a level at or below the current PnL is no drawdown), then the current level 0."""
    levels = tuple(x if k % 2 == 0 else max_(0, x - delta) for k, x in enumerate(points))
    return push(levels, t, 0)


def record_markets(tx: Tx, mech: Mechanism) -> None:
    """R-WF-14: each market a shared pool paid or received for in this operation has its
    record NAME:MARKET moved by that flow (a market without one starts with level 0 at the
    clock before the operation), pruned to the pool's window."""
    for spec in mech.layers:
        if spec.kind != "balance" or spec.drawdown_by != "market":
            continue
        for market, delta in sorted(market_flows(tx, spec.name, spec.isolated).items()):
            key = f"{spec.name}:{market}"
            points = tx.history.get(key) or (tx.base.clock, 0)
            tx.history[key] = prune(shift(points, tx.clock, delta), tx.clock - spec.drawdown_window)
