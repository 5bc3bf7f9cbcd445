"""R-HC-6, R-HC-7, R-TIME-4: haircut bases counted from the start of a window, and the
haircut deferred to the end of the window (BitMEX Dynamic Profit Equalisation)."""
from __future__ import annotations

from conftest import Haircut, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, transfers
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.ops import AdvanceTime, Liquidate, SetMark, Trade

WEEK, DAY = 604_800, 86_400


def dpe_market() -> object:
    """4 % initial margin: 4 USD pledged on a 100 USD contract, as in the DPE example."""
    return mkt("M", 100, im_ppm=40_000, mm_ppm=20_000)


def dpe() -> object:
    return mech(final=Haircut(profit="upnl", scope="bankrupt_markets", timing="settlement", window=WEEK),
                layers=(LayerSpec("insurance_fund", scope="market"),), surplus="all")


def test_R_HC_7_bitmex_dpe_worked_example() -> None:
    # blog.bitmex.com/dynamic-profit-equalisation: "Trader A buys 1 contract from B at 100 USD.
    # Each side pledges 4 USD of initial margin. The price rises to 110 USD. A's profit = 10,
    # B's loss = 4 (B can only lose his initial margin), system loss = 6, profit adjustment =
    # 6 / 10 = 60 %, A's realised profit = 10 x (1 - 60 %) = 4." The loss waits for the
    # weekly settlement: the liquidation advances it from the deferred record, the week's end
    # takes it from A's profit.
    st = mkstate([dpe_market()], {"A": acct(4), "B": acct(4), "engine": acct(1_000)}, {"insurance_fund:M": 0})
    st = apply(st, Trade("A", "B", "M", 1, 100), mech(final=Haircut()))[0]
    st = apply(st, SetMark("M", 110), dpe())[0]
    st, ev = apply(st, Liquidate("B", "engine", {"M": 110}), dpe())
    assert transfers(ev, "R-HC-7") == [("deferred:M", "account:B", 6)]
    assert st.deferred == {"M": 6} and eq_of(st, "B") == 0 and eq_of(st, "A") == 14
    st, ev = apply(st, AdvanceTime(WEEK), dpe())  # the weekly settlement
    assert transfers(ev, "R-HC-2") == [("account:A", "deferred:M", 6)]
    assert st.deferred == {} and eq_of(st, "A") == 4 + 4  # margin 4 + realised profit 4
    assert st.bad_debt == 0


def test_R_HC_7_nothing_happens_before_the_window_ends_and_the_uncovered_rest_is_bad_debt() -> None:
    st = mkstate([dpe_market()], {"A": acct(4), "B": acct(4), "engine": acct(1_000)}, {"insurance_fund:M": 0})
    st = apply(st, Trade("A", "B", "M", 1, 100), mech(final=Haircut()))[0]
    st = apply(st, SetMark("M", 120), dpe())[0]     # B: 4 - 20 = -16; A's profit 20
    st = apply(st, Liquidate("B", "engine", {"M": 120}), dpe())[0]
    st = apply(st, SetMark("M", 105), dpe())[0]     # profits at settlement: A 5, the engine's short 15
    st2, ev = apply(st, AdvanceTime(WEEK - 1), dpe())
    assert ev == [] and st2.deferred == {"M": 16}   # the week has not ended
    st3, ev = apply(st2, AdvanceTime(1), dpe())
    assert transfers(ev) == [("account:A", "deferred:M", 4), ("account:engine", "deferred:M", 12)]
    assert st3.bad_debt == 0 and st3.deferred == {}
    # with profits capped at half, A pays 2, the engine 7, and 7 is left as bad debt
    capped = mech(final=Haircut(profit="upnl", scope="bankrupt_markets", timing="settlement", window=WEEK,
                                cap_ppm=500_000), layers=(LayerSpec("insurance_fund", scope="market"),), surplus="all")
    st3, ev = apply(st2, AdvanceTime(1), capped)
    assert transfers(ev) == [("account:A", "deferred:M", 2), ("account:engine", "deferred:M", 7),
                             ("bad_debt", "deferred:M", 7)]
    assert st3.bad_debt == 7 and st3.deferred == {}


