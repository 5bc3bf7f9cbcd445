"""R-OP-*, R-PNL-*, R-MARGIN-*, R-UNIT-*, R-STATE-*, R-EVT-*, R-FMT-*, R-RUN-*: the plain
operations, the arithmetic they rest on, and the JSON forms."""
from __future__ import annotations

import copy

import pytest

from conftest import LayerSpec, Levy, acct, apply, eq_of, mech, mkstate, mkt, pos, trades, transfers
from waterfall.model.codec import op_from_json, op_to_json, state_from_json, state_to_json
from waterfall.model.errors import BoundExceeded, InsufficientMargin, InvalidAmount, InvalidState, UnknownMarket
from waterfall.model.events import Event
from waterfall.model.loader import Scenario
from waterfall.model.ops import Deposit, Funding, Liquidate, SetMark, Trade, Withdraw
from waterfall.model.replay import prepare, run
from waterfall.model.state import (Position, State, account_upnl, margin_requirement, notional, upnl,
                         validate_state, value)
from waterfall.model.step import step
from waterfall.model.tx import Tx
from waterfall.model.units import MAX_INPUT, check_input, div_ceil, div_floor, ppm_of

MECH = mech()


def one_market(**accounts) -> State:
    return mkstate([mkt("M", 50)], accounts)


# --------------------------------------------------------------------------- R-OP-1..5

def test_R_OP_1_deposit_adds_collateral_and_net_deposit() -> None:
    st = one_market(a=acct(100))
    post, ev = apply(st, Deposit("a", 50), MECH)
    # 100 + 50
    assert post.accounts["a"].collateral == 150
    assert post.accounts["a"].net_deposit == 150
    assert transfers(ev) == [("external", "account:a", 50)]
    assert ev[0].rule == "R-OP-1"
    assert value(post) == value(st) + 50


def test_R_OP_2_withdraw_removes_collateral_and_net_deposit() -> None:
    st = one_market(a=acct(100))
    post, ev = apply(st, Withdraw("a", 30), MECH)
    # 100 - 30; no positions, so equity 70 >= initial margin 0
    assert post.accounts["a"].collateral == 70
    assert post.accounts["a"].net_deposit == 70
    assert transfers(ev, "R-OP-2") == [("account:a", "external", 30)]


def test_R_OP_2_withdraw_may_leave_exactly_initial_margin_but_not_less() -> None:
    # long 2 lots at entry 50 = mark 50 -> upnl 0; IM = ceil(2*50*100_000/1e6) = 10.
    st = one_market(a=acct(20, {"M": (2, 100)}), b=acct(1000, {"M": (-2, -100)}))
    post, _ = apply(st, Withdraw("a", 10), MECH)     # equity 10 = IM: allowed
    assert eq_of(post, "a") == 10
    with pytest.raises(InsufficientMargin):
        apply(st, Withdraw("a", 11), MECH)           # equity 9 < 10: refused


def test_R_OP_2_withdrawal_above_collateral_is_refused_even_if_equity_covers_margin() -> None:
    # Set up: a long 2 from 40 at mark 50: open notional 80, upnl 100 - 80 = +20; collateral
    # 10 -> equity 30; IM = ceil(2 * 50 * 10 %) = 10.
    st = one_market(a=acct(10, {"M": (2, 80)}), b=acct(1000, {"M": (-2, -80)}))
    before = copy.deepcopy(st)
    # Act: withdraw 11 > collateral 10. Equity afterwards would be 19 >= IM 10, so only the
    # "exceeds collateral" half of R-OP-2 can refuse it.
    with pytest.raises(InsufficientMargin) as info:
        step(st, Withdraw("a", 11), MECH)
    # Check
    assert info.value.code == "E-MARGIN" and info.value.where["account"] == "a"
    assert "exceeds collateral 10" in str(info.value)
    assert st == before
    # exactly the collateral is allowed: collateral 0, equity 20 >= 10
    post, _ = apply(st, Withdraw("a", 10), MECH)
    assert post.accounts["a"].collateral == 0 and eq_of(post, "a") == 20


