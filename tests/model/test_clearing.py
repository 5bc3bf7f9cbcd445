"""R-CH-*: clearing-house layers: defaulter's contribution, default fund, capped assessments.

Source of the order (shared/mechanisms.md, "Clearing houses"): CME, Eurex, LCH use the
defaulter's margin, the defaulter's default-fund contribution, the CCP's own capital ("skin
in the game"), the non-defaulters' default fund pro rata, capped assessments (Eurex: up to
2x each member's contribution), then variation-margin gains haircutting (ISDA 2013).

Setup: market M at 100; the defaulter d is long 10 (closed to c at mark), x and y are
clearing members with no position; s is the opposite short.
"""
from __future__ import annotations

from conftest import (BadDebtOnly, Haircut, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt,
                      transfers)
from waterfall.model.ops import Liquidate
from waterfall.model.step import step

CCP_LAYERS = (LayerSpec("defaulter", kind="defaulter_contribution"),
              LayerSpec("skin_in_the_game"),
              LayerSpec("default_fund", kind="default_fund"),
              LayerSpec("assessment", kind="assessment", assessment_multiple_ppm=2_000_000))


def ccp(final=None, layers=CCP_LAYERS):
    return mech(final=final or BadDebtOnly(), layers=layers, surplus_sink="skin_in_the_game")


def ccp_state(d_collateral: int, x_collateral: int = 1000, d_entry_on: int = 1000, s_on: int = -1000,
              default_fund=None, sitg: int = 20):
    # d long 10 with open notional d_entry_on; at mark 100 its equity is
    # d_collateral + 1000 - d_entry_on.
    return mkstate([mkt("M", 100)],
                   {"d": acct(d_collateral, {"M": (10, d_entry_on)}), "s": acct(10_000, {"M": (-10, s_on)}),
                    "x": acct(x_collateral), "y": acct(1000), "c": acct(10_000)},
                   {"skin_in_the_game": sitg}, default_fund or {"d": 30, "x": 60, "y": 40})


def by_rule(ev, rule: str) -> dict[str, int]:
    return {src: amt for src, _, amt in transfers(ev, rule)}


def test_R_CH_1_to_3_full_order_then_bad_debt() -> None:
    # deficit 400: R-CH-1 d's own 30 -> 370; skin in the game 20 -> 350; R-CH-2 default fund
    # x 60 + y 40 = 100 -> 250; R-CH-3 assessments pro rata 60:40 capped at 2x contribution
    # (120, 80) -> both capped, 200 -> 50 left, written off.
    st = ccp_state(-400)
    post, ev = apply(st, Liquidate("d", "c"), ccp())
    assert by_rule(ev, "R-CH-1") == {"default_fund:d": 30}
    assert by_rule(ev, "R-WF-3") == {"layer:skin_in_the_game": 20}
    assert by_rule(ev, "R-CH-2") == {"default_fund:x": 60, "default_fund:y": 40}
    assert by_rule(ev, "R-CH-3") == {"account:x": 120, "account:y": 80}
    assert post.bad_debt == 50
    assert post.default_fund == {"d": 0, "x": 0, "y": 0}
    assert post.accounts["x"].collateral == 880 and post.accounts["y"].collateral == 920
    # the layers are used in that order
    order = [e.layer for e in ev if e.kind == "transfer"]
    assert order == ["defaulter", "skin_in_the_game", "default_fund", "default_fund",
                     "assessment", "assessment", "bad_debt"]


def test_R_CH_3_assessment_pro_rata_to_original_contribution_below_the_cap() -> None:
    # deficit 250: 30 + 20 + 100 as above, 100 left for the assessment. The default fund is
    # empty by then, but the assessment uses the original contributions 60:40 -> 60 and 40
    # (caps 120 and 80 not reached).
    post, ev = apply(ccp_state(-250), Liquidate("d", "c"), ccp())
    assert by_rule(ev, "R-CH-3") == {"account:x": 60, "account:y": 40}
    assert post.bad_debt == 0 and eq_of(post, "d") == 0


def test_R_CH_3_assessment_capped_at_member_equity_water_fills() -> None:
    # as above but x has only 50 of equity: cap min(120, 50) = 50. Water-filling 100 over
    # contributions 60:40 with caps 50, 80: pro rata would ask x for 60 > 50, so x pays 50 and
    # y the remaining 50 (<= 80).
    post, ev = apply(ccp_state(-250, x_collateral=50), Liquidate("d", "c"), ccp())
    assert by_rule(ev, "R-CH-3") == {"account:x": 50, "account:y": 50}
    assert eq_of(post, "x") == 0 and post.bad_debt == 0


