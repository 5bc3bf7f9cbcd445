"""The boundary scenarios of the vector generator (waterfall/conformance/edges.py, issue 21
third and fourth passes): each builder puts the value its rule tests exactly on the boundary, the model
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
    assert len(edge_cases(hl)) == vectors.EDGES + vectors.LATE_EDGES  # ranking and partial late edges apply
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
    monkeypatch.setattr(vectors, "LATE_EDGES", 0)
    without = [d["id"] for d in documents(m)]
    assert with_edges[:len(without)] == without and any(i.startswith("edge-") for i in with_edges[len(without):])


# ------------------------------------------------------------------ fourth pass: the late edges


def late(m: Mechanism) -> list[Any]:
    """The fourth-pass edges of `m` (seeds EDGES..)."""
    return [c for c in edge_cases(m) if int(c.id.partition("-")[2]) >= vectors.EDGES]


def adl_filled(m: Mechanism, case: Any) -> set[str]:
    """Accounts the bankrupt's ADL fill reached (R-ADL-1 events)."""
    _, events = first_step(m, case.state, case.ops[0])
    return {x.partition(":")[2] for e in events if e.rule == "R-ADL-1" for x in (e.src, e.dst)} - {"a"}


def test_R_CONF_1_late_edges_only_add_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    m = mech("bybit-adl")
    with_late = [d["id"] for d in documents(m)]
    monkeypatch.setattr(vectors, "LATE_EDGES", 0)
    without = [d["id"] for d in documents(m)]
    added = with_late[len(without):]
    assert with_late[:len(without)] == without and added
    assert all(int(i.partition("-")[2]) >= vectors.EDGES for i in added)
    assert not late(mech("generic-socialized-loss"))  # no rule a late builder tests: nothing drawn


@pytest.mark.parametrize("mid", ["bitmex-adl", "hyperliquid-adl", "kit-adl-profit-toward-counterparty"])
def test_R_ADL_4_ranking_edges_decide_who_takes_the_fill(mid: str) -> None:
    m = mech(mid)
    seen = {}
    for case in late(m):
        kind = next((t.partition(": ")[2] for t in case.tags if t.startswith("ADL queue")), None)
        if kind is None or kind in seen:
            continue
        state = prepare(case.state, m)
        z, y = state.accounts["z"], state.accounts["y"]
        pz, mark = z.positions["M0"], state.markets["M0"].mark
        if kind == "pnl 1":
            assert pz.size * mark - pz.open_notional == 1
        if kind == "equity <= 0":
            assert equity(state, z) <= 0 < equity(state, y)
        if kind == "entered at 1":
            assert pz.open_notional * pz.size == 1
        if kind == "one-lot long":
            assert pz.size == 1 and y.positions["M0"].size == 2
        # the boundary account ranks first only where its score is defined and the higher one
        seen[kind] = adl_filled(m, case)
    expected = {"pnl 1": {"y"}, "equity <= 0": {"y"}, "one-lot long": {"z"}, "entered at 1": {"z"},
                "one unit apart": {"z"}}
    assert seen and all(seen[k] == expected[k] for k in seen), seen
    assert len(seen) >= 2


def test_R_LEVY_7_levy_edges_split_a_deficit_without_loss_to_the_first_market() -> None:
    m = mech("drift-v2")
    whole = second = 0
    for case in late(m):
        _, events = first_step(m, case.state, case.ops[0])
        levied = {e.market for e in events if e.rule == "R-LEVY-2"}
        if any("no loss in either market" in t for t in case.tags) and levied:
            whole += levied == {"M0"}  # no loss anywhere: the first market takes the whole deficit
        if any("the second market only" in t for t in case.tags) and levied:
            second += levied == {"M1"}
    assert whole and second, (whole, second)


def test_R_HC_4_residue_of_a_settlement_haircut_is_paid_by_the_markets_sink() -> None:
    m = mech("kit-haircut-settlement-market-residue")
    paid = 0
    for case in late(m):
        (market, loss), = case.state.deferred.items()
        _, events = first_step(m, case.state, case.ops[0])
        residue = [e for e in events if e.rule == "R-HC-4"]
        if market == "M1" and residue:
            assert all(e.src == "layer:fee_pool:M1" and e.dst == "deferred:M1" for e in residue)
            paid += 1
    assert paid