def test_R_OP_3_trade_moves_size_and_open_notional_mirror_image() -> None:
    st = one_market(a=acct(100), b=acct(100))
    post, ev = apply(st, Trade("a", "b", "M", 2, 60), MECH)
    # a buys 2 at 60: (2, 120); b sells: (-2, -120).
    assert pos(post, "a", "M") == (2, 120)
    assert pos(post, "b", "M") == (-2, -120)
    # at mark 50: a upnl = 100 - 120 = -20, b upnl = -100 + 120 = +20
    assert eq_of(post, "a") == 80 and eq_of(post, "b") == 120
    assert trades(ev) == [("account:b", "account:a", "M", 2, 60)]
    assert ev[0].amount == 120


def test_R_OP_3_opening_trade_needs_initial_margin_for_each_side() -> None:
    # a buys 2 at 50: IM = ceil(100 * 0.1) = 10; a has 10 -> allowed; with 9 -> refused.
    ok = one_market(a=acct(10), b=acct(100))
    apply(ok, Trade("a", "b", "M", 2, 50), MECH)
    short = one_market(a=acct(9), b=acct(100))
    with pytest.raises(InsufficientMargin) as e:
        apply(short, Trade("a", "b", "M", 2, 50), MECH)
    assert "'a'" in str(e.value)
    # the seller is checked too
    with pytest.raises(InsufficientMargin) as e:
        apply(one_market(a=acct(100), b=acct(9)), Trade("a", "b", "M", 2, 50), MECH)
    assert "'b'" in str(e.value)


def test_R_OP_3_reducing_trade_is_not_margin_checked_but_flipping_is() -> None:
    # a: long 2 at 50 with collateral 0 -> equity 0 < IM 10; selling 1 reduces: allowed.
    st = one_market(a=acct(0, {"M": (2, 100)}), b=acct(1000, {"M": (-2, -100)}), c=acct(1000))
    post, _ = apply(st, Trade("c", "a", "M", 1, 50), MECH)
    assert pos(post, "a", "M") == (1, 50)
    # selling 3 flips a to short 1: IM = ceil(50 * 0.1) = 5 > equity 0 -> refused.
    with pytest.raises(InsufficientMargin):
        apply(st, Trade("c", "a", "M", 3, 50), MECH)


def test_R_OP_3_closing_trade_keeps_realised_pnl_as_open_notional() -> None:
    st = one_market(a=acct(0, {"M": (2, 100)}), b=acct(1000, {"M": (-2, -100)}), c=acct(1000))
    # a sells its 2 at 60: ON = 100 - 120 = -20, size 0 -> kept as realised PnL +20.
    post, _ = apply(st, Trade("c", "a", "M", 2, 60), MECH)
    assert post.accounts["a"].positions["M"] == Position(0, -20)
    assert eq_of(post, "a") == 20
    # sold at 50 instead: ON = 0 and size 0 -> the position disappears.
    post, _ = apply(st, Trade("c", "a", "M", 2, 50), MECH)
    assert "M" not in post.accounts["a"].positions


def test_R_OP_4_set_mark_moves_pnl_but_not_value() -> None:
    st = one_market(a=acct(100, {"M": (2, 100)}), b=acct(100, {"M": (-2, -100)}))
    post, ev = apply(st, SetMark("M", 70), MECH)
    assert post.markets["M"].mark == 70 and st.markets["M"].mark == 50
    # a: 100 + 140 - 100 = 140; b: 100 - 140 + 100 = 60; total still 200
    assert eq_of(post, "a") == 140 and eq_of(post, "b") == 60
    assert ev == []
    assert value(post) == value(st) == 200


def test_R_OP_5_funding_longs_pay_shorts_when_rate_positive() -> None:
    st = one_market(a=acct(100, {"M": (3, 150)}), b=acct(100, {"M": (-1, -50)}),
                    c=acct(100, {"M": (-2, -100)}))
    post, ev = apply(st, Funding("M", 2), MECH)
    # a pays 3*2 = 6; b receives 1*2 = 2; c receives 2*2 = 4
    assert [post.accounts[i].collateral for i in "abc"] == [94, 102, 104]
    assert sorted(transfers(ev, "R-OP-5")) == sorted([("account:a", "funding:M", 6),
                                                       ("funding:M", "account:b", 2),
                                                       ("funding:M", "account:c", 4)])
    # negative rate: the other way round
    post, _ = apply(st, Funding("M", -2), MECH)
    assert [post.accounts[i].collateral for i in "abc"] == [106, 98, 96]
    # zero rate moves nothing
    post, ev = apply(st, Funding("M", 0), MECH)
    assert ev == [] and post.accounts == st.accounts