def test_R_CH_3_member_with_negative_equity_is_not_assessed() -> None:
    post, ev = apply(ccp_state(-250, x_collateral=-5), Liquidate("d", "c"), ccp())
    # x: cap min(120, max(0, -5)) = 0; y pays up to its cap 80; 20 left as bad debt
    assert by_rule(ev, "R-CH-3") == {"account:y": 80}
    assert post.bad_debt == 20


def test_R_CH_2_default_fund_pro_rata_to_what_each_has_left_defaulter_excluded() -> None:
    # Default fund only: d 50, x 30, y 10. d's equity -20. R-CH-2 draws the non-defaulters
    # only, pro rata to their balances 30:10 -> 15, 5; d's own contribution is untouched.
    layers = (LayerSpec("skin_in_the_game"), LayerSpec("default_fund", kind="default_fund"))
    st = ccp_state(-20, default_fund={"d": 50, "x": 30, "y": 10}, sitg=0)
    post, ev = apply(st, Liquidate("d", "c"), ccp(layers=layers))
    assert by_rule(ev, "R-CH-2") == {"default_fund:x": 15, "default_fund:y": 5}
    assert post.default_fund == {"d": 50, "x": 15, "y": 5}


def test_R_CH_1_defaulter_contribution_smaller_than_deficit_then_next_layer() -> None:
    layers = (LayerSpec("defaulter", kind="defaulter_contribution"), LayerSpec("skin_in_the_game"))
    post, ev = apply(ccp_state(-25, default_fund={"d": 10}, sitg=100), Liquidate("d", "c"), ccp(layers=layers))
    # d's own 10, then 15 from skin in the game
    assert by_rule(ev, "R-CH-1") == {"default_fund:d": 10}
    assert post.layers["skin_in_the_game"] == 85


def test_R_CH_vmgh_haircut_after_the_assessments() -> None:
    # Variation-margin gains haircutting as the last resort (ISDA 2013; the digest reads it as
    # h = min(1, L / sum of gains), unverified). Our model haircuts unrealised gains.
    # d long 10 from 105 (upnl -50), collateral -350 -> equity -400; s short from 105 has
    # upnl +50. After 30 + 20 + 100 + 200 the last 50 is taken from s's gain (h = 50/50 = 1).
    st = ccp_state(-350, d_entry_on=1050, s_on=-1050)
    post, ev = apply(st, Liquidate("d", "c"), ccp(final=Haircut()))
    assert by_rule(ev, "R-HC-2") == {"account:s": 50}
    assert post.bad_debt == 0 and eq_of(post, "d") == 0


def floor_or_ceil_state():
    # d's equity -10; three members with 10 each in the default fund, nothing else.
    return ccp_state(-10, default_fund={"x": 10, "y": 10, "z": 10}, sitg=0) \
        .with_accounts({"z": acct(1000)})


def test_R_CH_2_floor_rounding_shortfall_must_not_vanish() -> None:
    # Regression (found by this test, fixed in the model): Default fund with rounding 'floor': 10 over 10:10:10
    # gives floor(3.33) = 3 each, 9 in all. R-WF-2: "each layer in order pays min(remaining
    # deficit, what it can); returns the rest", so 1 is left for the next layer / bad debt
    # (R-WF-5, I-NOLOSS: after a liquidation the bankrupt's equity is >= 0).
    layers = (LayerSpec("skin_in_the_game"), LayerSpec("default_fund", kind="default_fund", rounding="floor"))
    st = floor_or_ceil_state()
    post, ev = step(st, Liquidate("d", "c"), ccp(layers=layers))
    assert by_rule(ev, "R-CH-2") == {"default_fund:x": 3, "default_fund:y": 3, "default_fund:z": 3}
    assert post.bad_debt == 1
    assert eq_of(post, "d") == 0


