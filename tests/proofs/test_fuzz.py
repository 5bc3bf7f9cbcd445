"""Hypothesis state machines (R-FUZZ): every catalogue mechanism keeps its claims under
random operation sequences; seeded bugs are caught; documented findings are reproduced."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from waterfall.model import waterfall
from waterfall.model.loader import catalogue, load_mechanism, load_scenario, scenario_from_doc, scenario_mechanism
from waterfall.model.replay import run
from waterfall.proofs.checks import check_steps, expectation_misses
from waterfall.proofs.fuzz.machines import Tally, save_scenario, search
from seeded_bugs import SEEDED_BUGS, SeededBug, apply
from waterfall.spec import FINDINGS_DIR, REGRESSIONS_DIR

MECHANISMS = sorted(catalogue())
# The reach check below needs a budget with room: a derandomized run's draws shift whenever a
# literal of waterfall's modules changes (Hypothesis' local constants, tests/conftest.py), and
# 40 runs once left bitmex-adl without a trade and bitmex-2015 without a liquidation.
REACH_EXAMPLES = 120


def reached(tally: Tally) -> bool:
    """The machine traded, moved prices by gaps and liquidated at least once each."""
    return all(tally.ran[rule] > 0 for rule in ("liquidate", "trade", "gap_move"))


@pytest.mark.parametrize("mech_id", MECHANISMS)
def test_R_FUZZ_1_claims_hold_under_random_sequences(mech_id: str) -> None:
    mech = load_mechanism(catalogue()[mech_id])
    tally = search(mech, frozenset(mech.claims))
    if not tally.failure and not reached(tally) and settings().max_examples < REACH_EXAMPLES:
        # the profile's budget fell short of the rules to test: the same runs again, and more
        tally = search(mech, frozenset(mech.claims), settings(settings(), max_examples=REACH_EXAMPLES))
    if tally.failure:  # keep the shrunk sequence: test_R_FUZZ_3 replays it from then on
        saved = save_scenario(tally.failure["scenario"], REGRESSIONS_DIR)
        pytest.fail(f"{tally.failure['invariant']} violated; minimal sequence saved to {saved} "
                    f"(replay: waterfall run {saved}); add an `expect` block once fixed")
    seen = (dict(tally.ran), dict(tally.refused), dict(tally.no_candidate))
    assert tally.ran["liquidate"] > 0, ("the machine must reach liquidations to test anything", seen)
    assert tally.ran["trade"] > 0 and tally.ran["gap_move"] > 0, seen


def in_usdc(mech):
    """A catalogue mechanism whose amounts are in 1e-6 USDC, restated with 1 USDC as the unit
    the fuzzer's venues use (marks 50-2,000, sizes up to 400), so that thresholds of
    thousands of USDC bind there too: partial liquidation steps (R-LIQ-6), the per-event
    insurance cap."""
    from dataclasses import replace
    rule = mech.liquidation
    unit = 10**6
    liq = replace(rule, step_threshold=rule.step_threshold // unit, step_min_notional=rule.step_min_notional // unit,
                  step_max_notional=rule.step_max_notional // unit)
    layers = tuple(replace(s, cap_per_event=s.cap_per_event // unit if s.cap_per_event else 0) for s in mech.layers)
    return replace(mech, liquidation=liq, layers=layers)


@pytest.mark.parametrize("mech_id", ["hyperliquid-adl", "dydx-v4-deleveraging"])
def test_R_FUZZ_1_partial_liquidation_rules_hold_at_the_fuzzers_scale(mech_id: str) -> None:
    """The partial steps (R-LIQ-6) of the catalogue's files, with their USDC thresholds in the
    fuzzer's unit, keep every claim; the machine reaches partial steps."""
    from waterfall.model import partial
    from waterfall.proofs.fuzz import machines as fuzz
    mech = in_usdc(load_mechanism(catalogue()[mech_id]))
    steps = []
    original = partial.partial_step

    def counted(*args):
        out = original(*args)
        steps.append(out is not None)
        return out
    partial.partial_step = counted
    waterfall.partial_step = counted
    rules = fuzz.RULES  # the swarm draws among the moves that lead to steps
    fuzz.RULES = ("margin_call", "liquidate", "trade", "small_move", "advance_time", "deposit")
    try:
        tally = search(mech, frozenset(mech.claims), settings(settings(), max_examples=150))
    finally:
        partial.partial_step = original
        waterfall.partial_step = original
        fuzz.RULES = rules
    assert tally.failure is None, tally.failure and tally.failure["invariant"]
    assert any(steps), f"no partial step reached ({len(steps)} tried, {dict(tally.ran)})"


def drop_write_off(tx, aid, rest):  # an uncovered loss is dropped, not recorded (CLI test below)
    return tx


FIND_ONLY = {"max_examples": 300, "phases": [Phase.explicit, Phase.generate]}  # shrinking takes minutes


ADL_BUGS = [b for b in SEEDED_BUGS if b.mechanism == "bitmex-adl"]


@pytest.mark.parametrize("bug", ADL_BUGS, ids=lambda b: b.name)
def test_R_FUZZ_2_adl_seeded_bugs_are_refuted_on_a_ranked_queue(monkeypatch: pytest.MonkeyPatch,
                                                                 bug: SeededBug) -> None:
    """Besides the fuzzer (below), the ADL bugs are refuted on the hand-built queue of
    test_mechanisms: bitmex order s3, s1 (ids s1, s2, s3), 100 lots against a long of 50."""
    ranking_state = _model_test("test_mechanisms").ranking_state
    from waterfall.model.ops import Liquidate
    from waterfall.model.step import step
    from waterfall.spec.invariants import REGISTRY
    mech = load_mechanism(catalogue()["bitmex-adl"])
    pre, op = ranking_state(), Liquidate("B")
    def broken() -> set[str]:
        post, ev = step(pre, op, mech)
        return {i for i in bug.catches if not REGISTRY[i].holds(pre, op, post, ev, mech)}
    assert broken() == set()
    apply(bug, monkeypatch)
    assert broken()


