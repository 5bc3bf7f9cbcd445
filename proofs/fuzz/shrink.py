"""Shrinking a counterexample sequence before it is shown (R-REPORT-3), within a time budget.

The fuzzer keeps the first run it saw violating an unclaimed invariant, unshrunk (its
shrinker runs only on claimed failures, and for minutes). Here the run is cut after its
first violating step, then operations are removed in halving chunks (delta debugging) and
accounts that hold nothing and are named by no operation are dropped, keeping every change
that still violates the same invariant when replayed through the model. The result says
whether it is 1-minimal (no single operation can go) or the budget ran out first.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import scenario_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import run

from waterfall.proofs.checks import first_violation

Doc = dict[str, Any]


def violates(doc: Doc, mech: Mechanism, inv: str) -> int | None:
    """The first step of `doc` replayed under `mech` that violates `inv`, or None (a
    document that no longer loads, e.g. a position left without its counterpart, is None)."""
    try:
        sc = scenario_from_doc(doc, "<shrink>")
    except WaterfallError:
        return None
    return first_violation(run(sc, mech), mech, inv)[0]


def with_ops(doc: Doc, ops: list[Any]) -> Doc:
    return {**doc, "ops": ops}


def drop_chunks(doc: Doc, still: Callable[[Doc], bool], deadline: float) -> tuple[Doc, bool]:
    """Delta debugging over the operations; (result, finished a pass of single removals)."""
    ops = list(doc["ops"])
    chunk = max(1, len(ops) // 2)
    while True:
        removed, i = False, 0
        while i < len(ops):
            if time.monotonic() > deadline:
                return with_ops(doc, ops), False
            candidate = ops[:i] + ops[i + chunk:]
            if candidate and still(with_ops(doc, candidate)):
                ops, removed = candidate, True
            else:
                i += chunk
        if chunk == 1 and not removed:
            return with_ops(doc, ops), True
        chunk = max(1, chunk // 2) if not removed else chunk


def named(doc: Doc) -> set[str]:
    """Account ids an operation names."""
    return {str(o.get(k)) for o in doc["ops"] for k in ("account", "counterparty", "buyer", "seller") if o.get(k)}


def drop_idle_accounts(doc: Doc, still: Callable[[Doc], bool], deadline: float) -> Doc:
    """Remove accounts without positions that no operation names, one at a time."""
    for acc in list(doc["state"]["accounts"]):
        if time.monotonic() > deadline:
            break
        if acc.get("positions") or acc["id"] in named(doc):
            continue
        state = dict(doc["state"])
        state["accounts"] = [a for a in state["accounts"] if a["id"] != acc["id"]]
        if "default_fund" in state:
            state["default_fund"] = {k: v for k, v in state["default_fund"].items() if k != acc["id"]}
        candidate = {**doc, "state": state}
        if still(candidate):
            doc = candidate
    return doc


def shrink(doc: Doc, mech: Mechanism, inv: str, budget: float) -> tuple[Doc, dict[str, Any]]:
    """The smallest sequence found within `budget` seconds that still violates `inv`, and
    {'from', 'to', 'seconds', 'complete'} (operation counts; complete: 1-minimal)."""
    start = time.monotonic()
    deadline = start + budget
    at = violates(doc, mech, inv)
    if at is None:
        return doc, {"from": len(doc["ops"]), "to": len(doc["ops"]), "seconds": 0.0, "complete": False}
    cut = with_ops(doc, list(doc["ops"][:at]))
    still = lambda d: violates(d, mech, inv) is not None  # noqa: E731
    small, complete = drop_chunks(cut, still, deadline)
    small = drop_idle_accounts(small, still, deadline)
    info = {"from": len(doc["ops"]), "to": len(small["ops"]), "seconds": round(time.monotonic() - start, 3),
            "complete": complete}
    return small, info
