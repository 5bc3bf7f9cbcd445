"""R-EVT-1/2: the events itemise every change: replaying them on the pre-state gives the post-state."""
from __future__ import annotations

import pytest

from model.events import Event
from model.loader import catalogue, load_mechanism, load_scenario
from model.replay import run
from model.state import Account, Position, State
from spec import SCENARIOS_DIR


def replay_events(pre: State, events: list[Event]) -> State:
    """Apply transfer and trade events to a state (an independent reading of R-EVT-1)."""
    accounts = {i: [a.collateral, dict(a.positions)] for i, a in pre.accounts.items()}
    layers, fund, bad_debt = dict(pre.layers), dict(pre.default_fund), pre.bad_debt

    def move(endpoint: str, delta: int) -> None:
        nonlocal bad_debt
        kind, _, name = endpoint.partition(":")
        if kind == "account":
            accounts[name][0] += delta
        elif kind == "layer":
            layers[name] = layers.get(name, 0) + delta
        elif kind == "default_fund":
            fund[name] += delta
        elif kind == "bad_debt":
            bad_debt -= delta
        else:
            assert kind in ("external", "funding"), endpoint

    for e in events:
        if e.kind == "trade":
            assert e.amount == e.size * e.price
            for name, sign in ((e.dst.split(":", 1)[1], 1), (e.src.split(":", 1)[1], -1)):
                p = accounts[name][1].get(e.market, Position(0, 0))
                accounts[name][1][e.market] = Position(p.size + sign * e.size, p.open_notional + sign * e.amount)
        else:
            assert e.kind == "transfer" and e.amount > 0, e
            move(e.src, -e.amount)
            move(e.dst, e.amount)
    return State(pre.markets, {i: Account(c, pre.accounts[i].net_deposit, {m: p for m, p in pos.items() if p != (0, 0)})
                               for i, (c, pos) in accounts.items()}, layers, fund, bad_debt)


def strip(state: State) -> tuple:
    """Balances and positions (net deposits and marks are not moved by events)."""
    return ({i: (a.collateral, {m: p for m, p in a.positions.items() if p != (0, 0)})
             for i, a in state.accounts.items()}, state.layers, state.default_fund, state.bad_debt)


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
