"""Kit variants (R-CONF-1): mechanisms built from catalogue files with the option values no
catalogue file uses (floor and ceil haircuts, residue sinks that are layers, capped
haircuts with floor or ceil, every levy rounding pair, ADL by profit toward the
counterparty, cyclic ADL at mark, clearing layers with floor and ceil, a bad-debt-only
venue with reserves and per-event caps; issue 21: severity below 10^6 with exempt accounts
and a short window, a settlement queue, a capped fund with a floor haircut whose residue
goes to a pool other than the surplus sink, a drawdown trigger with a lifetime cap, a
warm-up on amounts, a short assessment period, a pool whose ADL trigger is its whole value;
second pass: a fund with an isolated market, haircut queues by priority and by leverage,
per-account haircut caps, a mechanism without a [liquidation] table; third pass: dYdX's margin-ratio
check at a uniform previous-mark close with fund first, a drawdown level of 1 ppm, a warm-up window of 1 s;
fourth pass: levy, immediate and settlement haircut residues paid by a per-market layer, a
ceil default-fund split beside its tranche), so the vectors reach every option of
spec/mechanisms.md. Their ids start with `kit-`; an implementation announces them like
any other mechanism id.
"""
from __future__ import annotations

import copy
import tomllib
from typing import Any

from waterfall.model.loader import catalogue, mechanism_from_doc
from waterfall.model.mechanism import Mechanism

FUND = {"name": "insurance_fund", "kind": "balance"}
POOL = {"name": "fee_pool", "kind": "balance", "scope": "market"}
CAPPED_POOL = {**POOL, "cap_per_event": 1}  # pays 1 in the layer pass, so it still holds a residue to pay (R-HC-4)
CCP = [{"name": "defaulter_contribution", "kind": "defaulter_contribution"},
       {"name": "ccp_capital", "kind": "balance", "reserve": 2},
       {"name": "default_fund", "kind": "default_fund", "rounding": "floor"},
       {"name": "assessment", "kind": "assessment", "assessment_multiple_ppm": 1_500_000, "rounding": "ceil"}]

