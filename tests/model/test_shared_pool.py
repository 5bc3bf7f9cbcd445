"""R-WF-14: a shared insurance pool whose drawdown rule is measured per market against the
pool's peak (Bybit's grouped pools), and an empty pool that leaves the rest to ADL.

Source: https://bybit-exchange.github.io/docs/v5/market/adl-alert (stored as
github:bybit-exchange/docs, snapshot of 2026-09-02): "pnlRatio = (Symbol's current PnL -
Symbol's 8h max PnL) / Insurance pool's 8h max balance", ADL when pnlRatio < -0.3 (examples
1 and 2), and "insurance pool equity ADL" when the pool's balance reaches 0 (example 3).
"""
from __future__ import annotations

from dataclasses import replace

from conftest import Adl, LayerSpec, acct, apply, eq_of, mech, mkstate, mkt, trades, transfers
from waterfall.model.loader import resolve_mechanism
from waterfall.model.ops import AdvanceTime, Liquidate
from waterfall.model.state import validate_state
from waterfall.spec.invariants import REGISTRY

WINDOW = 28_800  # 8 hours


def shared(by: str = "market", **kw) -> object:
    """One pool `insurance_fund` shared by every market; 30 % drawdown over 8 hours."""
    layer = LayerSpec("insurance_fund", drawdown_ppm=300_000, drawdown_window=WINDOW, drawdown_by=by, **kw)
    return mech(final=Adl(ranking="bitmex", fund_first=True), layers=(layer,), surplus="all")


def venue(losses: dict[str, int], pool: int = 1_000_000) -> object:
    """Markets A.. at mark 9,000; in each, x_M is long `lots` from 10,000 with no collateral
    (equity -1,000 x lots: bankruptcy price 10,000) and s_M short the same lots; the book
    buys at the mark."""
    accounts = {"book": acct(10**12)}
    for m, lots in losses.items():
        accounts[f"x_{m}"] = acct(0, {m: (lots, lots * 10_000)})
        accounts[f"s_{m}"] = acct(10**7, {m: (-lots, -lots * 10_000)})
    return mkstate([mkt(m, 9_000) for m in losses], accounts, {"insurance_fund": pool})


def liquidate(st, m: str, policy=None):
    return apply(st, Liquidate(f"x_{m}", "book", {m: 9_000}), policy or shared())


def test_R_WF_14_example_1_the_pool_bears_30_percent_of_its_peak_users_the_rest() -> None:
    # Example 1: A, B, C share a pool of 1M (its 8-hour maximum); A loses 350K (pnlRatio -35 %):
    # the pool bears 300K (A's PnL at -30 % of the pool's peak) and ADL the other 50K.
    st = venue({"A": 350, "B": 1, "C": 1})
    post, ev = liquidate(st, "A")
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:x_A", 300_000)]
    assert trades(ev, "R-LIQ-3") == [("account:x_A", "account:book", "A", 300, 9_000)]
    assert trades(ev, "R-ADL-1") == [("account:x_A", "account:s_A", "A", 50, 10_000)]
    assert post.layers["insurance_fund"] == 700_000 and eq_of(post, "x_A") == 0
    # A's record: its PnL stood 300K above where it is now; no other market has one
    assert post.history["insurance_fund:A"] == (0, 300_000, 0, 0)
    assert "insurance_fund:B" not in post.history


def test_R_WF_14_a_market_is_measured_against_the_pools_peak_not_the_pools_fall() -> None:
    # After A's 300K, B loses 350K in the same 8 hours. B's own PnL has not fallen: the pool
    # (peak 1M) pays B 300K more (it ends at 400K); measured on the pool as a whole (R-WF-8)
    # it would already be at its 30 % floor and pay B nothing.
    st = venue({"A": 350, "B": 350, "C": 1})
    after_a, _ = liquidate(st, "A")
    post, ev = liquidate(after_a, "B")
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:x_B", 300_000)]
    assert trades(ev, "R-ADL-1") == [("account:x_B", "account:s_B", "B", 50, 10_000)]
    assert post.layers["insurance_fund"] == 400_000
    pooled, _ = liquidate(st, "A", shared("pool"))
    post_pool, ev_pool = liquidate(pooled, "B", shared("pool"))
    assert transfers(ev_pool, "R-WF-3") == [] and post_pool.layers["insurance_fund"] == 700_000
    assert trades(ev_pool, "R-ADL-1") == [("account:x_B", "account:s_B", "B", 350, 10_000)]


def test_R_WF_14_a_market_at_its_threshold_gets_nothing_more_until_the_window_passes() -> None:
    # A second loss in A within the 8 hours: A is already 300K (30 % of the peak) down, so
    # the pool pays nothing and all of it is deleveraged; 8 hours later A's drawdown is gone.
    st = venue({"A": 350, "B": 1})
    st = replace(st, accounts={**st.accounts, "y": acct(0, {"A": (100, 1_000_000)}),
                               "s_A": acct(10**7, {"A": (-450, -4_500_000)})})
    after, _ = liquidate(st, "A")
    post, ev = apply(after, Liquidate("y", "book", {"A": 9_000}), shared())
    assert transfers(ev, "R-WF-3") == [] and trades(ev, "R-ADL-1") == [("account:y", "account:s_A", "A", 100, 10_000)]
    later = apply(after, AdvanceTime(WINDOW), shared())[0]
    post, ev = apply(later, Liquidate("y", "book", {"A": 9_000}), shared())
    # the pool's peak is now 700K, A's drawdown 0: it may pay floor(700K x 0.3) = 210K >= 100K
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:y", 100_000)]
    assert trades(ev, "R-ADL-1") == []


