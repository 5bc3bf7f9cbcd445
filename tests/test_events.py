"""R-EVT-1/2: the events itemise every change: replaying them on the pre-state gives the post-state."""
from __future__ import annotations

import pytest

from model.loader import catalogue, load_mechanism, load_scenario
from model.replay import run
from spec import SCENARIOS_DIR

from conftest import replay_events, strip


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
