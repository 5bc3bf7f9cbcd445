"""R-WH-*: a shortfall recovered from withdrawals (Paradex), profit that warms up and is
haircut when withdrawn (Percolator)."""
from __future__ import annotations

import pytest

from conftest import LayerSpec, Mechanism, acct, apply, eq_of, mech, mkstate, mkt, transfers
from waterfall.model.errors import InsufficientMargin
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.mechanism import WithdrawalHaircut
from waterfall.model.ops import AdvanceTime, Liquidate, SetMark, Withdraw
from waterfall.model.step import step
from waterfall.model.units import div_ceil


def shortfall_venue() -> object:
    """Alice long 10 from 100, Charlie short 10 from 100, Bob flat; 1,000 each; fund 400. The
    mark rises to 260: Charlie is at 1,000 - 1,600 = -600 and buys back from Alice at 260."""
    return mkstate([mkt("M", 100)], {"alice": acct(1_000, {"M": (10, 1_000)}), "bob": acct(1_000),
                                     "charlie": acct(1_000, {"M": (-10, -1_000)})}, {"insurance_fund": 400})


def after_default(policy: Mechanism) -> object:
    st = apply(shortfall_venue(), SetMark("M", 260), policy)[0]
    st, ev = apply(st, Liquidate("charlie", "alice", {"M": 260}), policy)
    assert transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:charlie", 400)]
    assert transfers(ev, "R-HC-7") == [("deferred:M", "account:charlie", 200)]  # R-WH-1
    assert st.deferred == {"M": 200} and eq_of(st, "charlie") == 0 and st.bad_debt == 0
    return settled(st)


def settled(st) -> object:
    """Every account's realised PnL (its flat positions' records) moved into collateral, as a
    venue settles PnL to the wallet (equities and value unchanged, still zero-sum)."""
    from dataclasses import replace
    accounts = {}
    for aid, a in st.accounts.items():
        pnl = sum(-p.open_notional for p in a.positions.values() if p.size == 0)
        keep = {m: p for m, p in a.positions.items() if p.size != 0}
        accounts[aid] = a._replace(collateral=a.collateral + pnl, positions=keep)
    return replace(st, accounts=accounts)


def paradex() -> Mechanism:
    return mech(final=WithdrawalHaircut(base="amount"), layers=(LayerSpec("insurance_fund"),))


def test_R_WH_2_paradex_every_withdrawal_pays_the_socialised_loss_factor() -> None:
    # docs.paradex.trade/risk/socialized-losses: during the shortfall every withdrawal is
    # charged the socialised-loss factor; users who do not withdraw are not affected. The
    # shortfall is 200; client balances 2,600 (alice) + 1,000 (bob). Alice withdraws 1,800:
    # ceil(1,800 x 200 / 3,600) = 100 is kept, 1,700 leaves; shortfall 100. Bob then
    # withdraws 1,000: ceil(1,000 x 100 / (800 + 1,000)) = 56, he receives 944.
    st = after_default(paradex())
    st, ev = apply(st, Withdraw("alice", 1_800), paradex())
    assert transfers(ev) == [("account:alice", "deferred:M", 100), ("account:alice", "external", 1_700)]
    assert st.deferred == {"M": 100} and st.accounts["alice"].net_deposit == 1_000 - 1_700
    st, ev = apply(st, Withdraw("bob", 1_000), paradex())
    assert transfers(ev) == [("account:bob", "deferred:M", 56), ("account:bob", "external", 944)]
    assert st.deferred == {"M": 44}


def test_R_WH_2_no_charge_without_a_shortfall_and_the_record_is_removed_once_repaid() -> None:
    st, ev = apply(shortfall_venue(), Withdraw("bob", 100), paradex())
    assert transfers(ev) == [("account:bob", "external", 100)]
    st = after_default(paradex())
    st, ev = apply(st, Withdraw("alice", 2_600), paradex())   # ceil(2,600 x 200 / 3,600) = 145
    st, ev = apply(st, Withdraw("bob", 1_000), paradex())     # ceil(1,000 x 55 / 1,000) = 55: all of it
    assert transfers(ev)[0] == ("account:bob", "deferred:M", 55) and st.deferred == {}
    st, ev = apply(st, SetMark("M", 100), paradex())
    assert st.deferred == {}


def percolator(window: int = 0) -> Mechanism:
    return mech(final=WithdrawalHaircut(base="profit", window=window), layers=(LayerSpec("insurance_fund"),),
                surplus="all")