# id -> (catalogue file it starts from, sections replaced; None: the section left out)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "kit-haircut-floor-fund-residue": ("generic-socialized-loss", {
        "layers": [{**FUND, "reserve": 3, "cap_per_event": 50_000}],
        "final": {"policy": "haircut", "rounding": "floor", "residue_sink": "insurance_fund"}}),
    "kit-haircut-ceil-total-gain": ("okx-2018-clawback", {
        "liquidation": {"surplus": "all", "surplus_sink": "fee_pool"},
        "layers": [FUND, POOL],
        "final": {"policy": "haircut", "profit": "total_gain", "scope": "bankrupt_markets",
                  "eligibility": "net_profitable", "rounding": "ceil", "residue_sink": "fee_pool"}}),
    "kit-haircut-capped-floor": ("capped-pro-rata", {
        "layers": [{**FUND, "reserve": 1}],
        "final": {"policy": "haircut", "rounding": "floor", "residue_sink": "insurance_fund", "cap_ppm": 250_000}}),
    "kit-haircut-capped-ceil": ("capped-pro-rata", {
        "liquidation": {"surplus": "fee", "fee_ppm": 1, "surplus_sink": "fee_pool"},
        "layers": [POOL],
        "final": {"policy": "haircut", "profit": "upnl", "scope": "bankrupt_markets", "rounding": "ceil",
                  "residue_sink": "bad_debt", "cap_ppm": 750_000}}),
    "kit-levy-floor-ceil": ("drift-v2", {
        "layers": [{**FUND, "reserve": 5}, POOL],
        "final": {"policy": "levy", "rate_scale": 1_000, "rate_rounding": "floor", "payment_rounding": "ceil",
                  "residue_sink": "insurance_fund"}}),
    "kit-levy-ceil-ceil": ("mango-v4", {
        "liquidation": {"surplus": "all", "surplus_sink": "insurance_fund"},
        "final": {"policy": "levy", "rate_scale": 7, "rate_rounding": "ceil", "payment_rounding": "ceil",
                  "residue_sink": "bad_debt"}}),
    "kit-adl-profit-toward-counterparty": ("bitmex-adl", {
        "layers": [{**FUND, "scope": "market", "cap_per_event": 1_000_000}],
        "final": {"policy": "adl", "ranking": "profit", "close_price": "bankruptcy",
                  "bankruptcy_rounding": "toward_counterparty", "skip_insolvent": True}}),
    "kit-adl-cyclic-mark": ("dydx-v4-deleveraging", {
        "liquidation": {"surplus": "none"},
        "layers": [],
        "final": {"policy": "adl", "ranking": "cyclic", "close_price": "mark"}}),
    "kit-adl-binance-counterparty": ("binance-adl", {
        "final": {"policy": "adl", "ranking": "binance", "bankruptcy_rounding": "toward_counterparty"}}),
    "kit-ccp-floor-ceil-bad-debt": ("clearing-house-vmgh", {
        "liquidation": {"surplus": "all", "surplus_sink": "ccp_capital"},
        "layers": CCP, "final": {"policy": "bad_debt"}}),
    "kit-ccp-ceil-floor-levy": ("clearing-house-vmgh", {
        "liquidation": {"surplus": "fee", "fee_ppm": 20_000, "surplus_sink": "ccp_capital"},
        "layers": [CCP[1], {**CCP[2], "rounding": "ceil"}, {**CCP[3], "rounding": "floor"}],  # no defaulter layer
        "final": {"policy": "levy", "rate_scale": 1_000_000, "rate_rounding": "ceil", "payment_rounding": "floor",
                  "residue_sink": "ccp_capital"}}),
    # issue 21: the time and severity options no catalogue file combines, and a residue payee
    # other than the surplus sink (a residue sent to the surplus sink shows here)
    "kit-haircut-severity-exempt-window": ("deribit", {
        "layers": [FUND, POOL],
        "final": {"policy": "haircut", "profit": "window_gain", "window": 3_600, "rounding": "floor",
                  "residue_sink": "fee_pool", "exempt": ["amm"], "severity_ppm": 600_001}}),
    "kit-haircut-settlement-queue": ("bitmex-2015-profit-equalisation", {
        "layers": [FUND],  # a fund that pays (the DPE file's only receives, R-WF-11), so it can take the residue
        "final": {"policy": "haircut", "profit": "upnl", "timing": "settlement", "window": 7_200,
                  "order": "queue", "severity_ppm": 999_999, "exempt": ["amm"], "residue_sink": "insurance_fund"}}),
    "kit-fund-capped-floor-residue-pool": ("generic-socialized-loss", {
        "liquidation": {"surplus": "fee", "fee_ppm": 5_000, "surplus_sink": "insurance_fund"},
        "layers": [{**FUND, "lifetime_cap": 40_000, "cap_per_event": 30_000}, POOL],
        "final": {"policy": "haircut", "rounding": "floor", "residue_sink": "fee_pool"}}),
    "kit-drawdown-trigger-lifetime": ("bybit-adl", {
        "layers": [{**FUND, "scope": "market", "drawdown_ppm": 250_000, "drawdown_window": 600,
                    "drawdown_mode": "trigger", "drawdown_floor": 3, "lifetime_cap": 1_000_000}]}),
    "kit-warmup-amount-window": ("paradex-withdrawal-haircut", {
        "final": {"policy": "withdrawal_haircut", "base": "amount", "window": 60}}),
    "kit-ccp-short-period": ("clearing-house-vmgh", {
        "layers": [CCP[0], CCP[1], CCP[2], {**CCP[3], "assessment_period": 3_600}]}),
    "kit-pool-trigger-one": ("gmx-v2", {
        "final": {"policy": "pool", "account": "pool", "max_pnl_factor_ppm": 1_000_000, "adl_trigger_ppm": 1_000_000,
                  "adl_floor_ppm": 500_000}}),
    # issue 21, second pass: the options still no vector mechanism used (found by kit-mutate:
    # a loader mutant dropping `isolated` survived every vector)
    "kit-fund-isolated-market": ("dydx-v4-deleveraging", {  # R-WF-10: M1 has its own fund balance
        "layers": [{**FUND, "cap_per_event": 10**12, "isolated": ["M1"]}]}),
    "kit-haircut-queue-priority": ("bitmex-2015-profit-equalisation", {  # R-HC-10: the priority list's order
        "layers": [FUND],
        "final": {"policy": "haircut", "profit": "upnl", "order": "queue", "queue_order": "priority",
                  "priority": ["b", "a10", "Z", "a"], "severity_ppm": 700_000, "residue_sink": "insurance_fund"}}),
    "kit-haircut-leverage-queue": ("bitmex-2015-profit-equalisation", {  # R-HC-10: base x leverage first
        "layers": [FUND],
        "final": {"policy": "haircut", "profit": "upnl", "order": "queue", "queue_order": "leverage_profit",
                  "residue_sink": "insurance_fund"}}),
    "kit-haircut-account-caps": ("capped-pro-rata", {  # R-HC-11: per-account caps beside cap_ppm
        "final": {"policy": "haircut", "profit": "upnl", "rounding": "floor", "residue_sink": "bad_debt",
                  "cap_ppm": 500_000, "account_caps": {"a": 100_000, "B": 1_000_000, "a10": 1}}}),
    "kit-liquidation-defaults": ("generic-socialized-loss", {  # no [liquidation] table: every default (R-LIQ-5)
        "liquidation": None}),
    # issue 21, third pass: the boundary values kit-mutate's survivors need (waterfall/conformance/edges.py)
    "kit-adl-ratio-previous-mark": ("hyperliquid-adl", {  # R-ADL-6b at a uniform close price that may favour
        "layers": [FUND, {"name": "backstop", "kind": "balance", "after_adl": True}],  # the counterparty (the
        # previous mark), R-ADL-7's plan at the previous mark, a budget without the after-ADL backstop
        "final": {"policy": "adl", "ranking": "hyperliquid_side", "close_price": "previous_mark",
                  "skip_insolvent": True, "collateral_check": "margin_ratio", "fund_first": True,
                  "takeover_cap_ppm": 1_000_000}}),
    "kit-drawdown-one-ppm": ("okx-adl", {  # R-WF-8b: the smallest drawdown level, 1 ppm
        "layers": [{**FUND, "scope": "market", "drawdown_ppm": 1, "drawdown_window": 28_800,
                    "drawdown_mode": "trigger"}]}),
    "kit-warmup-one-second": ("paradex-withdrawal-haircut", {  # R-WH-3 / R-TIME-2: a window of 1 s rolls on
        "final": {"policy": "withdrawal_haircut", "base": "profit", "window": 1}}),  # every advance
    # issue 21, fourth pass: residue sinks that are per-market layers (a bankrupt or a deferred
    # loss outside the venue's first market shows which market's balance pays), a default
    # fund whose ceil split over-collects while the tranche alongside pays a part (R-CH-5)
    "kit-levy-market-residue": ("drift-v2", {  # R-LEVY-7 / R-HC-4: floor rates leave residues per market
        "layers": [{**FUND, "reserve": 1}, CAPPED_POOL],
        "final": {"policy": "levy", "rate_scale": 1_000, "rate_rounding": "floor", "payment_rounding": "floor",
                  "residue_sink": "fee_pool", "per_market": True, "exempt": ["amm"]}}),
    "kit-haircut-floor-market-residue": ("generic-socialized-loss", {  # R-HC-4 at once, per market
        "layers": [FUND, CAPPED_POOL],
        "final": {"policy": "haircut", "rounding": "floor", "residue_sink": "fee_pool"}}),
    "kit-haircut-settlement-market-residue": ("bitmex-2015-profit-equalisation", {  # R-HC-7 + R-HC-4
        "layers": [FUND, CAPPED_POOL],
        "final": {"policy": "haircut", "profit": "upnl", "timing": "settlement", "window": 7_200,
                  "rounding": "floor", "residue_sink": "fee_pool"}}),
    "kit-ccp-alongside-ceil": ("clearing-house-vmgh", {  # R-CH-2 / R-CH-5: ceil shares beside the tranche
        "layers": [CCP[0], CCP[1], {"name": "ccp_second_tranche", "kind": "balance", "pays": False},
                   {**CCP[2], "rounding": "ceil", "alongside": "ccp_second_tranche"}, CCP[3]]}),
    "kit-bad-debt-reserves-caps": ("generic-socialized-loss", {
        "liquidation": {"surplus": "none"},
        "layers": [{**FUND, "reserve": 7, "cap_per_event": 20_000}, {**POOL, "reserve": 2, "cap_per_event": 9}],
        "final": {"policy": "bad_debt"}}),
}


