"""R-TIME-*: the clock, the previous mark, layer history and its peak over a window."""
from __future__ import annotations

import pytest

from conftest import LayerSpec, acct, apply, mech, mkstate, mkt
from waterfall.model.codec import state_from_json, state_to_json
from waterfall.model.errors import BoundExceeded, InvalidAmount, InvalidState, UnknownAccount
from waterfall.model.history import peak, prune, push
from waterfall.model.ops import AdvanceTime, SetMark
from waterfall.model.state import previous_mark, validate_state
from waterfall.model.step import step
from waterfall.model.units import MAX_INPUT


def venue(layers=None):
    return mkstate([mkt("M", 100)], {"a": acct(1000, {"M": (1, 100)}), "b": acct(1000, {"M": (-1, -100)})},
                   layers or {})


def test_R_TIME_1_advance_time_moves_the_clock_only() -> None:
    post, events = apply(venue(), AdvanceTime(3_600), mech())
    assert post.clock == 3_600 and events == []
    post, _ = apply(post, AdvanceTime(1), mech())
    assert post.clock == 3_601


@pytest.mark.parametrize("seconds, error", [(0, InvalidAmount), (-5, InvalidAmount), (MAX_INPUT + 1, BoundExceeded)])
def test_R_TIME_1_bad_durations_are_refused(seconds: int, error: type) -> None:
    with pytest.raises(error):
        step(venue(), AdvanceTime(seconds), mech())


def test_R_TIME_1_the_clock_stays_within_the_input_bound() -> None:
    st = step(venue(), AdvanceTime(MAX_INPUT), mech())[0]
    with pytest.raises(BoundExceeded):
        step(st, AdvanceTime(1), mech())


def test_R_TIME_2_set_mark_records_the_previous_mark() -> None:
    st = venue()
    assert previous_mark(st.markets["M"]) == 100  # none recorded: the mark itself
    st = apply(st, SetMark("M", 90), mech())[0]
    st = apply(st, SetMark("M", 70), mech())[0]
    assert (st.markets["M"].mark, st.markets["M"].prev_mark) == (70, 90)
    assert previous_mark(st.markets["M"]) == 90


def test_R_TIME_3_push_keeps_only_points_that_can_still_be_a_peak() -> None:
    pts = push((), 0, 100)
    pts = push(pts, 5, 80)        # lower: kept after 100
    assert pts == (0, 100, 5, 80)
    pts = push(pts, 6, 90)        # replaces 80 and starts where it did: 100 still ends at 5
    assert pts == (0, 100, 5, 90)
    pts = push(pts, 7, 100)       # at least as high as everything: alone, from 0
    assert pts == (0, 100)


def test_R_TIME_3_prune_keeps_the_balance_in_effect_when_the_window_began() -> None:
    pts = (0, 100, 10, 60, 20, 50)
    assert prune(pts, 5) == pts               # 100 was in effect at 5
    assert prune(pts, 10) == (10, 60, 20, 50)  # 60 replaced it at 10
    assert prune(pts, 25) == (20, 50)


def test_R_TIME_3_peak_over_a_window() -> None:
    history = {"f": (0, 1000, 4, 700)}
    assert peak(history, "f", 650, 6, 8) == 1000   # window [-2, 6]: 1000 in effect
    assert peak(history, "f", 650, 11, 8) == 1000  # window [3, 11]: 1000 still in effect at 3
    assert peak(history, "f", 650, 12, 8) == 700   # window [4, 12]: 700 replaced it at 4
    assert peak(history, "f", 900, 13, 8) == 900   # the current balance counts
    assert peak({}, "f", 650, 13, 8) == 650        # no history: the balance


def test_R_TIME_3_only_layers_with_a_drawdown_rule_keep_history() -> None:
    watched = mech(layers=(LayerSpec("insurance_fund", drawdown_ppm=300_000, drawdown_window=100),))
    st = venue({"insurance_fund": 500})
    post = apply(st, AdvanceTime(10), watched)[0]
    assert post.history == {"insurance_fund": (0, 500)}  # 500 at 0 and at 10: one point from 0
    assert apply(st, AdvanceTime(10), mech())[0].history == {}


def test_R_STATE_6_time_records_round_trip_through_json_and_are_checked() -> None:
    st = venue({"insurance_fund": 500})
    doc = state_to_json(st)
    assert "clock" not in doc and "layer_history" not in doc  # absent when unset
    doc.update({"clock": "50", "layer_history": {"insurance_fund": [["0", "900"], ["40", "500"]]},
                "layer_paid": {"insurance_fund:M": "7"}, "window_base": {"a": "-3"}, "deferred": {"M": "2"}})
    doc["markets"][0]["prev_mark"] = "95"
    back = state_from_json(doc)
    assert back.clock == 50 and back.history == {"insurance_fund": (0, 900, 40, 500)}
    assert back.markets["M"].prev_mark == 95 and back.window_base == {"a": -3}
    assert state_to_json(back) == doc
    validate_state(back)
    for broken, error in (({"layer_history": {"f": [["60", "1"]]}}, InvalidState),   # after the clock
                          ({"layer_history": {"f": [["9", "1"], ["3", "1"]]}}, InvalidState),  # out of order
                          ({"window_base": {"zz": "1"}}, UnknownAccount),
                          ({"deferred": {"M": "-1"}}, InvalidState)):
        with pytest.raises(error):
            validate_state(state_from_json({**doc, **broken}))