def window_gain(window: int, **kw) -> object:
    return mech(final=Haircut(profit="window_gain", window=window, **kw), layers=(LayerSpec("insurance_fund"),),
                surplus="all")


def test_R_HC_6_only_the_gain_since_the_window_began_is_haircut() -> None:
    # OKEx 2018: "split proportionately by all profited traders' realized + unrealized gains"
    # of the week (OKEx statement of 3 August 2018, as quoted). Last week w1 made 300 and c,
    # short against b, 200 (mark 100 -> 80). This week w1 makes 100 more, w2 200, and the mark
    # falls to 55: b (long 10 from 100, 400 collateral) is at -50, c has made 250 more. The 50
    # is split over this week's gains 100 : 200 : 250 -> 9.09, 18.18, 22.73: floors 9, 18, 22
    # and the unit left to the largest remainder (c).
    st = mkstate([mkt("M", 100)], {"w1": acct(1_000), "w2": acct(1_000), "b": acct(400, {"M": (10, 1_000)}),
                                   "c": acct(10_000, {"M": (-10, -1_000)}), "bk": acct(10_000)},
                 {"insurance_fund": 0})
    policy = window_gain(WEEK)
    st = apply(st, SetMark("M", 80), policy)[0]
    st = realise(st, {"w1": 300})
    st = apply(st, AdvanceTime(WEEK), policy)[0]             # a new week
    assert (st.window_base["w1"], st.window_base["w2"], st.window_base["c"]) == (300, 0, 200)
    st = apply(st, AdvanceTime(DAY), policy)[0]              # no boundary: bases kept
    st = realise(st, {"w1": 100, "w2": 200})
    st = apply(st, SetMark("M", 55), policy)[0]
    st, ev = apply(st, Liquidate("b", "bk", {"M": 55}), policy)
    assert sorted(transfers(ev, "R-HC-2")) == [("account:c", "account:b", 23), ("account:w1", "account:b", 9),
                                               ("account:w2", "account:b", 18)]


def realise(st, gains: dict) -> object:
    """Accounts' realised gains credited to collateral (deposits unchanged)."""
    from dataclasses import replace
    return replace(st, accounts={**st.accounts, **{i: st.accounts[i]._replace(collateral=st.accounts[i].collateral + g)
                                                   for i, g in gains.items()}})


def test_R_HC_6_without_a_recorded_base_the_whole_gain_counts() -> None:
    st = mkstate([mkt("M", 100)], {"w1": acct(1_300, net_deposit=1_000), "b": acct(100, {"M": (10, 1_000)}),
                                   "c": acct(10_000, {"M": (-10, -1_000)})}, {"insurance_fund": 0})
    # b at 75: 100 - 250 = -150; w1's gain 300 and c's 250 (closing its short at 75): 81.8
    # and 68.2 -> 82 and 68 (largest remainder)
    st = apply(st, SetMark("M", 75), window_gain(DAY))[0]
    st, ev = apply(st, Liquidate("b", "c", {"M": 75}), window_gain(DAY))
    assert sorted(transfers(ev, "R-HC-2")) == [("account:c", "account:b", 68), ("account:w1", "account:b", 82)]


def test_R_HC_8_exempt_accounts_pay_no_haircut() -> None:
    st = mkstate([mkt("M", 100)], {"w1": acct(1_300, net_deposit=1_000), "mm": acct(1_300, net_deposit=1_000),
                                   "b": acct(100, {"M": (10, 1_000)}), "c": acct(10_000, {"M": (-10, -1_000)})},
                 {"insurance_fund": 0})
    policy = mech(final=Haircut(profit="total_gain", exempt=("mm",)), surplus="all")
    st = apply(st, SetMark("M", 75), policy)[0]
    st, ev = apply(st, Liquidate("b", "c", {"M": 75}), policy)
    assert sorted(transfers(ev, "R-HC-2")) == [("account:c", "account:b", 68), ("account:w1", "account:b", 82)]