def test_R_OP_3_opening_one_lot_from_flat_is_margin_checked() -> None:
    # a (no collateral) buys 1 lot at 50: IM = ceil(50 * 0.1) = 5 > equity 0 -> refused,
    # although |size| grows by only one lot from no position at all.
    st = one_market(a=acct(0), b=acct(100))
    with pytest.raises(InsufficientMargin) as e:
        apply(st, Trade("a", "b", "M", 1, 50), MECH)
    assert "'a'" in str(e.value)


def test_R_OP_3_closing_trade_is_not_margin_checked_even_underwater() -> None:
    # a: short 1 from 50 at mark 60, collateral 5 -> equity -5. Buying the lot back at 60
    # closes (size 0, realised loss 10 kept as ON 10): the position shrinks, so no check.
    st = mkstate([mkt("M", 60)], {"a": acct(5, {"M": (-1, -50)}), "b": acct(100, {"M": (1, 50)}),
                                  "c": acct(100)})
    post, _ = apply(st, Trade("a", "c", "M", 1, 60), MECH)
    assert pos(post, "a", "M") == (0, 10) and eq_of(post, "a") == -5
    # an account left with negative collateral (e.g. by a levy) may still close at entry:
    # the position disappears and nothing is checked.
    st = one_market(a=acct(-5, {"M": (-1, -50)}, net_deposit=0), b=acct(100, {"M": (1, 50)}), c=acct(100))
    post, _ = apply(st, Trade("a", "c", "M", 1, 50), MECH)
    assert "M" not in post.accounts["a"].positions and eq_of(post, "a") == -5


def test_R_EVT_1_plain_operations_itemise_rule_stage_and_market() -> None:
    st = one_market(a=acct(100, {"M": (1, 50)}), b=acct(100, {"M": (-1, -50)}), c=acct(100))
    _, ev = apply(st, Deposit("c", 5), MECH)
    assert ev == [Event("R-OP-1", "transfer", "external", "account:c", 5, "deposit")]
    _, ev = apply(st, Withdraw("c", 5), MECH)
    assert ev == [Event("R-OP-2", "transfer", "account:c", "external", 5, "withdraw")]
    _, ev = apply(st, Trade("c", "a", "M", 1, 40), MECH)
    assert ev == [Event("R-OP-3", "trade", "account:a", "account:c", 40, "trade", "M", 1, 40)]
    # |size * rate| = 1, the smallest payment, each way; the events name the market
    _, ev = apply(st, Funding("M", 1), MECH)
    assert ev == [Event("R-OP-5", "transfer", "account:a", "funding:M", 1, "funding", "M"),
                  Event("R-OP-5", "transfer", "funding:M", "account:b", 1, "funding", "M")]


def test_R_EVT_1_a_transfer_to_an_unknown_endpoint_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"^unknown endpoint 'vault:x'$"):
        Tx(one_market(a=acct(10))).pay("R-OP-1", "account:a", "vault:x", 1, "test")


def test_R_LIQ_5_surplus_into_a_layer_missing_from_the_state_starts_it_at_zero() -> None:
    # b: long 2 from 50 at mark 50, collateral 3 < MM 5; closed at mark, equity 3 -> all of it
    # to insurance_fund, which the state does not list (a missing balance layer counts as 0).
    st = one_market(b=acct(3, {"M": (2, 100)}), c=acct(100, {"M": (-2, -100)}))
    post, ev = apply(st, Liquidate("b", "c"), mech(surplus="all"))
    assert post.layers == {"insurance_fund": 3}
    assert transfers(ev, "R-LIQ-5") == [("account:b", "layer:insurance_fund", 3)]