@pytest.mark.parametrize("bug", SEEDED_BUGS, ids=lambda b: b.name)
def test_R_FUZZ_2_seeded_bugs_are_found_and_replay(monkeypatch: pytest.MonkeyPatch, bug: SeededBug) -> None:
    """The fuzzer refutes each deliberately broken rule; the run it found, replayed as a
    scenario, fails one of the expected invariants under the broken model and none of them
    under the real one."""
    mech = bug.adapt(load_mechanism(catalogue()[bug.mechanism]))
    apply(bug, monkeypatch)
    tally = search(mech, bug.catches, settings(settings(), **{**FIND_ONLY, "max_examples": bug.examples}))
    assert tally.failure is not None and tally.failure["invariant"] in bug.catches
    sc = scenario_from_doc(tally.failure["scenario"])
    assert bug.catches & {f.invariant for f in check_steps(run(sc, mech), mech, sc.name)}
    monkeypatch.undo()
    assert not bug.catches & {f.invariant for f in check_steps(run(sc, mech), mech, sc.name)}


DOCUMENTED = [("drift-v2", "I-NONNEG"), ("mango-v4", "I-NONNEG"), ("hyperliquid-adl", "I-NONNEG")]


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
    from waterfall.cli.main import main
    assert main(["fuzz", "--mechanism", "generic-socialized-loss", "--examples", "30", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["mechanisms"]
    assert entry["examples"] >= 30 and entry["violated"] is None
    assert entry["ran"]["liquidate"] > 0 and sum(entry["refused"].values()) > 0


def test_R_FUZZ_6_cli_saves_a_violation_and_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from waterfall.cli.main import main
    monkeypatch.setattr(waterfall, "finish", drop_write_off)  # hyperliquid books every deficit as bad debt
    code = main(["fuzz", "--mechanism", "hyperliquid-adl", "--examples", "300", "--no-shrink",
                 "--save", str(tmp_path), "--json"])
    assert code == 1
    (entry,) = json.loads(capsys.readouterr().out)["mechanisms"]
    assert entry["violated"]["invariant"] in ("I-NOLOSS", "I-BUDGET")
    saved = Path(entry["violated"]["scenario"])
    assert saved.parent == tmp_path and load_scenario(saved).mechanism == "hyperliquid-adl"


def test_R_FUZZ_7_a_failure_found_once_is_replayed_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from waterfall.cli.main import main
    monkeypatch.setattr(waterfall, "finish", drop_write_off)
    argv = ["fuzz", "--mechanism", "hyperliquid-adl", "--examples", "300", "--no-shrink", "--save",
            str(tmp_path / "found"), "--database", str(tmp_path / "db"), "--json"]
    assert main(argv) == 1
    first = json.loads(capsys.readouterr().out)
    assert first["database"] == str(tmp_path / "db") and any((tmp_path / "db").rglob("*"))
    assert main(argv) == 1
    (again,) = json.loads(capsys.readouterr().out)["mechanisms"]
    # the stored failure, replayed before anything is generated (and once more as Hypothesis
    # reports it); a search without the database needs several runs in most seeds
    assert again["examples"] == 2
    assert main(argv[:-3] + ["--no-database", "--json"]) == 1  # without it: found afresh
    (fresh,) = json.loads(capsys.readouterr().out)["mechanisms"]
    assert fresh["violated"]["invariant"] == again["violated"]["invariant"]


def test_R_FUZZ_7_each_mechanism_has_its_own_database_key() -> None:
    from hypothesis.internal.reflection import function_digest
    from waterfall.proofs.fuzz.machines import Tally, machine_for
    keys = {function_digest(machine_for(load_mechanism(p), frozenset(), Tally())) for p in catalogue().values()}
    assert len(keys) == len(catalogue())


def test_R_FUZZ_7_campaign_targets_are_what_hypofuzz_collects() -> None:
    """HypoFuzz (make fuzz-campaign) fuzzes a RuleBasedStateMachine.TestCase whose settings
    are not derandomized, generate, and use the loaded profile's database; under the "fuzz"
    profile that is database_path() (here the test's temporary one)."""
    import fuzz_targets
    from hypothesis import HealthCheck, Phase, settings
    from waterfall.proofs.fuzz.machines import database_path
    assert sorted(fuzz_targets.TARGETS) == sorted(f"TestFuzz_{m.replace('-', '_')}" for m in catalogue())
    fuzz = settings.get_profile("fuzz")
    assert not fuzz.derandomize and Phase.generate in fuzz.phases
    assert HealthCheck.nested_given not in fuzz.suppress_health_check  # else HypoFuzz skips every target
    assert fuzz.database is not None
    for case in fuzz_targets.TARGETS.values():
        assert hasattr(case.runTest, "_hypothesis_state_machine_class")
    assert database_path() == Path(os.environ["WATERFALL_FUZZ_DB"])  # set by conftest: never the checkout's


def _model_test(name: str) -> Any:
    """A module of tests/model by its file (importable whichever test folders are collected)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "model" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