def test_R_CH_2_ceil_rounding_must_not_overdraw_the_default_fund() -> None:
    # Regression (found by this test, fixed in the model): rounding 'ceil': ceil(3.33) = 4 each = 12 for a
    # deficit of 10. R-WF-2: a layer pays min(remaining deficit, what it can) = 10, so the
    # contributions must lose 10 in all and the defaulter end at equity 0, not +2.
    layers = (LayerSpec("skin_in_the_game"), LayerSpec("default_fund", kind="default_fund", rounding="ceil"))
    post, ev = step(floor_or_ceil_state(), Liquidate("d", "c"), ccp(layers=layers))
    assert sum(by_rule(ev, "R-CH-2").values()) == 10
    assert eq_of(post, "d") == 0


def test_R_CH_3_ceil_rounding_must_not_assess_more_than_the_deficit() -> None:
    # Regression (found by this test, fixed in the model): Assessment (1x contribution, rounding 'ceil') of a
    # deficit of 10 over contributions 10:10:10: ceil(3.33) = 4 each = 12 > 10. R-WF-2 caps
    # every layer's payment at the remaining deficit: 10 in all, defaulter at equity 0.
    layers = (LayerSpec("skin_in_the_game"),
              LayerSpec("assessment", kind="assessment", assessment_multiple_ppm=1_000_000, rounding="ceil"))
    post, ev = step(floor_or_ceil_state(), Liquidate("d", "c"), ccp(layers=layers))
    assert sum(by_rule(ev, "R-CH-3").values()) == 10
    assert eq_of(post, "d") == 0


def members_state():
    # m1 contributes exactly 1, m2 9; the defaulter d nothing. Everyone but d is solvent.
    return mkstate([mkt("M", 1)], {"d": acct(-5), "m1": acct(100), "m2": acct(100)},
                   default_fund={"d": 0, "m1": 1, "m2": 9})


def test_R_CH_2_a_contribution_of_one_unit_shares_with_largest_remainder_ties_to_smaller_id() -> None:
    # 5 over contributions 1 : 9 -> 0.5 and 4.5: floors 0 and 4, equal remainders, the
    # extra unit goes to the smaller id m1.
    from waterfall.model.layers import draw_default_fund
    from waterfall.model.tx import Tx
    tx = Tx(members_state())
    assert draw_default_fund(tx, LayerSpec("df", kind="default_fund"), "d", 5, []) == 5
    assert tx.default_fund == {"d": 0, "m1": 0, "m2": 5}
    assert transfers(tx.events) == [("default_fund:m1", "account:d", 1), ("default_fund:m2", "account:d", 4)]


def test_R_CH_3_a_contribution_of_one_unit_is_assessed() -> None:
    # assessable pro rata to contributions 1 : 9 (caps 1x: 1 and 9): 0.5 and 4.5 -> m1 1, m2 4
    from waterfall.model.layers import draw_assessment
    from waterfall.model.tx import Tx
    tx = Tx(members_state())
    spec = LayerSpec("as", kind="assessment", assessment_multiple_ppm=1_000_000)
    assert draw_assessment(tx, spec, "d", 5, []) == 5
    assert transfers(tx.events) == [("account:m1", "account:d", 1), ("account:m2", "account:d", 4)]


def test_R_CH_4_assessment_caps_hold_across_defaults_in_one_period() -> None:
    # eurexchange.com default-waterfall/assessments-and-replenishment: a member is assessed at
    # most twice its contribution within a capped period, whatever the number of defaults.
    # m contributes 100 (allowance 200); two defaulters of 150 each (assessments only): the
    # first is covered by m (150, 50 left), the second gets 50 and leaves 100 as bad debt.
    # After the period the allowance is whole again.
    from dataclasses import replace as _replace
    from waterfall.model.ops import AdvanceTime
    spec = LayerSpec("assessment", kind="assessment", assessment_multiple_ppm=2_000_000, assessment_period=100)
    ccp = mech(layers=(spec,))
    st = mkstate([mkt("M", 100)], {"d1": acct(-150), "d2": acct(-150), "m": acct(10_000)}, {}, {"m": 100})
    st, ev = apply(st, Liquidate("d1", "m"), ccp)
    assert transfers(ev, "R-CH-3") == [("account:m", "account:d1", 150)] and st.assessable == {"m": 50}
    st2, ev = apply(st, Liquidate("d2", "m"), ccp)
    assert transfers(ev, "R-CH-3") == [("account:m", "account:d2", 50)] and st2.bad_debt == 100
    later = apply(st, AdvanceTime(100), ccp)[0]
    assert later.assessable == {}
    st3, ev = apply(later, Liquidate("d2", "m"), ccp)
    assert transfers(ev, "R-CH-3") == [("account:m", "account:d2", 150)]
    # without a period the cap restarts at every default (the model before R-CH-4)
    no_period = mech(layers=(_replace(spec, assessment_period=0),))
    st4, ev = apply(_replace(st, assessable={}), Liquidate("d2", "m"), no_period)
    assert transfers(ev, "R-CH-3") == [("account:m", "account:d2", 150)] and st4.assessable == {}