# --------------------------------------------------------------------------- R-PNL, R-MARGIN

def test_R_PNL_1_unrealised_pnl_is_size_times_mark_minus_open_notional() -> None:
    assert upnl(Position(2, 100), 60) == 20      # long 2 from 50 to 60: +2*10
    assert upnl(Position(-2, -100), 60) == -20   # short 2 from 50 to 60: -2*10
    assert upnl(Position(0, -20), 60) == 20      # closed position: realised +20 stays


def test_R_PNL_2_and_3_account_upnl_and_equity_sum_over_markets() -> None:
    st = mkstate([mkt("A", 10), mkt("B", 7)],
                 {"x": acct(5, {"A": (3, 24), "B": (-2, -20)}),
                  "y": acct(0, {"A": (-3, -24), "B": (2, 20)})})
    a = st.accounts["x"]
    # A: 30 - 24 = 6; B: -14 + 20 = 6; total 12; equity 5 + 12 = 17
    assert account_upnl(st, a) == 12
    assert eq_of(st, "x") == 17


def test_R_MARGIN_0_and_1_notional_and_requirements_round_up() -> None:
    st = mkstate([mkt("A", 7, im_ppm=100_000, mm_ppm=50_000), mkt("B", 3, im_ppm=200_000, mm_ppm=100_000)],
                 {"x": acct(0, {"A": (3, 21), "B": (-1, -3)}), "y": acct(0, {"A": (-3, -21), "B": (1, 3)})})
    a = st.accounts["x"]
    assert notional(st, a) == 3 * 7 + 1 * 3  # 24
    # initial: A ceil(21 * 0.1) = ceil(2.1) = 3; B ceil(3 * 0.2) = ceil(0.6) = 1 -> 4
    assert margin_requirement(st, a, initial=True) == 4
    # maintenance: A ceil(21 * 0.05) = ceil(1.05) = 2; B ceil(3 * 0.1) = ceil(0.3) = 1 -> 3
    assert margin_requirement(st, a, initial=False) == 3


# --------------------------------------------------------------------------- R-UNIT

def test_R_UNIT_2_rounding_primitives_toward_minus_and_plus_infinity() -> None:
    assert div_floor(7, 2) == 3 and div_ceil(7, 2) == 4
    assert div_floor(-7, 2) == -4 and div_ceil(-7, 2) == -3
    assert div_floor(6, 3) == div_ceil(6, 3) == 2
    # 21 * 100_000 / 1e6 = 2.1: requirements up (3), fees down (2)
    assert ppm_of(21, 100_000, up=True) == 3
    assert ppm_of(21, 100_000, up=False) == 2


def test_R_UNIT_3_inputs_bounded_integers() -> None:
    assert check_input(MAX_INPUT, "amount") == 10**18
    assert check_input(-MAX_INPUT, "rate") == -10**18
    with pytest.raises(BoundExceeded):
        check_input(10**18 + 1, "amount")
    for bad in (True, 1.0, "1", None):
        with pytest.raises(InvalidAmount):
            check_input(bad, "amount")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        check_input(0, "size", positive=True)
    with pytest.raises(InvalidAmount):
        check_input(-1, "x", nonneg=True)
    assert check_input(0, "x", nonneg=True) == 0


def bound_refused(state: State, op, mechanism, field: str) -> BoundExceeded:
    """step() raises E-BOUND naming `field` and leaves its input state unchanged (R-ERR-1)."""
    before = copy.deepcopy(state)
    with pytest.raises(BoundExceeded) as info:
        step(state, op, mechanism)
    err = info.value
    assert err.code == "E-BOUND" and err.where["field"] == field, err.where
    assert field in str(err) and "10^36" in str(err)
    assert state == before
    return err


