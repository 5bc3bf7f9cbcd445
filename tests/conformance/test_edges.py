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
    # ranking and partial late edges apply, and the fifth-pass position-bound and after-ADL edges
    assert len(edge_cases(hl)) == vectors.EDGES + vectors.LATE_EDGES + vectors.FIFTH_EDGES
    plain = edge_cases(mech("generic-socialized-loss"))  # no partial, pool, fund-first or ratio rule
    assert plain and all(c.description.split(": ", 1)[1].startswith(("deficit", "clock", "drawdown", "lifetime",
                                                                      "several", "time", "a trade", "a reducing", "an ",
                                                                      "a position taken"))  # fifth pass: R-UNIT-3
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
    monkeypatch.setattr(vectors, "FIFTH_EDGES", 0)
    without = [d["id"] for d in documents(m)]
    assert with_edges[:len(without)] == without and any(i.startswith("edge-") for i in with_edges[len(without):])


# ------------------------------------------------------------------ fourth pass: the late edges


def late(m: Mechanism) -> list[Any]:
    """The fourth-pass edges of `m` (seeds EDGES..EDGES+LATE_EDGES-1)."""
    return [c for c in edge_cases(m) if vectors.EDGES <= int(c.id.partition("-")[2]) < vectors.EDGES + vectors.LATE_EDGES]


def adl_filled(m: Mechanism, case: Any) -> set[str]:
    """Accounts the bankrupt's ADL fill reached (R-ADL-1 events)."""
    _, events = first_step(m, case.state, case.ops[0])
    return {x.partition(":")[2] for e in events if e.rule == "R-ADL-1" for x in (e.src, e.dst)} - {"a"}


def test_R_CONF_1_late_edges_only_add_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    m = mech("bybit-adl")
    monkeypatch.setattr(vectors, "FIFTH_EDGES", 0)
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


# ------------------------------------------------------------------ fifth pass (issue 21e)


def fifth(m: Mechanism, tag: str = "") -> list[Any]:
    """The fifth-pass edges of `m` (seeds EDGES+LATE_EDGES..) with a tag containing `tag`; at least one."""
    start = vectors.EDGES + vectors.LATE_EDGES
    cases = [c for c in edge_cases(m) if int(c.id.partition("-")[2]) >= start and any(tag in t for t in c.tags)]
    assert cases, f"no fifth-pass edge of {m.id} is tagged {tag!r}"
    return cases


def outcome(m: Mechanism, case: Any) -> Any:
    """The first step's post-state and events, or its error code."""
    try:
        return first_step(m, case.state, case.ops[0])
    except Exception as e:  # noqa: BLE001 - a refusal is an outcome
        return getattr(e, "code", type(e).__name__)


def test_R_CONF_1_fifth_edges_only_add_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    m = mech("gmx-v2")
    with_fifth = [d["id"] for d in documents(m)]
    monkeypatch.setattr(vectors, "FIFTH_EDGES", 0)
    without = [d["id"] for d in documents(m)]
    added = with_fifth[len(without):]
    assert with_fifth[:len(without)] == without and added
    assert all(int(i.partition("-")[2]) >= vectors.EDGES + vectors.LATE_EDGES for i in added)


def test_R_POOL_3_an_order_of_zero_lots_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import waterfall.model.pool as pool
    m = mech("gmx-v2")
    cases = fifth(m, "an order of 0 lots")
    assert all(c.ops[0].size == 0 and outcome(m, c) == "E-INVALID-AMOUNT" for c in cases)
    original = pool.check_input
    monkeypatch.setattr(pool, "check_input", lambda v, f, **kw: original(v, f, **{k: x for k, x in kw.items() if k != "positive"}))
    assert all(outcome(m, c) != "E-INVALID-AMOUNT" for c in cases)  # the boundary broken: the order goes on


def test_R_POOL_3_a_one_lot_long_lands_exactly_on_the_adl_floor() -> None:
    m = mech("gmx-v2")
    policy = m.final
    at = 0
    for case in fifth(m, "at the ADL floor, the rest of the side +0"):
        state = prepare(case.state, m)
        assert state.accounts["a"].positions["M0"].size == 1 and case.ops[0].size == 1
        post, events = first_step(m, state, case.ops[0])
        tx = Tx(post)
        after, value = side_pnl(tx, policy, "M0", 1), pool_value(tx, policy)
        assert after * PPM == policy.adl_floor_ppm * value  # exactly at the floor: allowed
        at += 1
        floor_up = Mechanism(**{**m.__dict__, "final": type(policy)(**{**policy.__dict__, "adl_floor_ppm": policy.adl_floor_ppm + 1})})
        assert outcome(floor_up, case) == "E-ADL"  # one ppm higher, the same order overcorrects
    assert at
    assert {outcome(m, c) for c in fifth(m, "the rest of the side -1")} == {"E-ADL"}


def test_R_POOL_2_a_pool_with_a_cap_of_zero_pays_no_profit(monkeypatch: pytest.MonkeyPatch) -> None:
    import waterfall.model.pool_decrease as pool_decrease
    from waterfall.model.pool import capped_pnl
    m = mech("gmx-v2")
    cases = fifth(m, "a pool cap of 0")
    for case in cases:
        _, events = first_step(m, case.state, case.ops[0])
        assert [e.rule for e in events] == ["R-POOL-4"]  # the lots go to the pool; the capped PnL is 0
    monkeypatch.setattr(pool_decrease, "capped_pnl", lambda tx, p, pnl, side: max(capped_pnl(tx, p, pnl, side), min(1, pnl * 1 // side)))
    assert any("R-POOL-2" in {e.rule for e in first_step(m, c.state, c.ops[0])[1]} for c in cases)  # a cap of 1: paid


def test_R_ADL_4_a_holder_at_equity_zero_ranks_last(monkeypatch: pytest.MonkeyPatch) -> None:
    import waterfall.model.ranking as ranking
    m = mech("bitmex-adl")
    cases = fifth(m, "equity exactly 0")
    for case in cases:
        state = prepare(case.state, m)
        z = state.accounts["z"]
        pz = z.positions["M0"]
        assert equity(state, z) == 0 and pz.size * state.markets["M0"].mark - pz.open_notional < 0  # at a loss
        assert adl_filled(m, case) == {"y"}
    original = ranking.score_bitmex

    def broken(state: State, a: Any, market: str, p: Any) -> Any:  # equity 0 scored as 0 (eq < 0 for eq <= 0)
        score = original(state, a, market, p)
        return 0 if score is None and equity(state, a) == 0 and p.open_notional else score
    monkeypatch.setitem(ranking.SCORES, "bitmex", broken)
    assert any(adl_filled(m, c) == {"z"} for c in cases)


@pytest.mark.parametrize("mid", ["kit-adl-profit-toward-counterparty", "dydx-v4-deleveraging"])
def test_R_ADL_6_a_counterparty_left_exactly_at_its_limit_is_filled(mid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import waterfall.model.adl as adl
    m = mech(mid)
    cases = [c for c in fifth(m, "check) left at") if any(t.endswith(" +0") for t in c.tags)]
    for case in cases:
        state = prepare(case.state, m)
        post, _ = first_step(m, state, case.ops[0])
        left = post.accounts["j"].positions.get("M0")
        assert left is None or left.size == 0  # j took the whole fill
        limit = 0  # 'equity': >= 0; 'margin_ratio': its initial requirement after the fill, 0 here
        assert equity(post, post.accounts["j"]) == limit
        assert "j" in adl_filled(m, case)
    original = adl.passes_check
    if mid == "dydx-v4-deleveraging":  # the released initial requirement rounded down: 1 more left after
        import waterfall.model.fill_price as fp

        def broken(tx: Any, policy: Any, j: str, market: str, side: int, q: int, quote: int) -> bool:
            eq_after = tx.equity(j) + side * (quote - q * tx.markets[market].mark)
            mk = tx.markets[market]
            lots = abs(tx.accounts[j].positions[market].size)
            rem = (lots * mk.mark * mk.im_ppm) % PPM != 0 and lots == q
            return original(tx, policy, j, market, side, q, quote) and not (rem and eq_after == 0)
        assert fp  # the mutant lives in fill_price; adl imports it by name
    else:
        def broken(tx: Any, policy: Any, j: str, market: str, side: int, q: int, quote: int) -> bool:
            eq_after = tx.equity(j) + side * (quote - q * tx.markets[market].mark)
            return original(tx, policy, j, market, side, q, quote) and eq_after >= 1
    monkeypatch.setattr(adl, "passes_check", broken)
    assert all("j" not in adl_filled(m, c) for c in cases)


def test_R_WH_2_amount_charge_counts_only_positive_equity(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    stepmod = importlib.import_module("waterfall.model.step")  # the package exports the function `step`
    import waterfall.model.withdrawal as withdrawal
    m = mech("paradex-withdrawal-haircut")
    beside = fifth(m, "accounts at equity 0")
    none = fifth(m, "every account at equity <= 0")
    for case in beside:
        state = prepare(case.state, m)
        loss, coll = sum(state.deferred.values()), state.accounts["a"].collateral  # 'a' alone in C
        _, events = first_step(m, state, case.ops[0])
        charge = sum(e.amount for e in events if e.rule == "R-WH-2")
        assert charge == min(loss, case.ops[0].amount, -(-case.ops[0].amount * loss // coll))
    assert {outcome(m, c) for c in none} == {"E-MARGIN"}  # C = 0: no charge, and the withdrawal fails margin
    original = withdrawal.withdrawal_charge

    def broken(tx: Any, mech_: Any, aid: str, amount: int) -> int:  # max(1, equity) in C
        extra = sum(1 for i in tx.accounts if tx.equity(i) <= 0)
        loss = withdrawal.live_shortfall(tx, mech_)
        total = sum(max(0, tx.equity(i)) for i in tx.accounts) + extra
        return min(loss, amount, -(-amount * loss // total)) if loss > 0 else original(tx, mech_, aid, amount)
    changed = 0
    for case in beside:
        _, want = first_step(m, case.state, case.ops[0])
        monkeypatch.setattr(stepmod, "withdrawal_charge", broken)
        _, events = first_step(m, case.state, case.ops[0])
        monkeypatch.setattr(stepmod, "withdrawal_charge", original)
        changed += events != want
    assert changed == len(beside)  # each account at equity 0 counted as 1: a smaller charge

    def crashes(tx: Any, mech_: Any, aid: str, amount: int) -> int:  # total < 0 for total <= 0
        loss = withdrawal.live_shortfall(tx, mech_)
        total = sum(max(0, tx.equity(i)) for i in tx.accounts)
        return 0 if loss <= 0 or total < 0 else min(loss, amount, -(-amount * loss // total))
    monkeypatch.setattr(stepmod, "withdrawal_charge", crashes)
    assert {outcome(m, c) for c in none} == {"ZeroDivisionError"}


def test_R_HC_1_a_net_pnl_of_one_is_profitable(monkeypatch: pytest.MonkeyPatch) -> None:
    import waterfall.model.haircut as haircut
    m = mech("kit-haircut-ceil-total-gain")
    cases = fifth(m, "is 1")
    for case in cases:
        state = prepare(case.state, m)
        p = state.accounts["p"]
        assert sum(q.size * state.markets[k].mark - q.open_notional for k, q in p.positions.items()) == 1
        _, events = first_step(m, state, case.ops[0])
        assert any(e.rule == "R-HC-2" and e.src == "account:p" for e in events)
    original = haircut.haircut_base

    def broken(tx: Any, policy: Any, aid: str, markets: list[str]) -> Any:  # net and total <= 1
        ids, weights = original(tx, policy, aid, markets)
        keep = [k for k, i in enumerate(ids) if sum(q.size * tx.markets[x].mark - q.open_notional
                                                     for x, q in tx.accounts[i].positions.items()) > 1]
        return [ids[k] for k in keep], [weights[k] for k in keep]
    monkeypatch.setattr(haircut, "haircut_base", broken)
    for case in cases:
        _, events = first_step(m, case.state, case.ops[0])
        assert not any(e.rule == "R-HC-2" and e.src == "account:p" for e in events)


def test_R_UNIT_3_a_position_of_exactly_ten_to_the_eighteen_lots() -> None:
    m = mech("generic-socialized-loss")
    seen = set()
    for case in fifth(m, "a position taken to 10^18"):
        off = int(next(t for t in case.tags if "10^18" in t).split()[-2])
        result = outcome(m, case)
        if off <= 0:
            post, _ = result
            assert post.accounts["a"].positions["M0"].size == 10**18 + off
        else:
            assert result == "E-BOUND"
        seen.add(off)
    assert {0, 1} <= seen


@pytest.mark.parametrize("mid", ["hyperliquid-adl", "kit-adl-ratio-previous-mark"])
def test_R_WF_12_the_after_adl_layer_pays_for_a_bankrupt_without_a_position(mid: str) -> None:
    m = mech(mid)
    cases = fifth(m, "a bankrupt without a position")
    for case in cases:
        state = prepare(case.state, m)
        _, events = first_step(m, state, case.ops[0])
        deficit = -state.accounts["a"].collateral
        paid = sum(e.amount for e in events if e.rule == "R-WF-3" and e.src == "layer:backstop")
        assert paid == min(deficit, state.layers["backstop"]) > 0  # nothing to deleverage: it pays at once


def test_R_WF_10_a_venue_of_isolated_markets_only_has_no_shared_key() -> None:
    m = mech("kit-fund-isolated-market")  # M1 isolated
    cases = fifth(m, "isolated markets only")
    for case in cases:
        state = prepare(case.state, m)
        assert sorted(state.markets) == ["M1"] and sorted(state.layers) == ["insurance_fund:M1"]
        post, events = first_step(m, state, case.ops[0])
        assert sorted(post.layers) == ["insurance_fund:M1"]  # the shared NAME key is never added
        assert all(e.src == "layer:insurance_fund:M1" for e in events if e.rule == "R-WF-3")
