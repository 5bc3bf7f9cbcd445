"""R-EVT-1/2: the events itemise every change: replaying them on the pre-state gives the post-state."""
from __future__ import annotations

import pytest

from waterfall.model.loader import catalogue, load_mechanism, load_scenario
from waterfall.model.replay import run
from waterfall.spec import SCENARIOS_DIR

from conftest import SPEC_RULES, check_event_vocabulary, replay_events, strip


@pytest.mark.parametrize("mech_id", sorted(catalogue()))
@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS_DIR.glob("*.json")))
def test_R_EVT_2_events_replay_to_post_state(mech_id: str, scenario: str) -> None:
    mech = load_mechanism(catalogue()[mech_id])
    results = run(load_scenario(SCENARIOS_DIR / scenario), mech)
    for r in results:
        replayed = replay_events(r.pre, r.events)
        assert strip(replayed) == strip(r.post), (mech_id, scenario, r.op)


def test_event_replay_detects_a_missing_event() -> None:
    """The replayer is not vacuous: dropping one event breaks the equality."""
    mech = load_mechanism(catalogue()["generic-socialized-loss"])
    r = run(load_scenario(SCENARIOS_DIR / "fund-empty.json"), mech)[-1]
    assert len(r.events) >= 2
    assert strip(replay_events(r.pre, r.events[:-1])) != strip(r.post)


@pytest.mark.parametrize("mech_id", sorted(catalogue()))
def test_R_EVT_1_events_name_a_spec_rule_and_its_stage(mech_id: str) -> None:
    mech = load_mechanism(catalogue()[mech_id])
    for scenario in sorted(SCENARIOS_DIR.glob("*.json")):
        for r in run(load_scenario(scenario), mech):
            check_event_vocabulary(r.events, mech)


def test_R_EVT_1_the_rule_vocabulary_is_read_from_the_spec() -> None:
    """Not vacuous: the rules are parsed from spec/rules.md and include the event rules."""
    assert {"R-OP-1", "R-LIQ-3", "R-HC-4", "R-WF-5", "R-CH-3"} <= SPEC_RULES
    assert "R-OP-99" not in SPEC_RULES