def test_R_UNIT_3_trade_open_notional_beyond_the_balance_bound() -> None:
    # Set up: a long 1 with open notional 10^36 - 5 (a huge realised loss), collateral 10^36:
    # upnl = 50 - 10^36 + 5 -> equity 55. s is the mirror short (collateral 0).
    big = 10**36
    st = one_market(a=acct(big, {"M": (1, big - 5)}), s=acct(0, {"M": (-1, -(big - 5))}), c=acct(100))
    # Act: a buys 1 more at 10 from c: a's open notional 10^36 - 5 + 10 = 10^36 + 5 > 10^36.
    # (Margin alone would allow it: size 2, upnl 100 - 10^36 - 5, equity 95 >= IM 10.)
    err = bound_refused(st, Trade("a", "c", "M", 1, 10), MECH, "open_notional")
    assert err.where["account"] == "a" and err.where["market"] == "M"
    # at price 5 the open notional is 10^36 - 5 + 5 = 10^36 exactly: allowed
    post, _ = apply(st, Trade("a", "c", "M", 1, 5), MECH)
    assert pos(post, "a", "M") == (2, big)


def test_R_UNIT_3_levy_debit_below_minus_the_balance_bound() -> None:
    # Set up (as test_levy.py, rate_scale 1): b long 2 from 100, collateral -10 -> equity -10
    # (MM 10); x long 1 at 100 with collateral -10^36 + 1; S short 3; c takes b's 2 at mark.
    # OI after the close: x 1 + S 3 + c 2 = 6 -> rate ceil(10 / 6) = 2 per lot.
    st = mkstate([mkt("M", 100)], {"x": acct(-10**36 + 1, {"M": (1, 100)}), "S": acct(100, {"M": (-3, -300)}),
                                   "b": acct(-10, {"M": (2, 200)}), "c": acct(100)}, {"insurance_fund": 0})
    # Act: x pays 1 * 2 = 2 -> collateral -10^36 - 1 < -10^36.
    err = bound_refused(st, Liquidate("b", "c"), mech(final=Levy(rate_scale=1)), "collateral")
    assert err.where["account"] == "x"


def test_R_UNIT_3_surplus_into_a_layer_beyond_the_balance_bound() -> None:
    # b long 10 at 100, collateral 49 (equity 49 < MM 50) is closed to c at mark; surplus
    # 'all' sends 49 to a fund holding 10^36 - 2 -> 10^36 + 47.
    st = mkstate([mkt("M", 100)], {"b": acct(49, {"M": (10, 1000)}), "s": acct(1000, {"M": (-10, -1000)}),
                                   "c": acct(10_000)}, {"insurance_fund": 10**36 - 2})
    err = bound_refused(st, Liquidate("b", "c"), mech(surplus="all"), "layer")
    assert err.where["layer"] == "insurance_fund"


def test_R_UNIT_3_write_off_onto_bad_debt_beyond_the_balance_bound() -> None:
    # b: no position, collateral -5; empty fund; bad debt already 10^36 - 2 -> 10^36 + 3.
    st = mkstate([mkt("M", 100)], {"b": acct(-5)}, {"insurance_fund": 0}, bad_debt=10**36 - 2)
    bound_refused(st, Liquidate("b"), MECH, "bad_debt")


def test_R_UNIT_3_deposit_onto_net_deposit_beyond_the_balance_bound() -> None:
    # collateral 0 but net deposits 10^36 - 2 (net deposits may differ from collateral: the
    # losses are gone, the deposits stay recorded); deposit 5 -> net deposit 10^36 + 3 while
    # the collateral, 5, is far from the bound.
    st = one_market(a=acct(0, net_deposit=10**36 - 2))
    err = bound_refused(st, Deposit("a", 5), MECH, "net_deposit")
    assert err.where["account"] == "a"
    # 2 fits exactly: 10^36
    post, _ = apply(st, Deposit("a", 2), MECH)
    assert post.accounts["a"].net_deposit == 10**36


# --------------------------------------------------------------------------- R-STATE-5

