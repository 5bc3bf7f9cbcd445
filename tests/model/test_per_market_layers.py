"""R-WF-15: Drift's layers paid per market: each bankrupt market's part of the deficit is paid
by the insurance fund (that market's lifetime allowance), then that market's fee pool, then
levied on that market's open interest.

Source: drift-labs/protocol-v2 at 0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
programs/drift/src/controller/liquidation.rs `resolve_perp_bankruptcy(market_index, ...)`:
loss = that market's quote_asset_amount (< 0); if_payment = min(|loss|, vault - 1,
quote_max_insurance - quote_settled_insurance of that market), added to that market's
quote_settled_insurance; then that market's fee pool pays min(rest, fee pool tokens); the
rest moves that market's cumulative funding rates. The vault is one for all perp markets and
is read at each call. Worked figures from programs/drift/src/controller/liquidation/tests.rs,
`successful_resolve_perp_bankruptcy` (loss $100, 5 + 5 base, empty vault and fee pool: each
side pays $50) and `successful_resolve_perp_bankruptcy_with_fee_pool` (loss $100, fee pool
$50 pays 50, each side pays $25).
"""
from __future__ import annotations

from dataclasses import replace

from conftest import acct, apply, eq_of, mkstate, mkt, transfers
from waterfall.model.loader import resolve_mechanism
from waterfall.model.ops import Liquidate
from waterfall.spec.invariants import REGISTRY

CAP = 100_000_000_000  # drift-v2.toml's lifetime_cap (illustrative quote_max_insurance)


def drift() -> object:
    return resolve_mechanism("drift-v2")


def venue(vault: int, fee_n: int = 50, settled: dict[str, int] | None = None) -> object:
    """Drift's two test markets side by side: in M and in N the bankrupt b holds no base and a
    quote of -100 (its position was closed: size 0, open notional 100), the AMM the +100
    (exempt, outside the open interest), a long user 5 base and a short user 5 base. b has no
    collateral: equity -200. N's fee pool holds `fee_n` (Drift's fee-pool test: 50), M's none."""
    accounts = {"b": acct(0, {"M": (0, 100), "N": (0, 100)}),
                "amm": acct(0, {"M": (0, -100), "N": (0, -100)}),
                "L": acct(1_000, {"M": (5, 500)}), "S": acct(1_000, {"M": (-5, -500)}),
                "Y": acct(1_000, {"N": (5, 500)}), "Z": acct(1_000, {"N": (-5, -500)})}
    st = mkstate([mkt("M", 100), mkt("N", 100)], accounts,
                 {"insurance_fund": vault, "fee_pool:M": 0, "fee_pool:N": fee_n})
    return replace(st, layer_paid={f"insurance_fund:{m}": v for m, v in (settled or {}).items()})


def by_market(ev, rule: str) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for e in ev:
        if e.kind == "transfer" and e.rule == rule:
            out.setdefault(e.market, []).append((e.src, e.amount))
    return out


def test_R_WF_15_drift_tests_each_market_resolved_with_its_own_fee_pool() -> None:
    # Vault 0 as in both of Drift's tests: M resolves as `successful_resolve_perp_bankruptcy`
    # (no fee pool: 100 levied on 5 + 5 base, rate 10 a base, L and S pay 50 each), N as
    # `..._with_fee_pool` (N's fee pool pays 50, the other 50 levied: Y and Z pay 25 each).
    st = venue(vault=0)
    post, ev = apply(st, Liquidate("b"), drift())
    assert by_market(ev, "R-WF-3") == {"N": [("layer:fee_pool:N", 50)]}
    assert by_market(ev, "R-LEVY-2") == {"M": [("account:L", 50), ("account:S", 50)],
                                         "N": [("account:Y", 25), ("account:Z", 25)]}
    assert eq_of(post, "b") == 0 and post.bad_debt == 0 and post.layers["fee_pool:N"] == 0
    # In one pass (R-LEVY-7 alone) N's fee pool paid for M's loss too: 50 of the 200, the
    # other 150 split 75 / 75, so M's holders paid floor(5 x 7.5) = 37 each instead of 50
    # (and a rounding unit per market went to bad debt).
    one_pass = replace(drift(), final=replace(drift().final, layers_per_market=False))
    post1, ev1 = apply(st, Liquidate("b"), one_pass)
    assert transfers(ev1, "R-WF-3") == [("layer:fee_pool:N", "account:b", 50)]
    levied = {src: amt for src, _, amt in transfers(ev1, "R-LEVY-2")}
    assert levied == {"account:L": 37, "account:S": 37, "account:Y": 37, "account:Z": 37}
    assert post1.bad_debt == 2