def _doc(vid: str) -> dict[str, Any]:
    base, sections = VARIANTS[vid]
    doc = tomllib.loads(catalogue()[base].read_text(encoding="utf-8"))
    doc.update(copy.deepcopy(sections))
    for key in [k for k, v in sections.items() if v is None]:  # a section left out: its defaults
        del doc[key]
    doc.update({"id": vid, "name": f"kit variant of {base}", "claims": [], "relations": [],
                "description": f"conformance kit variant of {base} (waterfall/conformance/kit.py)"})
    return doc


KIT_DOCS: dict[str, dict[str, Any]] = {vid: _doc(vid) for vid in VARIANTS}


def kit_mechanisms() -> list[Mechanism]:
    """The variants as checked mechanisms (the loader's rules apply to them too)."""
    return [mechanism_from_doc(KIT_DOCS[vid], f"<kit {vid}>") for vid in sorted(KIT_DOCS)]


# ------------------------------------------------------------------ sensitivity probes


def _ties_reversed(rems: Any, keys: Any, k: int) -> list[int]:
    cut = sorted(rems, reverse=True)[k - 1]
    above = [i for i, r in enumerate(rems) if r > cut]
    ties = sorted((i for i, r in enumerate(rems) if r == cut), key=keys.__getitem__, reverse=True)
    return above + ties[: k - len(above)]