def test_R_WH_2_percolator_only_withdrawn_profit_is_haircut() -> None:
    # Percolator's haircut applies to released profit, never to principal: alice's gain is
    # 1,600 and the only gain; withdrawing 1,800 releases 1,600 of profit, charged
    # ceil(1,600 x 200 / 1,600) = 200. Bob withdraws principal only: no charge.
    st = after_default(percolator())
    st2, ev = apply(st, Withdraw("bob", 1_000), percolator())
    assert transfers(ev) == [("account:bob", "external", 1_000)]
    st, ev = apply(st, Withdraw("alice", 1_800), percolator())
    assert transfers(ev) == [("account:alice", "deferred:M", 200), ("account:alice", "external", 1_600)]
    assert st.deferred == {}


def test_R_WH_3_profit_warms_up_before_it_can_be_withdrawn() -> None:
    # crates/model_safety/src/warmup.rs: withdrawable PnL is capped by the warm-up. With a
    # one-hour window, alice's 1,600 made in this window stays: she can take out 1,000 of
    # her 2,600 (no position, no margin), and all of it once the window has ended.
    policy = percolator(window=3_600)
    st = after_default(policy)
    with pytest.raises(InsufficientMargin, match="warming up"):
        step(st, Withdraw("alice", 1_001), policy)
    st1, _ = apply(st, Withdraw("alice", 1_000), policy)
    assert eq_of(st1, "alice") == 1_600
    later = apply(st, AdvanceTime(3_600), policy)[0]     # the window ends: the gain is matured
    assert later.window_base["alice"] == 1_600
    post, ev = apply(later, Withdraw("alice", 2_600), policy)
    assert ("account:alice", "deferred:M", 200) in transfers(ev)


def test_R_WH_catalogue_files() -> None:
    assert load_mechanism(catalogue()["paradex-withdrawal-haircut"]).final == WithdrawalHaircut("amount", 0, recompute=True)
    assert load_mechanism(catalogue()["percolator-warmup"]).final == WithdrawalHaircut("profit", 3_600, warming_first=True)


def test_R_WH_4_percolator_burns_warming_profit_before_the_fund() -> None:
    # aeyakovenko/percolator crates/model_safety/src/crisis/haircut.rs, "Loss Waterfall":
    # 1. warming PnL (burn unvested PnL first), 2. insurance fund, 3. equity. Charlie's deficit
    # 600; alice's 1,600 made in this window is still warming: it pays all 600 and the fund
    # keeps its 400; nothing is left for withdrawals to repay. Without the burn (before issue
    # 19) the fund paid 400 and 200 waited for withdrawals (after_default).
    policy = load_mechanism(catalogue()["percolator-warmup"])
    st = apply(shortfall_venue(), SetMark("M", 260), policy)[0]
    post, ev = apply(st, Liquidate("charlie", "alice", {"M": 260}), policy)
    assert transfers(ev, "R-WH-4") == [("account:alice", "account:charlie", 600)]
    assert transfers(ev, "R-WF-3") == [] and post.layers["insurance_fund"] == 400 and post.deferred == {}
    assert eq_of(post, "alice") == 2_000 and eq_of(post, "charlie") == 0
    # once the window has ended alice's gain is vested: the fund pays first again
    later = apply(st, AdvanceTime(3_600), policy)[0]
    post, ev = apply(later, Liquidate("charlie", "alice", {"M": 260}), policy)
    assert transfers(ev, "R-WH-4") == [] and transfers(ev, "R-WF-3") == [("layer:insurance_fund", "account:charlie", 400)]


def test_R_WH_5_paradex_recomputes_the_shortfall_so_a_recovered_fund_ends_the_charge() -> None:
    # docs.paradex.trade/risk/socialized-losses: Exchange Bankruptcy Amount = max(0, users'
    # bankruptcy amount - insurance fund balance); the factor applies only while it is
    # positive, and the charge stops once the fund is recapitalised. After the default the
    # record is 200 and the fund 0: alice's withdrawal of 1,800 pays 100 as before. If the fund
    # has been recapitalised to 150 first, the live shortfall is 50: ceil(1,800 x 50 / 3,600)
    # = 25; at 200 or more, nothing (the fixed record alone would still charge 100).
    from dataclasses import replace
    policy = load_mechanism(catalogue()["paradex-withdrawal-haircut"])
    st = after_default(policy)
    assert transfers(apply(st, Withdraw("alice", 1_800), policy)[1])[0] == ("account:alice", "deferred:M", 100)
    for fund, charge in ((150, 25), (200, 0), (1_000, 0)):
        _, ev = apply(replace(st, layers={"insurance_fund": fund}), Withdraw("alice", 1_800), policy)
        assert sum(a for s_, d, a in transfers(ev) if d == "deferred:M") == charge
    _, ev = apply(replace(st, layers={"insurance_fund": 150}), Withdraw("alice", 1_800), paradex())
    assert transfers(ev)[0] == ("account:alice", "deferred:M", 100)  # without recompute