def test_R_HC_6_catalogue_windows() -> None:
    assert load_mechanism(catalogue()["okx-2018-clawback"]).final.window == WEEK
    assert load_mechanism(catalogue()["deribit"]).final.window == DAY
    dpe_file = load_mechanism(catalogue()["bitmex-2015-profit-equalisation"]).final
    assert (dpe_file.timing, dpe_file.window) == ("settlement", WEEK)


def test_I_BOUND_and_I_PROP_judge_the_haircut_at_a_settlement() -> None:
    # R-HC-7's haircut is a haircut (issue 17): I-BOUND and I-PROP are evaluated at the
    # advance_time that settles, per market, on the DPE worked example, and a payment beyond
    # the base or off the pro-rata share is a violation there too
    from waterfall.model.events import Event
    from waterfall.spec.invariants import bounded_haircut, proportional
    st = mkstate([dpe_market()], {"A": acct(4), "B": acct(4), "engine": acct(1_000)}, {"insurance_fund:M": 0})
    st = apply(st, Trade("A", "B", "M", 1, 100), mech(final=Haircut()))[0]
    st = apply(st, SetMark("M", 120), dpe())[0]
    st = apply(st, Liquidate("B", "engine", {"M": 120}), dpe())[0]
    st = apply(st, SetMark("M", 105), dpe())[0]
    op = AdvanceTime(WEEK)
    post, ev = apply(st, op, dpe())
    assert transfers(ev, "R-HC-2") == [("account:A", "deferred:M", 4), ("account:engine", "deferred:M", 12)]
    assert bounded_haircut(st, op, post, ev, dpe()) is True and proportional(st, op, post, ev, dpe()) is True
    # the same settlement with A charged its whole equity (9) and the engine the rest (7)
    wrong = [e._replace(amount=9) if e.src == "account:A" else e._replace(amount=7) for e in ev if e.rule == "R-HC-2"]
    moved = {"A": 9 - 4, "engine": 7 - 12}
    from dataclasses import replace
    bad = replace(post, accounts={i: a._replace(collateral=a.collateral - moved.get(i, 0))
                                  for i, a in post.accounts.items()})
    assert bounded_haircut(st, op, bad, wrong, dpe()) is False
    assert proportional(st, op, bad, wrong, dpe()) is False


def test_R_WF_11_bitmex_dpe_system_loss_is_beyond_margin_with_no_fund() -> None:
    # The DPE example again with the catalogue file and a contract fund holding 100: the DPE
    # page's system loss is the loss beyond margin (6), with no fund in between; the fund,
    # which only receives (pays = false), keeps its 100 and A's profit is still adjusted 60 %.
    dpe_file = load_mechanism(catalogue()["bitmex-2015-profit-equalisation"])
    assert [s.pays for s in dpe_file.layers] == [False]
    st = mkstate([dpe_market()], {"A": acct(4), "B": acct(4), "engine": acct(1_000)}, {"insurance_fund:M": 100})
    st = apply(st, Trade("A", "B", "M", 1, 100), mech(final=Haircut()))[0]
    st = apply(st, SetMark("M", 110), dpe_file)[0]
    st, ev = apply(st, Liquidate("B", "engine", {"M": 110}), dpe_file)
    assert transfers(ev, "R-WF-3") == [] and st.layers["insurance_fund:M"] == 100
    assert st.deferred == {"M": 6}
    st, _ = apply(st, AdvanceTime(WEEK), dpe_file)
    assert eq_of(st, "A") == 8 and st.layers["insurance_fund:M"] == 100