def test_R_WF_14_example_2_the_peak_is_the_pools_highest_balance_in_8_hours() -> None:
    # Example 2: the pool's 8-hour maximum is 2M (A brought it +1M); A then loses 600K:
    # pnlRatio = -600K / 2M = -30 %, at the threshold: the pool pays the 600K, users nothing.
    # A loss of 650K leaves 50K to ADL. Here the surplus of a liquidation in A brings the +1M.
    st = venue({"A": 650})
    # w: long 1 lot of A at 9,000 with nothing else, maintenance 100 % (liquidatable); sold
    # to the book at 1,009,000 it ends with 1,000,000, all sent to the pool (surplus 'all')
    st = replace(st, markets={"A": mkt("A", 9_000, im_ppm=10**6, mm_ppm=10**6)},
                 accounts={**st.accounts, "w": acct(0, {"A": (1, 9_000)}),
                           "s_A": acct(10**7, {"A": (-651, -6_509_000)})})
    post, ev = apply(st, Liquidate("w", "book", {"A": 1_009_000}), shared())
    assert transfers(ev, "R-LIQ-5") == [("account:w", "layer:insurance_fund", 1_000_000)]
    assert post.layers["insurance_fund"] == 2_000_000
    assert post.history["insurance_fund"] == (0, 2_000_000)  # the pool's 8-hour maximum
    assert post.history["insurance_fund:A"] == (0, 0)  # A's PnL is at its maximum
    mid, ev = liquidate(post, "A")
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:x_A", 600_000)]
    assert trades(ev, "R-ADL-1") == [("account:x_A", "account:s_A", "A", 50, 10_000)]
    assert mid.layers["insurance_fund"] == 1_400_000


def test_R_WF_14_example_3_an_empty_pool_leaves_the_rest_to_ADL() -> None:
    # Example 3: A, B, C, D share 1M; no symbol reaches -30 % (A, B, C lose 280K each,
    # -28 %), yet the pool falls to 160K; D then loses 350K: the pool pays its last 160K and
    # the rest (190 lots) is deleveraged: "insurance pool equity ADL" at balance 0. (The page
    # gives no figures for this case; these are chosen to fit its conditions.)
    st = venue({"A": 280, "B": 280, "C": 280, "D": 350})
    for m in "ABC":
        st, ev = liquidate(st, m)
        assert trades(ev, "R-ADL-1") == [] and transfers(ev, "R-WF-3")[0][2] == 280_000
    assert st.layers["insurance_fund"] == 160_000
    post, ev = liquidate(st, "D")
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:x_D", 160_000)]
    assert trades(ev, "R-ADL-1") == [("account:x_D", "account:s_D", "D", 190, 10_000)]
    assert post.layers["insurance_fund"] == 0 and post.bad_debt == 0 and eq_of(post, "x_D") == 0
    validate_state(post)


def test_R_WF_14_bybit_catalogue_file_uses_the_shared_pool_and_its_claims_hold() -> None:
    bybit = resolve_mechanism("bybit-adl")
    (layer,) = bybit.layers
    assert layer.scope == "global" and layer.drawdown_by == "market" and layer.drawdown_ppm == 300_000
    st = venue({"A": 350, "B": 350})
    after_a, _ = apply(st, Liquidate("x_A", "book", {"A": 9_000}), bybit)
    post, ev = apply(after_a, Liquidate("x_B", "book", {"B": 9_000}), bybit)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:x_B", 300_000)]
    for claim in bybit.claims:
        assert REGISTRY[claim].holds(after_a, Liquidate("x_B", "book", {"B": 9_000}), post, ev, bybit), claim


def test_R_WF_14_I_DRAWDOWN_judges_the_market_record_and_the_per_market_room() -> None:
    # a post-state whose record of A did not move, or a draw beyond A's room, is refused
    st = venue({"A": 350, "B": 1})
    op = Liquidate("x_A", "book", {"A": 9_000})
    post, ev = liquidate(st, "A")
    check = REGISTRY["I-DRAWDOWN"].holds
    assert check(st, op, post, ev, shared())
    stale = replace(post, history={k: v for k, v in post.history.items() if k != "insurance_fund:A"})
    assert not check(st, op, stale, ev, shared())
    moved_b = replace(post, history={**post.history, "insurance_fund:B": (0, 5)})
    assert not check(st, op, moved_b, ev, shared())
    # A already 300K down within the window: any draw for A breaks the rule
    down = replace(st, history={"insurance_fund:A": (0, 300_000)})
    assert not check(down, op, post, ev, shared())


def test_R_WF_14_a_markets_record_is_a_readable_time_record_and_a_foreign_one_is_refused() -> None:
    """R-RUN-1 / R-STATE-6: a scenario (or a saved counterexample) may carry a shared pool's
    record NAME:MARKET for a market of its state; one for a market it lacks is refused
    naming the key, as any record of a layer the mechanism does not keep."""
    import pytest
    from waterfall.model.errors import InvalidState
    from waterfall.model.replay import prepare
    m = shared()
    st = replace(venue({"A": 1, "B": 1}), clock=10, history={"insurance_fund:A": (0, 5, 10, 0)})
    assert prepare(st, m).history["insurance_fund:A"] == (0, 5, 10, 0)
    with pytest.raises(InvalidState, match="insurance_fund:Z"):
        prepare(replace(st, history={"insurance_fund:Z": (0, 0)}), m)
    with pytest.raises(InvalidState, match="insurance_fund:A"):
        prepare(st, shared(by="pool"))  # measured on the pool as a whole: no record per market
