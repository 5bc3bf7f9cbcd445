"""R-KIT-1: `conform` ends with the model's rules the vectors that ran exercised, and those
they did not (waterfall/conformance/rule_coverage.py)."""
from __future__ import annotations

import json
import sys

from waterfall.cli.main import main
from waterfall.conformance.rule_coverage import coverage, model_rules, ranges

ADAPTER = f"{sys.executable} -m waterfall.conformance.adapter"
GENERIC = {"final": {"policy": "haircut"}}


def step(op: str, ok: bool, error: str = "", rules: tuple[str, ...] = ()) -> dict:
    expect = {"ok": True, "events": [{"rule": r} for r in rules]} if ok else {"ok": False, "error": error}
    return {"op": {"op": op}, "expect": expect}


def test_R_KIT_1_the_model_rules_are_sections_1_to_8() -> None:
    rules = model_rules()
    assert "R-UNIT-3" in rules and "R-ERR-2" in rules and "R-HC-2" in rules
    assert not [r for r in rules if r.startswith(("R-CLI-", "R-KIT-", "R-PROVE-", "R-REPORT-", "R-MECH-"))]


def test_R_KIT_1_events_applied_operations_and_refusals_each_exercise_their_rules() -> None:
    docs = [{"mechanism": GENERIC, "steps": [step("deposit", False, "E-BOUND"), step("set_mark", True),
                                             step("liquidate", True, rules=("R-LIQ-3", "R-HC-2"))]}]
    cov = coverage(docs)
    ex = cov["exercised"]
    assert ex["R-UNIT-3"] == ["E-BOUND"] and ex["R-ERR-1"] == ["E-BOUND"]
    assert ex["R-OP-4"] == ["applied"] and ex["R-HC-2"] == ["event"] and ex["R-LIQ-1"] == ["applied"]
    assert "R-OP-1" not in ex  # a refused deposit shows the bound, not the deposit rule
    assert "R-OP-2" in cov["not_exercised"] and "R-ADL-1" in cov["not_exercised"]
    assert len(ex) + len(cov["not_exercised"]) == cov["rules"]
    # E-MARGIN on a withdrawal names the warm-up rule only under a withdrawal haircut
    wh = {"final": {"policy": "withdrawal_haircut"}}
    assert "R-WH-3" not in coverage([{"mechanism": GENERIC, "steps": [step("withdraw", False, "E-MARGIN")]}])["exercised"]
    assert "R-WH-3" in coverage([{"mechanism": wh, "steps": [step("withdraw", False, "E-MARGIN")]}])["exercised"]


def test_R_KIT_1_ranges_fold_consecutive_ids() -> None:
    assert ranges(["R-ADL-1", "R-ADL-2", "R-ADL-3", "R-ADL-4a", "R-HC-1", "R-HC-3"]) == "R-ADL-1..3, R-ADL-4a, R-HC-1, R-HC-3"


def test_R_KIT_1_conform_ends_with_the_rules_exercised_and_not(capsys) -> None:
    assert main(["conform", "--impl", ADAPTER, "--mechanism", "generic-socialized-loss", "--filter", "op-deposit"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, ln in enumerate(out) if ln.startswith("rules exercised for generic-socialized-loss (R-KIT-1)"))
    assert "R-OP-1" in out[at + 2] and out[at + 4].startswith("  not exercised by any step that ran")
    assert "R-ADL-1" in out[at + 4]
    assert main(["conform", "--impl", ADAPTER, "--mechanism", "generic-socialized-loss", "--filter", "op-deposit",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "R-OP-1" in doc["rule_coverage"]["exercised"] and "R-ADL-1" in doc["rule_coverage"]["not_exercised"]