def test_R_CH_5_eurex_second_skin_in_the_game_pays_alongside_the_default_fund() -> None:
    # eurexchange.com/ec-en/services/risk-management/default-waterfall/contribution-of-eurex_clearing:
    # the SITG (EUR 143 million) is used in full first; then the non-defaulted members'
    # contributions and the SSITG (EUR 57 million) are utilised. In EUR millions: members
    # x 100 and y 300, a deficit of 343 after the defaulter's own resources: SITG 143 -> 200
    # left, shared pro rata by x 100, y 300 and SSITG 57 (457): the SSITG pays
    # floor(200 x 57 / 457) = 24 (rounded down, R-CH-5), the members split the other 176
    # pro rata, 44 and 132.
    from waterfall.model.loader import catalogue, load_mechanism
    house = load_mechanism(catalogue()["clearing-house-vmgh"])
    st = mkstate([mkt("M", 100)],
                 {"d": acct(-343, {"M": (10, 1000)}), "s": acct(10_000, {"M": (-10, -1000)}),
                  "x": acct(1000), "y": acct(1000), "c": acct(10_000)},
                 {"ccp_capital": 143, "ccp_second_tranche": 57}, {"d": 0, "x": 100, "y": 300})
    post, ev = apply(st, Liquidate("d", "c"), house)
    assert by_rule(ev, "R-WF-3") == {"layer:ccp_capital": 143}
    assert by_rule(ev, "R-CH-2") == {"default_fund:x": 44, "default_fund:y": 132, "layer:ccp_second_tranche": 24}
    assert post.layers["ccp_second_tranche"] == 33 and post.bad_debt == 0 and eq_of(post, "d") == 0
    # the tranche is drawn only in the default fund's split (pays = false: never as a layer of
    # its own, R-WF-11): with no members' contributions left it makes up the split alone
    st2 = mkstate([mkt("M", 100)], dict(st.accounts), {"ccp_capital": 143, "ccp_second_tranche": 57}, {"d": 0})
    post, ev = apply(st2, Liquidate("d", "c"), house)
    assert by_rule(ev, "R-CH-2") == {"layer:ccp_second_tranche": 57}


def test_R_CH_4_an_allowance_beyond_the_balance_bound_is_recorded_at_the_bound() -> None:
    """R-CH-4 with R-STATE-6: a contribution near 10^36 with clearing-house-vmgh's multiple of 2
    once recorded an allowance of 10^36 + 2, an invalid post-state from a valid one (I-VALID,
    found by `waterfall prove --mechanism clearing-house-vmgh --operation liquidate`)."""
    import json
    from waterfall.model import codec
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.model.state import validate_state
    from waterfall.model.units import MAX_BALANCE
    half = 5 * 10**35
    doc = {"markets": [{"id": "M0", "mark": "2", "im_ppm": str(10**18 - 1), "mm_ppm": "0"}],
           "accounts": [{"id": "a00", "collateral": "-2", "positions": [{"market": "M0", "size": "2", "open_notional": str(half + 10)}]},
                        {"id": "a01", "collateral": str(half + 3), "positions": [{"market": "M0", "size": "-2", "open_notional": str(-half - 10)}]}],
           "layers": {"ccp_capital": "0", "ccp_second_tranche": "0"}, "default_fund": {"a00": "0", "a01": str(half + 2)},
           "bad_debt": "0", "clock": str(10**18 - 1)}
    state = codec.state_from_json(json.loads(json.dumps(doc)))
    validate_state(state)
    post, _ = step(state, Liquidate("a00", counterparty="a01", fill_prices={"M0": 4}), load_mechanism(catalogue()["clearing-house-vmgh"]))
    validate_state(post)
    assert post.assessable["a01"] == MAX_BALANCE - 2  # the bound, less the 2 assessed
