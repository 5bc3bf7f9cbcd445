"""Bundled stress scenarios: hand-computed expectations, every mechanism, and the CLI on them."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from waterfall.model.loader import catalogue, load_mechanism, load_scenario
from waterfall.model.replay import run
from waterfall.proofs.checks import CLAIMED_VIOLATED, expectation_misses, stress_scenarios, verify_mechanism
from waterfall.cli.main import main
from waterfall.spec import SCENARIOS_DIR

SCENARIOS = sorted(p.name for p in SCENARIOS_DIR.glob("*.json"))
MECHANISMS = sorted(catalogue())


@pytest.mark.parametrize("name", SCENARIOS)
def test_R_RUN_3_scenario_meets_its_hand_computed_expectations(name: str) -> None:
    sc = load_scenario(SCENARIOS_DIR / name)
    assert sc.mechanism in catalogue(), f"{name} names {sc.mechanism!r}, not in the catalogue"
    results = run(sc, load_mechanism(catalogue()[sc.mechanism]))
    assert expectation_misses(sc, results) == []


def test_R_RUN_3_a_wrong_expectation_is_reported() -> None:
    sc = load_scenario(SCENARIOS_DIR / "fund-empty.json")
    results = run(sc, load_mechanism(catalogue()["generic-socialized-loss"]))
    wrong = replace(sc, expect={**sc.expect, "collateral": {"alice": "8801"}})
    assert expectation_misses(wrong, results) == ["collateral of alice 8800 != expected 8801"]


@pytest.mark.parametrize("mech_id", MECHANISMS)
def test_R_VERIFY_1_every_mechanism_runs_every_scenario_without_crash_or_broken_claim(mech_id: str) -> None:
    mech = load_mechanism(catalogue()[mech_id])
    out = verify_mechanism(mech, stress_scenarios())
    assert out.crashes == []
    assert out.misses == []
    assert out.steps > 0
    broken = [f for f in out.findings if f.claimed]
    assert broken == [], [(f.invariant, f.scenario, f.step) for f in broken]
    assert all(out.verdict(i, True) != CLAIMED_VIOLATED for i in mech.claims)


def test_cli_run_prints_ledger_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SCENARIOS_DIR / "fund-empty.json")]) == 0
    out = capsys.readouterr().out
    assert "account alice" in out and "layer insurance_fund" in out and "R-HC-2" in out


def test_cli_run_json_gives_post_state_and_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SCENARIOS_DIR / "fund-empty.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    alice = next(a for a in doc["post_state"]["accounts"] if a["id"] == "alice")
    assert alice["collateral"] == "8800"
    haircuts = [e for s in doc["steps"] for e in s["events"] if e["rule"] == "R-HC-2"]
    assert {(e["src"], e["amount"]) for e in haircuts} == {("account:alice", "1200"), ("account:bob", "800")}


LEVY_CLAIMING_NONNEG = """
format = "waterfall-mechanism"
version = 1
id = "levy-claims-nonneg"
name = "a levy that wrongly claims no negative balances"
claims = ["I-NONNEG"]
[source]
references = ["tests/spec/test_scenarios.py"]
[[layers]]
name = "insurance_fund"
[final]
policy = "levy"
"""


def test_cli_run_exits_1_when_a_claimed_invariant_is_violated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A levy charges everyone per lot: the fill at 110 leaves a deficit of 100 over 20 lots
    of open interest (poor 10, taker 10), so poor (equity -5 + 10 = 5) pays 50 and ends at -45."""
    mech = tmp_path / "levy.toml"
    mech.write_text(LEVY_CLAIMING_NONNEG)
    scenario = {
        "format": "waterfall-scenario", "version": 1, "name": "levy-hits-a-loser",
        "state": {"markets": [{"id": "M", "mark": "100", "im_ppm": "0", "mm_ppm": "50000"}],
                  "accounts": [
                      {"id": "bust", "collateral": "0", "positions": [{"market": "M", "size": "-10", "open_notional": "-1000"}]},
                      {"id": "poor", "collateral": "-5", "positions": [{"market": "M", "size": "10", "open_notional": "1000"}]},
                      {"id": "taker", "collateral": "100000"}]},
        "ops": [{"op": "set_mark", "market": "M", "price": "101"},
                {"op": "liquidate", "account": "bust", "counterparty": "taker", "fill_prices": {"M": "110"}}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario))
    assert main(["run", str(path), "--mechanism", str(mech)]) == 1
    assert "I-NONNEG VIOLATED (claimed)" in capsys.readouterr().out


def test_cli_verify_json_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--mechanism", "generic-socialized-loss", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (row,) = doc["mechanisms"]
    assert row["id"] == "generic-socialized-loss" and row["crashes"] == [] and row["misses"] == []
    assert row["verdicts"]["I-CONS"] == "holds"
    assert len(doc["scenarios"]) == len(SCENARIOS)