def test_R_WH_4_warming_burn_skips_an_account_at_equity_zero_or_below() -> None:
    m = mech("percolator-warmup")
    burned = 0
    for case in late(m):
        if "w" not in case.state.accounts:
            continue
        state = prepare(case.state, m)
        w = equity(state, state.accounts["w"])
        _, events = first_step(m, state, case.ops[0])
        payers = {e.src for e in events if e.rule == "R-WH-4"}
        assert w <= 0 and "account:w" not in payers
        burned += "account:g" in payers and w - state.window_base["w"] > 0  # an unmatured gain at equity <= 0
    assert burned


def test_R_WH_2_withdrawal_charge_counts_no_account_at_a_gain_of_zero_or_below() -> None:
    m = mech("percolator-warmup")
    charged = 0
    for case in late(m):
        op = case.ops[0]
        if "n" not in case.state.accounts:
            continue
        state = prepare(case.state, m)
        loss = sum(state.deferred.values())
        gain = equity(state, state.accounts["a"]) - state.accounts["a"].net_deposit
        post, _ = step(state, op, m)
        charge = sum(state.deferred.values()) - sum(post.deferred.values())
        # G is the withdrawer's own gain: ceil(min(amount, gain) x L / gain)
        expect = min(loss, op.amount, -(-min(op.amount, gain) * loss // gain))
        assert charge == expect, (case.id, charge, expect)
        charged += charge == loss and gain < loss
    assert charged


def test_R_WF_14_drawdown_edges_draw_the_allowance_left_by_the_markets_drawdown() -> None:
    m = mech("bybit-adl")
    spec = m.layers[0]
    binds = replaced = 0
    for case in late(m):
        kind = next((t.rpartition(": ")[2] for t in case.tags if t.startswith("drawdown")), None)
        if kind is None:
            continue
        state = prepare(case.state, m)
        _, events = first_step(m, state, case.ops[0])
        drawn = sum(e.amount for e in events if e.src == "layer:insurance_fund")
        bal = state.layers["insurance_fund"]
        dd = state.history["insurance_fund:M0"][1]
        # the peak is the balance (the older point is replaced); a bankrupt without a position
        # belongs to no market, so no market's drawdown is taken off
        allowance = bal * spec.drawdown_ppm // PPM - (dd if kind != "bankrupt without a position" else 0)
        assert drawn <= max(0, allowance), (case.id, drawn, allowance)
        if kind == "market drawdown binds":
            binds += 0 < drawn  # the drawdown recorded for M0 lowers what the pool pays for it
        if kind == "peak replaced exactly at the window's start":
            assert state.history["insurance_fund"][2] == state.clock - spec.drawdown_window
            replaced += 0 < drawn  # with the older peak (2 x bal) the allowance would be larger
    assert binds and replaced, (binds, replaced)


def test_R_CH_5_default_fund_edges_clip_a_ceil_split_beside_the_tranche() -> None:
    m = mech("kit-ccp-alongside-ceil")
    clipped = 0
    for case in late(m):
        state = prepare(case.state, m)
        _, events = first_step(m, state, case.ops[0])
        own = sum(e.amount for e in events if e.src == "layer:ccp_second_tranche")
        members = sum(e.amount for e in events if e.src.startswith("default_fund:"))
        tranche, total = state.layers["ccp_second_tranche"], sum(state.default_fund.values())
        amount = min(-equity(state, state.accounts["a"]), total + tranche)
        assert own == amount * tranche // (total + tranche) and own + members == amount
        clipped += own > 0 and len(state.default_fund) * -(-(amount - own) // len(state.default_fund)) > amount - own
    assert clipped


def test_R_CH_4_assessment_edges_charge_nothing_to_a_member_whose_allowance_is_used_up() -> None:
    m = mech("clearing-house-vmgh")
    assessed = 0
    for case in late(m):
        if case.state.assessable.get("m1") != 0:
            continue
        _, events = first_step(m, case.state, case.ops[0])
        payers = {e.src for e in events if e.rule == "R-CH-3"}
        assert "account:m1" not in payers
        assessed += "account:m2" in payers
    assert assessed


def test_R_LIQ_6_partial_step_fee_goes_to_the_accounts_first_market() -> None:
    m = mech("kit-fund-isolated-market")  # M1 isolated: its own fund balance
    stepped = 0
    for case in late(m):
        state = prepare(case.state, m)
        assert sorted(state.markets) == ["M0", "M1"] and list(state.accounts["a"].positions) == ["M1"]
        post, events = first_step(m, state, case.ops[0])
        fees = [e for e in events if e.rule == "R-LIQ-5"]
        if post.partial_at.get("a") == state.clock and fees:
            assert all(e.dst == "layer:insurance_fund:M1" for e in fees)
            stepped += 1
    assert stepped