def test_R_STATE_5_validate_state_accepts_zero_sum_and_rejects_the_rest() -> None:
    good = one_market(a=acct(0, {"M": (2, 100)}), b=acct(0, {"M": (-2, -100)}))
    assert validate_state(good) is good
    with pytest.raises(InvalidState, match="'M'"):
        validate_state(one_market(a=acct(0, {"M": (2, 100)}), b=acct(0, {"M": (-1, -100)})))
    with pytest.raises(InvalidState, match="open notionals"):
        validate_state(one_market(a=acct(0, {"M": (2, 100)}), b=acct(0, {"M": (-2, -99)})))
    with pytest.raises(UnknownMarket, match="'Z'"):
        validate_state(mkstate([mkt("M", 1)], {"a": acct(0, {"Z": (0, 0)})}))
    with pytest.raises(InvalidState, match="insurance_fund"):
        validate_state(mkstate([mkt("M", 1)], {}, layers={"insurance_fund": -1}))
    with pytest.raises(InvalidState, match="bad_debt"):
        validate_state(mkstate([mkt("M", 1)], {}, bad_debt=-1))


# --------------------------------------------------------------------------- R-EVT

def test_R_EVT_1_R_FMT_1_event_json_has_integers_as_strings() -> None:
    e = Event("R-OP-3", "trade", "account:b", "account:a", 120, "trade", "M", 2, 60)
    assert e.to_json() == {"rule": "R-OP-3", "kind": "trade", "src": "account:b", "dst": "account:a",
                           "amount": "120", "layer": "trade", "market": "M", "size": "2", "price": "60"}


def test_R_EVT_2_events_itemise_every_balance_change_of_a_liquidation() -> None:
    # b long 2 from 60 at mark 50 (upnl -20), collateral 5 -> equity -15; c takes it at mark;
    # the fund (10) pays 10, the rest 5 is bad debt. Collateral changes must equal the sums of
    # the transfer events: b +10 (fund) +5 (write-off) = +15; the fund -10.
    st = mkstate([mkt("M", 50)], {"b": acct(5, {"M": (2, 120)}), "s": acct(100, {"M": (-2, -120)}),
                                  "c": acct(100)}, {"insurance_fund": 10})
    post, ev = apply(st, Liquidate("b", "c"), MECH)
    into_b = sum(a for _, dst, a in transfers(ev) if dst == "account:b")
    out_of_b = sum(a for src, _, a in transfers(ev) if src == "account:b")
    assert into_b - out_of_b == post.accounts["b"].collateral - st.accounts["b"].collateral == 15
    assert transfers(ev) == [("layer:insurance_fund", "account:b", 10), ("bad_debt", "account:b", 5)]
    assert trades(ev) == [("account:b", "account:c", "M", 2, 50)]


# --------------------------------------------------------------------------- R-STATE-1..4

