"""Layer balance history and its peak over a time window (R-TIME-3).

A layer whose mechanism stops it after a drawdown from its peak (R-WF-8) keeps, per key,
the balance points that can still be the peak of some later window: start times
increasing, balances strictly decreasing (a point is dropped once a later point is at
least as high, since every later window meeting it reaches that later point; the later
point takes over its start, so the point before it still ends where it did). A point
holds from its start to the next point's start; the first kept point may start before the
window: it is the balance in effect when the window began.
"""
from __future__ import annotations

from typing import Mapping

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
