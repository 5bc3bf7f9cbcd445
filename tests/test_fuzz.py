"""Hypothesis state machines (R-FUZZ): every catalogue mechanism keeps its claims under
random operation sequences; seeded bugs are caught; documented findings are reproduced."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from model import layers, waterfall
from model.loader import catalogue, load_mechanism, load_scenario, scenario_from_doc, scenario_mechanism
from model.replay import run
from proofs.checks import check_steps, expectation_misses
from proofs.fuzz import search
from spec import SPEC_DIR

FINDINGS_DIR = SPEC_DIR / "findings"
REGRESSIONS_DIR = Path(__file__).parent / "regressions"
MECHANISMS = sorted(catalogue())


@pytest.mark.parametrize("mech_id", MECHANISMS)
def test_R_FUZZ_1_claims_hold_under_random_sequences(mech_id: str) -> None:
    mech = load_mechanism(catalogue()[mech_id])
    tally = search(mech, frozenset(mech.claims))
    assert tally.failure is None, json.dumps(tally.failure, indent=1)
    assert tally.ran["liquidate"] > 0, "the machine must reach liquidations to test anything"
    assert tally.ran["trade"] > 0 and tally.ran["gap_move"] > 0


def drop_write_off(tx, aid, rest):  # seeded bug: an uncovered loss is dropped, not recorded
    return tx


def fund_may_go_negative(tx, spec, aid, deficit, markets):  # seeded bug: the fund pays it all
    tx.pay("R-WF-3", "layer:" + spec.name, "account:" + aid, deficit, spec.name)
    return deficit


FIND_ONLY = {"max_examples": 300, "phases": [Phase.explicit, Phase.generate]}  # shrinking takes minutes


@pytest.mark.parametrize("mech_id, target, name, bug, invariant", [
    ("hyperliquid-adl", waterfall, "finish", drop_write_off, "I-NOLOSS"),
    ("generic-socialized-loss", layers.DRAW, "balance", fund_may_go_negative, "I-FUND"),
])
def test_R_FUZZ_2_seeded_bugs_are_found_and_replay(monkeypatch: pytest.MonkeyPatch, mech_id: str, target,
                                                   name: str, bug, invariant: str) -> None:
    """The fuzzer finds each deliberately broken rule; the run it found, replayed as a
    scenario, fails the same invariant under the broken model and passes under the real one."""
    mech = load_mechanism(catalogue()[mech_id])
    if isinstance(target, dict):
        monkeypatch.setitem(target, name, bug)
    else:
        monkeypatch.setattr(target, name, bug)
    tally = search(mech, frozenset({invariant}), settings(settings(), **FIND_ONLY))
    assert tally.failure is not None and tally.failure["invariant"] == invariant
    sc = scenario_from_doc(tally.failure["scenario"])
    assert invariant in {f.invariant for f in check_steps(run(sc, mech), mech, sc.name)}
    monkeypatch.undo()  # the real model passes the same minimal sequence
    assert invariant not in {f.invariant for f in check_steps(run(sc, mech), mech, sc.name)}


DOCUMENTED = [("drift-v2", "I-NONNEG"), ("mango-v4", "I-NONNEG")]


@pytest.mark.parametrize("mech_id, invariant", DOCUMENTED)
def test_R_FUZZ_5_documented_findings_are_found_again(mech_id: str, invariant: str) -> None:
    """A design property (levies charge losers) is found by the fuzzer, not silenced. CI only
    finds it (no shrinking: minutes); the committed minimal scenario (spec/findings) was
    shrunk by a full search, which `make fuzz` repeats."""
    mech = load_mechanism(catalogue()[mech_id])
    assert invariant not in mech.claims
    tally = search(mech, frozenset({invariant}), settings(settings(), **FIND_ONLY))
    assert tally.failure is not None


@pytest.mark.parametrize("path", sorted(FINDINGS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_R_FUZZ_5_committed_findings_still_violate_their_invariant(path: Path) -> None:
    sc = load_scenario(path)
    mech = scenario_mechanism(sc)
    invariant = sc.name.rsplit("-I-", 1)[1]
    found = check_steps(run(sc, mech), mech, sc.name)
    assert [f for f in found if f.invariant == "I-" + invariant and not f.claimed]


def test_R_FUZZ_5_every_documented_finding_is_committed() -> None:
    names = {load_scenario(p).name for p in FINDINGS_DIR.glob("*.json")}
    assert {f"{m}-{i}" for m, i in DOCUMENTED} <= names


@pytest.mark.parametrize("path", sorted(REGRESSIONS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_R_FUZZ_3_regressions_replay_clean(path: Path) -> None:
    sc = load_scenario(path)
    mech = scenario_mechanism(sc)
    results = run(sc, mech)
    assert [f for f in check_steps(results, mech, sc.name) if f.claimed] == []
    assert expectation_misses(sc, results) == []


def test_R_FUZZ_6_cli_counts_rules_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from proofs.cli import main
    assert main(["fuzz", "--mechanism", "generic-socialized-loss", "--examples", "30", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["mechanisms"]
    assert entry["examples"] >= 30 and entry["violated"] is None
    assert entry["ran"]["liquidate"] > 0 and sum(entry["refused"].values()) > 0


def test_R_FUZZ_6_cli_saves_a_violation_and_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from proofs.cli import main
    monkeypatch.setattr(waterfall, "finish", drop_write_off)  # hyperliquid books every deficit as bad debt
    code = main(["fuzz", "--mechanism", "hyperliquid-adl", "--examples", "300", "--no-shrink",
                 "--save", str(tmp_path), "--json"])
    assert code == 1
    (entry,) = json.loads(capsys.readouterr().out)["mechanisms"]
    assert entry["violated"]["invariant"] in ("I-NOLOSS", "I-BUDGET")
    saved = Path(entry["violated"]["scenario"])
    assert saved.parent == tmp_path and load_scenario(saved).mechanism == "hyperliquid-adl"