def _margin_once(st: Any, acct: Any, *, initial: bool) -> int:
    total = sum(abs(p.size) * st.markets[m].mark * (st.markets[m].im_ppm if initial else st.markets[m].mm_ppm)
                for m, p in acct.positions.items())
    return -((-total) // 1_000_000)


def _adl_rescored_per_market() -> Any:
    from waterfall.model import adl
    original = adl.deleverage

    def deleverage(tx: Any, policy: Any, aid: str, markets: list[str], seed: str, **kw: Any) -> None:
        for m in markets:
            original(tx, policy, aid, [m], seed, **kw)
    return deleverage


def _water_fill_cut_at_caps(total: int, weights: Any, caps: Any, keys: Any, rounding: str) -> list[int]:
    from waterfall.model.allocation import allocate
    shares = allocate(total, weights, keys, rounding)
    return [min(s, c) for s, c in zip(shares, caps)]


def _peak_edge_excluded() -> Any:
    from waterfall.model import history
    original = history.peak

    def peak(points: Any, key: str, balance: int, clock: int, window: int) -> int:
        return original(points, key, balance, clock, max(0, window - 1))
    return peak


def _repay_reversed(tx: Any, aid: str, charge: int) -> None:
    from waterfall.model.events import acct
    left = charge
    for key in sorted(tx.deferred, reverse=True):
        part = min(left, tx.deferred[key])
        tx.pay("R-WH-2", acct(aid), "deferred:" + key, part, "withdrawal_haircut")
        left -= part
    for key in sorted(tx.deferred):
        if tx.deferred[key] == 0:
            del tx.deferred[key]


def _factor_at_or_above(pnl: int, value: int, factor_ppm: int) -> bool:
    return value > 0 and pnl * 1_000_000 >= factor_ppm * value


PROBES: dict[str, list[tuple[str, str, Any]]] = {
    # R-POOL-3: ADL is allowed only strictly above the trigger: a vector where >= differs
    "trigger strictly exceeded (R-POOL-3)": [("waterfall.model.pool", "factor_above", _factor_at_or_above)],
    # R-TIME-3: the window includes its start edge: a vector where leaving out the point at
    # clock - window changes the peak
    "window start edge decides (R-TIME-3)": [("waterfall.model.layers", "peak", _peak_edge_excluded())],
    # R-WH-2: deferred records repaid in key order: a vector where the order decides
    "repayment order decides (R-WH-2)": [("waterfall.model.step", "repay", _repay_reversed)],
    # R-ALLOC-4: a capped split redistributes what the capped accounts cannot take: a vector
    # where cutting at the caps without redistributing changes the shares
    "capped split redistributes (R-ALLOC-4)": [("waterfall.model.haircut", "water_fill", _water_fill_cut_at_caps)],
    # R-ADL-3: every market is ranked on the state before any ADL fill: a vector where ranking
    # each market after the previous market's fills changes who is deleveraged
    "ranking before any fill decides (R-ADL-3)": [("waterfall.model.waterfall", "deleverage",
                                                   _adl_rescored_per_market())],
    # R-ALLOC-2: equal remainders go to the smaller id: a vector where that decides a share
    "tie order decides (R-ALLOC-2)": [("waterfall.model.allocation", "top_remainders", _ties_reversed)],
    # R-MARGIN-1: margin rounded up per market: a vector where one rounding of the sum differs
    "per-market rounding decides (R-MARGIN-1)": [(m, "margin_requirement", _margin_once) for m in
                                                 ("waterfall.model.state", "waterfall.model.step",
                                                  "waterfall.model.waterfall")],
}
"""Semantic probes (R-CONF-1): a candidate vector whose outcome changes when the model is
run with the probe's rule deliberately broken is one where that rule decides something; the
vector selection keeps at least one such vector per mechanism."""


def probed(name: str) -> Any:
    """A context manager running the model with probe `name` installed."""
    import importlib
    from contextlib import ExitStack
    from unittest import mock
    stack = ExitStack()
    for module, attr, value in PROBES[name]:
        stack.enter_context(mock.patch.object(importlib.import_module(module), attr, value))
    return stack
