"""The boundary scenarios of the vector generator (waterfall/conformance/edges.py, issue 21
third pass): each builder puts the value its rule tests exactly on the boundary, the model
applies the step there, and the scenarios only add vectors (the generated ones are unchanged)."""
from __future__ import annotations

from typing import Any

import pytest

from waterfall.conformance import vectors
from waterfall.conformance.kit import kit_mechanisms
from waterfall.conformance.vectors import documents, edge_cases
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Liquidate, Trade
from waterfall.model.pool import pool_value, side_factor, side_pnl
from waterfall.model.replay import prepare
from waterfall.model.state import State, equity, margin_requirement
from waterfall.model.step import step
from waterfall.model.tx import Tx
from waterfall.model.units import PPM


def mech(mid: str) -> Mechanism:
    kit = {m.id: m for m in kit_mechanisms()}
    return kit[mid] if mid in kit else load_mechanism(catalogue()[mid])


def first_step(m: Mechanism, state: State, op: Any) -> tuple[State, list[Any]]:
    post, events = step(prepare(state, m), op, m)
    return post, events


def test_R_CONF_1_edges_are_deterministic_and_generic_without_their_rules() -> None:
    hl = mech("hyperliquid-adl")
    assert [(c.state, c.ops) for c in edge_cases(hl)] == [(c.state, c.ops) for c in edge_cases(hl)]
    assert len(edge_cases(hl)) == vectors.EDGES
    plain = edge_cases(mech("generic-socialized-loss"))  # no partial, pool, fund-first or ratio rule
    assert plain and all(c.description.split(": ", 1)[1].startswith(("deficit", "clock", "drawdown", "lifetime",
                                                                      "several", "time", "a trade", "a reducing", "an "))
                         for c in plain)


def test_R_OP_3_edges_close_a_position_to_zero_below_initial_margin() -> None:
    m = mech("generic-socialized-loss")
    closed = 0
    for case in edge_cases(m):
        op = case.ops[0]
        if not isinstance(op, Trade):
            continue
        state = prepare(case.state, m)
        a = state.accounts["a"]
        if op.size != abs(a.positions[op.market].size):
            continue
        post, _ = step(state, op, m)  # a trade to zero needs no initial margin: applied
        below = equity(post, post.accounts["a"]) < margin_requirement(post, post.accounts["a"], initial=True)
        closed += op.market not in post.accounts["a"].positions and below and len(a.positions) == 2
    assert closed


def test_R_WF_1_edges_bankrupt_by_exactly_one_with_layers_at_their_reserve() -> None:
    m = mech("kit-levy-floor-ceil")  # insurance_fund with reserve 5, then a levy
    by_one = at_reserve = 0
    for case in edge_cases(m):
        a = case.state.accounts["a"]
        if equity(case.state, a) == -1 and margin_requirement(case.state, a, initial=False) > 0:
            by_one += 1
            at_reserve += case.state.layers.get("insurance_fund") in (4, 5, 6)
    assert by_one and at_reserve, (by_one, at_reserve)


def test_R_LIQ_6_edges_reach_the_threshold_the_floor_and_the_cooldown() -> None:
    m = mech("hyperliquid-adl")
    rule = m.liquidation
    at_threshold = one_lot = least_eligible = under_floor = cooldown = 0
    for case in edge_cases(m):
        if not isinstance(case.ops[0], Liquidate) or len(case.ops) != 3:  # the partial edges only
            continue
        a = case.state.accounts["a"]
        notionals = {k: abs(p.size) * case.state.markets[k].mark for k, p in a.positions.items()}
        eq, mm = equity(case.state, a), margin_requirement(case.state, a, initial=False)
        post, _ = first_step(m, case.state, case.ops[0])
        partial = post.partial_at.get("a") == case.state.clock
        if rule.step_threshold in notionals.values() and max(notionals.values()) > rule.step_threshold:
            at_threshold += partial
        if any(p.size == 1 and notionals[k] > rule.step_threshold for k, p in a.positions.items()):
            one_lot += partial
        if eq * PPM >= rule.step_min_margin_ppm * mm > (eq - 1) * PPM and eq >= 0:
            least_eligible += 1
        if 0 <= eq and eq * PPM < rule.step_min_margin_ppm * mm:
            under_floor += not partial  # below the floor: the whole position goes, never a step
        last = case.state.partial_at.get("a")
        if last is not None and 0 <= case.state.clock - last < rule.step_cooldown:
            cooldown += not partial
    assert at_threshold and one_lot and least_eligible and under_floor and cooldown, \
        (at_threshold, one_lot, least_eligible, under_floor, cooldown)


def test_R_POOL_2_edges_pay_a_pnl_of_one_above_the_cap_and_trade_with_a_funded_pool() -> None:
    m = mech("gmx-v2")
    policy = m.final
    floored = opened = 0
    for case in edge_cases(m):
        state, op = prepare(case.state, m), case.ops[0]
        if not isinstance(op, Trade) or "pool" not in (op.buyer, op.seller):
            continue
        trader = op.seller if op.buyer == "pool" else op.buyer
        pos = state.accounts[trader].positions.get(op.market)
        try:
            post, events = step(state, op, m)
        except Exception:
            continue
        tx = Tx(state)
        if pos is not None and pos.size * (1 if op.buyer == trader else -1) < 0 and op.size == abs(pos.size):
            pnl = pos.size * op.price - pos.open_notional
            side = side_pnl(tx, policy, op.market, 1 if pos.size > 0 else -1)
            cap = pool_value(tx, policy) * side_factor(policy, policy.max_pnl_factor_ppm) // PPM
            if pnl == 1 and side > cap:  # floor(1 x cap / side) = 0: no R-POOL-2 payment
                floored += not any(e.rule == "R-POOL-2" for e in events)
        if pos is None:
            opened += post.accounts[trader].positions[op.market].size != 0
    assert floored and opened, (floored, opened)


def test_R_ADL_6b_edges_give_a_counterparty_with_no_requirement_a_fill_at_the_previous_mark() -> None:
    m = mech("kit-adl-ratio-previous-mark")
    gained = 0
    for case in edge_cases(m):
        op = case.ops[0]
        if not (isinstance(op, Liquidate) and "j" in case.state.accounts):
            continue
        state = prepare(case.state, m)
        j = state.accounts["j"]
        if margin_requirement(state, j, initial=False) != 0 or equity(state, j) >= margin_requirement(state, j, initial=True):
            continue
        post, _ = step(state, op, m)
        gained += equity(post, post.accounts["j"]) > equity(state, j)
    assert gained  # R-ADL-6b's zero-requirement branch allows the fill (equity rises)


def test_R_ADL_7_edges_leave_equity_exactly_zero_after_the_fill() -> None:
    m = mech("binance-adl")
    exact = 0
    for case in edge_cases(m):
        op = case.ops[0]
        if not isinstance(op, Liquidate) or len(op.fill_prices) != 1:  # deficit edges: at mark; close edges: trades
            continue
        state = prepare(case.state, m)
        (market, fill), = op.fill_prices.items()
        p = state.accounts["a"].positions[market]
        exact += equity(state, state.accounts["a"]) + p.size * fill - p.size * state.markets[market].mark == 0
    assert exact


def test_R_CONF_1_edges_only_add_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    m = mech("hyperliquid-adl")
    with_edges = [d["id"] for d in documents(m)]
    monkeypatch.setattr(vectors, "EDGES", 0)
    without = [d["id"] for d in documents(m)]
    assert with_edges[:len(without)] == without and any(i.startswith("edge-") for i in with_edges[len(without):])