def test_R_WF_15_insurance_allowance_and_record_per_market() -> None:
    # Vault 301 (keeps 1: 300 payable); M has 60 of its allowance left, N all of it.
    # M: if_payment = min(100, 300, 60) = 60, record M +60; M's fee pool is empty: 40 levied
    #    (rate ceil(40e9 / 10) = 4e9: L and S 20 each).
    # N: if_payment = min(100, 300 - 60, CAP) = 100, record N +100; N's fee pool untouched.
    st = venue(vault=301, settled={"M": CAP - 60})
    post, ev = apply(st, Liquidate("b"), drift())
    assert by_market(ev, "R-WF-3") == {"M": [("layer:insurance_fund", 60)], "N": [("layer:insurance_fund", 100)]}
    assert by_market(ev, "R-LEVY-2") == {"M": [("account:L", 20), ("account:S", 20)]}
    assert post.layer_paid == {"insurance_fund:M": CAP, "insurance_fund:N": 100}
    assert post.layers["insurance_fund"] == 141 and post.layers["fee_pool:N"] == 50
    # One pass: the fund pays for the whole account under the first market's allowance
    # (R-WF-9): 60, all recorded against M; N's unused allowance pays nothing.
    one_pass = replace(drift(), final=replace(drift().final, layers_per_market=False))
    post1, _ = apply(st, Liquidate("b"), one_pass)
    assert post1.layer_paid == {"insurance_fund:M": CAP} and post1.layers["insurance_fund"] == 241


def test_R_WF_15_the_shared_vault_pays_the_markets_in_id_order() -> None:
    # Vault 81 (80 payable): M takes min(100, 80, 60) = 60; N finds 20 left: 20 from the
    # fund, 50 from its fee pool, 30 levied (Y and Z 15 each).
    st = venue(vault=81, settled={"M": CAP - 60})
    post, ev = apply(st, Liquidate("b"), drift())
    assert by_market(ev, "R-WF-3") == {"M": [("layer:insurance_fund", 60)],
                                       "N": [("layer:insurance_fund", 20), ("layer:fee_pool:N", 50)]}
    assert by_market(ev, "R-LEVY-2") == {"M": [("account:L", 20), ("account:S", 20)],
                                         "N": [("account:Y", 15), ("account:Z", 15)]}
    assert post.layers["insurance_fund"] == 1 and post.layer_paid["insurance_fund:N"] == 20


def test_R_WF_15_split_pro_rata_to_each_markets_loss_largest_remainder() -> None:
    # b has collateral 50 against losses M 100 and N 200: deficit 250, split 250 x 100/300 =
    # 83.33 and 250 x 200/300 = 166.67: floors 83 + 166 = 249, the remainder unit to N (its
    # fraction .67 is larger): parts 83 and 167. Vault 0 and no fee pool: both levied.
    st = venue(vault=0, fee_n=0)
    st = replace(st, accounts={**st.accounts, "b": acct(50, {"M": (0, 100), "N": (0, 200)}),
                               "amm": acct(0, {"M": (0, -100), "N": (0, -200)})})
    post, ev = apply(st, Liquidate("b"), drift())
    cover = {m: sum(a for _, a in v) for m, v in by_market(ev, "R-LEVY-2").items()}
    debt = {m: sum(a for _, a in v) for m, v in by_market(ev, "R-WF-5").items()}
    # rate M = ceil(83e9 / 10) = 8.3e9: 5 base pays floor(41.5) = 41, twice: 82, 1 to bad debt;
    # rate N = ceil(167e9 / 10) = 16.7e9: floor(83.5) = 83 twice: 166, 1 to bad debt.
    assert cover == {"M": 82, "N": 166} and debt == {"M": 1, "N": 1}
    assert post.bad_debt == 2 and eq_of(post, "b") == 0


def test_R_WF_15_invariants_read_each_markets_pass() -> None:
    # The one-pass run judged as a per-market run: its transfers carry no market, so no
    # market's pass took its part (I-BUDGET) and M's record grew by what no pass of M drew
    # (I-LIFETIME); a run whose N pass drew N's fee pool while the vault could still pay
    # breaks I-ORDER.
    m = drift()
    st = venue(vault=301, settled={"M": CAP - 60})
    op = Liquidate("b")
    post, ev = apply(st, op, m)
    for inv in ("I-ORDER", "I-BUDGET", "I-LIFETIME"):
        assert REGISTRY[inv].holds(st, op, post, ev, m), inv
    one_pass = replace(m, final=replace(m.final, layers_per_market=False))
    post1, ev1 = apply(st, op, one_pass)
    assert not REGISTRY["I-BUDGET"].holds(st, op, post1, ev1, m)
    assert not REGISTRY["I-LIFETIME"].holds(st, op, post1, ev1, m)
    # N's fund draw of 100 replaced by the fee pool's 50 and a levy of 50: the vault still had 240
    swapped = [e._replace(src="layer:fee_pool:N", amount=50, layer="fee_pool")
               if e.market == "N" and e.rule == "R-WF-3" else e for e in ev]
    swapped += [e._replace(rule="R-LEVY-2", src="account:Y", amount=50, layer="levy", market="N")
                for e in ev if e.market == "N" and e.rule == "R-WF-3"]
    assert not REGISTRY["I-ORDER"].holds(st, op, post, swapped, m)
