"""Issues 13 and 21: the committed vectors catch every realistic engine bug of tests/engine_bugs.py
(each installed in the reference adapter, answers judged by the runner's judge in-process;
bench/conform_bugs.py runs the same engines as subprocesses and times `conform --fuzz`).

A bug counts as caught only by a difference in state, events or error code, never by a
crash of the bug engine: an engine that crashes on any vector is a stale engine (e.g. one
written against an older signature of the model) and fails its test, so it cannot pass
for a catch. Chained vectors feed the engine its own post-state, as the runner does.
"""
from __future__ import annotations

from typing import Any

import pytest

from waterfall.conformance.adapter import answer
from waterfall.conformance.runner import judge, load_vectors, own_state
from waterfall.conformance.vectors import VECTORS_DIR

import engine_bugs

VECTORS = load_vectors(VECTORS_DIR).vectors
FAMILIES = ("R-ALLOC", "R-WF", "R-ADL", "R-HC", "R-LEVY", "R-CH", "R-MARGIN", "R-ERR", "R-TIME", "R-POOL", "R-LIQ-6",
            "R-WH", "R-UNIT")


def verdicts() -> tuple[list[str], list[str]]:
    """(caught: the first step whose answer differs, per reason; crashes: steps on which the
    engine raised) over every step of every vector (the engine's own state in a chained one)."""
    caught: list[str] = []
    crashes: list[str] = []
    for v in VECTORS:
        state = v.doc["state"]
        chained = v.doc.get("chain") is True
        for k, st in enumerate(v.doc["steps"]):
            rid = f"{v.key}#{k}"
            req: dict[str, Any] = {"type": "step", "id": rid, "mechanism": v.doc["mechanism"], "state": state,
                                   "op": st["op"]}
            expected = st["expect"]["state"] if st["expect"]["ok"] else state
            try:
                resp = answer(req)
            except Exception as e:  # noqa: BLE001 - a crash is recorded, never counted as a catch
                crashes.append(f"{rid}: {type(e).__name__}: {e}")
                state = expected
                continue
            reason, _ = judge(st["expect"], resp, rid)
            if reason and not caught:
                caught.append(f"{rid}: {reason}")
            state = own_state(resp, state) if chained and reason != "types" else expected
    return caught, crashes


def test_the_reference_adapter_passes_in_process() -> None:
    assert verdicts() == ([], [])


def test_the_bugs_cover_every_rule_family() -> None:
    text = " ".join(b.what + " " + b.name for b in engine_bugs.ENGINE_BUGS)
    named = {f for f in FAMILIES if f in text}
    assert {"R-TIME", "R-POOL", "R-LIQ-6", "R-WH", "R-LEVY", "R-CH", "R-HC", "R-WF"} <= named, named
    assert len(engine_bugs.ENGINE_BUGS) >= 35


# pool-trigger-inclusive (R-POOL-3: ADL allowed at the trigger itself) is caught by a generated
# vector that moves the mark until the side's PnL is a multiple of 17, funds the pool to
# exactly PnL x 20 / 17 (gmx-v2's 85 %) and sends an order the model accepts one unit above
# the trigger (waterfall/conformance/venues.py, pool_to_trigger): refused at the trigger.
@pytest.mark.parametrize("bug", engine_bugs.ENGINE_BUGS, ids=lambda b: b.name)
def test_the_vectors_catch_every_realistic_engine_bug(monkeypatch, bug) -> None:
    bug.install(monkeypatch)
    caught, crashes = verdicts()
    assert crashes == [], f"{bug.name}: the engine crashed (a stale engine, not a catch): {crashes[:3]}"
    assert caught, f"{bug.name} ({bug.what}) passes every vector"
    assert caught[0].endswith(("mismatch", "error-code")), caught