def paradex_docs_venue() -> object:
    """tradeparadex/paradex-docs docs/pages/risk-system/socialized-losses.mdx (commit
    47327fa159676b9acfb3cf8f499bbdf8e64dc55b; served at docs.paradex.trade/risk/socialized-losses),
    'Example': the fund holds 1,000; Alice, Bob and Charlie 1,000 each; Alice bought 50
    XYZ from Bob at 100."""
    return mkstate([mkt("XYZ", 100)], {"alice": acct(1_000, {"XYZ": (50, 5_000)}),
                                       "bob": acct(1_000, {"XYZ": (-50, -5_000)}), "charlie": acct(1_000)},
                   {"insurance_fund": 1_000})


def test_R_WH_6_paradex_docs_example_the_shortfall_is_measured_at_mark() -> None:
    # The docs' example: the mark crashes to 40, Alice is at 1,000 - 3,000 = -2,000, so her
    # bankruptcy amount is 2,000 and the Exchange Bankruptcy Amount 2,000 - 1,000 = 1,000.
    # Charlie withdraws 500: the charge goes to the insurance fund. The page's formula,
    # EBA / (total balance 4,000 + EBA) = 20 %, gives 100; its worked arithmetic, 1,000 / 4,000,
    # gives 125 (the page disagrees with itself; the model's C = positive equity 4,000 + 1,000
    # gives 100, as the formula does). The fund takes over Alice's account, which the model
    # leaves open (not yet liquidated): the mark moves up to 70, Alice is at -500, the fund
    # (1,100 now) covers it, the Exchange Bankruptcy Amount is 0 and withdrawals pay nothing.
    policy = load_mechanism(catalogue()["paradex-withdrawal-haircut"])
    st = apply(paradex_docs_venue(), SetMark("XYZ", 40), policy)[0]
    assert eq_of(st, "alice") == -2_000 and eq_of(st, "bob") == 4_000
    st, ev = apply(st, Withdraw("charlie", 500), policy)
    assert transfers(ev) == [("account:charlie", "layer:insurance_fund", 100), ("account:charlie", "external", 400)]
    assert transfers(ev, "R-WH-6") == [("account:charlie", "layer:insurance_fund", 100)]
    assert st.layers["insurance_fund"] == 1_100 and st.deferred == {}
    up = apply(st, SetMark("XYZ", 70), policy)[0]
    assert eq_of(up, "alice") == -500
    _, ev = apply(up, Withdraw("charlie", 500), policy)
    assert transfers(ev) == [("account:charlie", "external", 500)]
    # the fixed record (R-WH-1) is not revalued: liquidated at 40 instead, the 2,000 - 1,100 =
    # 900 the fund could not pay stays recorded, and after the recovery charlie (500) still
    # pays ceil(400 x 900 / (4,000 + 500)) = 80 (bob's 4,000 is realised at 40)
    done = apply(st, Liquidate("alice", "bob", {"XYZ": 40}), policy)[0]
    assert done.deferred == {"XYZ": 900} and done.layers["insurance_fund"] == 0
    _, ev = apply(apply(done, SetMark("XYZ", 70), policy)[0], Withdraw("charlie", 400), policy)
    assert transfers(ev, "R-WH-2") == [("account:charlie", "deferred:XYZ", div_ceil(400 * 900, 4_000 + 500))]


def test_R_WH_6_a_bankrupt_account_counts_only_with_recompute_and_only_while_bankrupt_at_mark() -> None:
    # Without recompute (Percolator's fixed record) an open bankrupt account charges nothing.
    st = apply(paradex_docs_venue(), SetMark("XYZ", 40), paradex())[0]
    assert transfers(apply(st, Withdraw("charlie", 500), paradex())[1]) == [("account:charlie", "external", 500)]
    policy = load_mechanism(catalogue()["paradex-withdrawal-haircut"])
    for mark, charge in ((40, 100), (60, 0), (100, 0)):   # at 60 Alice is -1,000: the fund covers it
        s = apply(paradex_docs_venue(), SetMark("XYZ", mark), policy)[0]
        _, ev = apply(s, Withdraw("charlie", 500), policy)
        assert sum(a for _, d, a in transfers(ev) if d == "layer:insurance_fund") == charge, mark
