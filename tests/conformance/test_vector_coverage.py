"""R-CONF-1 (issue 21): the committed vectors reach every rule of spec/rules.md with an applied
step (counts in the manifest), the time rules at their boundaries, advance_time and
deleverage, start states with time records, exempt accounts, severity below 10^6, clocks
beyond 2^31, and chained vectors."""
from __future__ import annotations

import json
from collections import Counter

from waterfall.conformance.reach import model_rules, step_rules
from waterfall.conformance.vectors import VECTORS_DIR
from waterfall.model.codec import op_from_json, state_from_json
from waterfall.conformance.adapter import mechanism

MANIFEST = json.loads((VECTORS_DIR / "manifest.json").read_text())
DOCS = [json.loads((VECTORS_DIR / e["path"]).read_text()) for e in MANIFEST["vectors"]]


def test_every_rule_is_reached_by_an_applied_step_and_counted_in_the_manifest() -> None:
    rules = model_rules()
    assert len(rules) >= 80 and "R-WF-8b" in rules and "R-TIME-4" in rules
    assert set(MANIFEST["rules_applied"]) == set(rules) == set(MANIFEST["rules_refused"])
    missing = [r for r in rules if not r.startswith("R-ERR-") and MANIFEST["rules_applied"][r] == 0]
    assert missing == []
    assert all(MANIFEST["rules_refused"][r] > 0 for r in rules if r.startswith("R-ERR-"))


def test_step_rules_names_what_a_step_runs() -> None:
    """The reach of one step is measured, not declared: a drawdown-trigger liquidation reaches
    R-WF-8b, a deposit does not; a refused step reaches only R-ERR-*."""
    doc = next(d for d in DOCS if d["mechanism"]["id"] == "okx-adl" and any(
        st["op"]["op"] == "liquidate" and st["expect"]["ok"] for st in d["steps"]))
    mech = mechanism(doc["mechanism"])
    state = state_from_json(doc["state"])
    for st in doc["steps"]:
        ok, ids = step_rules(state, op_from_json(st["op"]), mech)
        assert ok == st["expect"]["ok"]
        if not ok:
            assert ids <= {"R-ERR-1", "R-ERR-2"}
        elif st["op"]["op"] == "deposit":
            assert "R-OP-1" in ids and "R-WF-8b" not in ids
        if ok:
            state = state_from_json(st["expect"]["state"])


def test_time_operations_records_and_boundaries_are_in_the_vectors() -> None:
    seen: Counter[str] = Counter()
    for d in DOCS:
        st0 = d["state"]
        for key in ("clock", "layer_history", "layer_paid", "window_base", "deferred", "partial_at", "assessable"):
            if st0.get(key):
                seen[f"start {key}"] += 1
        if int(st0.get("clock", "0")) > 2**31:
            seen["clock beyond 2^31"] += 1
        exempt = d["mechanism"].get("final", {}).get("exempt", [])
        if exempt and any(a["id"] in exempt for a in st0["accounts"]):
            seen["exempt account"] += 1
        if d["mechanism"].get("final", {}).get("severity_ppm", 10**6) < 10**6 and any(
                ev["rule"].startswith("R-HC") for s in d["steps"] if s["expect"]["ok"] for ev in s["expect"]["events"]):
            seen["severity below 10^6, haircut applied"] += 1
        for s in d["steps"]:
            if s["expect"]["ok"] and s["op"]["op"] in ("advance_time", "deleverage"):
                seen[f"{s['op']['op']} applied"] += 1
            if s["op"]["op"] == "advance_time" and s["op"]["seconds"] == "0":
                seen["advance_time(0) refused"] += not s["expect"]["ok"]
            if s["expect"]["ok"] and any(int(v) > 0 for v in s["expect"]["state"].get("partial_at", {}).values()):
                seen["partial_at after clock 0"] += 1
        if d.get("chain"):
            seen["chained"] += 1
            assert len(d["steps"]) >= 2 and d["id"].startswith("chain-")
    for what in ("start clock", "start layer_history", "start layer_paid", "start window_base", "start deferred",
                 "start partial_at", "start assessable", "clock beyond 2^31", "exempt account",
                 "severity below 10^6, haircut applied", "advance_time applied", "deleverage applied",
                 "advance_time(0) refused", "partial_at after clock 0", "chained"):
        assert seen[what] >= 1, (what, seen)
    assert seen["advance_time applied"] >= 200 and seen["chained"] >= 100, seen