def test_R_STATE_1_to_4_states_are_values_never_mutated() -> None:
    import dataclasses
    st = one_market(a=acct(10, {"M": (1, 50)}), b=acct(10, {"M": (-1, -50)}))
    assert st.market("M").mark == 50 and st.account("a").positions["M"] == Position(1, 50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.bad_debt = 1  # type: ignore[misc]
    new = st.with_accounts({"a": acct(99)})
    assert new.accounts["a"].collateral == 99 and st.accounts["a"].collateral == 10
    assert new.accounts["b"] is st.accounts["b"]


def test_R_MARGIN_2_no_positions_means_equity_must_stay_at_least_zero() -> None:
    st = one_market(a=acct(10))
    post, _ = apply(st, Withdraw("a", 10), MECH)
    assert post.accounts["a"].collateral == 0
    # with a losing position the unrealised loss counts: long 1 from 60 at mark 50 (upnl -10),
    # collateral 20 -> equity 10; IM = ceil(50 * 10 %) = 5. Withdrawing 5 leaves equity 5 = IM
    # (allowed); withdrawing 6 leaves 4 < 5 (refused) although collateral 14 would remain.
    st = one_market(a=acct(20, {"M": (1, 60)}), b=acct(100, {"M": (-1, -60)}))
    apply(st, Withdraw("a", 5), MECH)
    with pytest.raises(InsufficientMargin):
        apply(st, Withdraw("a", 6), MECH)


# --------------------------------------------------------------------------- R-FMT

def test_R_FMT_2_state_round_trips_through_json_with_string_integers() -> None:
    st = mkstate([mkt("M", 50)], {"a": acct(7, {"M": (2, 100)}, net_deposit=5),
                                  "b": acct(-3, {"M": (-2, -100)})},
                 layers={"insurance_fund": 9}, default_fund={"a": 4}, bad_debt=2)
    doc = state_to_json(st)
    assert doc["accounts"][0] == {"id": "a", "collateral": "7", "net_deposit": "5",
                                  "positions": [{"market": "M", "size": "2", "open_notional": "100"}]}
    assert doc["bad_debt"] == "2" and doc["layers"] == {"insurance_fund": "9"}
    assert state_from_json(doc) == st
    # net_deposit defaults to collateral
    doc["accounts"][1].pop("net_deposit")
    assert state_from_json(doc).accounts["b"].net_deposit == -3


@pytest.mark.parametrize("op", [Deposit("a", 5), Withdraw("a", 5), Trade("a", "b", "M", 2, 60),
                                SetMark("M", 9), Funding("M", -3),
                                Liquidate("a", "b", {"M": 7}, "s1"), Liquidate("a")])
def test_R_FMT_3_operations_round_trip_through_json(op) -> None:
    doc = op_to_json(op)
    assert all(not isinstance(v, int) for v in doc.values())
    assert op_from_json(doc) == op


def test_R_FMT_3_liquidate_takes_the_scenario_seed_by_default() -> None:
    assert op_from_json({"op": "liquidate", "account": "a"}, default_seed="xyz").seed == "xyz"
    assert op_from_json({"op": "liquidate", "account": "a"}).seed == "0"


def test_R_FMT_3_liquidate_json_omits_what_is_absent() -> None:
    # no counterparty -> no key (the schema wants a string); no fill prices -> no key
    assert op_to_json(Liquidate("a")) == {"op": "liquidate", "account": "a", "seed": "0"}
    assert op_to_json(Liquidate("a", "c", {"M": 5}, "s")) == {
        "op": "liquidate", "account": "a", "counterparty": "c", "fill_prices": {"M": "5"}, "seed": "s"}


# --------------------------------------------------------------------------- R-RUN

def test_R_RUN_1_prepare_adds_missing_layers_at_zero_and_keeps_existing() -> None:
    m = mech(layers=(LayerSpec("insurance_fund"), LayerSpec("fee_pool", scope="market")))
    st = mkstate([mkt("B", 1), mkt("A", 1)], {}, layers={"insurance_fund": 5})
    assert prepare(st, m).layers == {"insurance_fund": 5, "fee_pool:A": 0, "fee_pool:B": 0}


def test_R_RUN_1_per_market_balances_already_given_keep_the_plain_name_apart() -> None:
    # the scenario gives fee_pool:A itself, so a plain fee_pool balance is not moved onto it
    m = mech(layers=(LayerSpec("fee_pool", scope="market"),), surplus_sink="fee_pool")
    st = mkstate([mkt("A", 1), mkt("B", 1)], {}, layers={"fee_pool": 5, "fee_pool:A": 7})
    assert prepare(st, m).layers == {"fee_pool": 5, "fee_pool:A": 7, "fee_pool:B": 0}


def test_R_RUN_1_single_balance_goes_to_the_first_market_of_a_per_market_layer() -> None:
    # the scenario gives one insurance_fund of 5; the mechanism keeps it per market: it becomes
    # insurance_fund:A (first market id), insurance_fund:B starts at 0; value unchanged.
    m = mech(layers=(LayerSpec("insurance_fund", scope="market"),))
    st = mkstate([mkt("B", 1), mkt("A", 1)], {}, layers={"insurance_fund": 5})
    assert prepare(st, m).layers == {"insurance_fund:A": 5, "insurance_fund:B": 0}
    assert value(prepare(st, m)) == value(st)


def test_R_RUN_2_refused_operation_leaves_state_and_run_continues() -> None:
    st = one_market(a=acct(10))
    sc = Scenario("s", st, (Withdraw("a", 11), Deposit("a", 5)))
    res = run(sc, MECH)
    assert isinstance(res[0].error, InsufficientMargin)
    assert res[0].post is res[0].pre and res[0].events == []
    assert res[1].error is None and res[1].post.accounts["a"].collateral == 15
