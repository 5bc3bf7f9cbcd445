"""A mechanism: the parameters of one venue's waterfall (spec/mechanisms.md, R-MECH-*).

Loaded and validated from TOML by `model.loader`; the policies read it, never the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .units import PPM


@dataclass(frozen=True)
class Liquidation:
    """R-LIQ-5: what a liquidation that leaves equity >= 0 pays to `surplus_sink`:
    'all' of it (BitMEX), a 'fee' of fee_ppm of closed notional capped by it, or 'none'.

    R-LIQ-6 (partial liquidation, Hyperliquid, dYdX): with `step_ppm` > 0 a position whose
    notional at mark exceeds `step_threshold` is closed `step_ppm` of its notional at a
    time (at least `step_min_notional`), the account's step within `step_max_notional`
    (0: none) and `step_markets` positions (0: all), while its equity is at least
    `step_min_margin_ppm` of its maintenance requirement and no partial step happened in
    the last `step_cooldown` seconds; the step ends once maintenance margin is met."""

    surplus: str = "fee"
    fee_ppm: int = 0
    surplus_sink: str = "insurance_fund"
    step_ppm: int = 0
    step_threshold: int = 0
    step_min_notional: int = 0
    step_max_notional: int = 0
    step_markets: int = 0
    step_min_margin_ppm: int = 0
    step_cooldown: int = 0


@dataclass(frozen=True)
class LayerSpec:
    """R-WF-2: one loss-absorbing layer, drawn in file order.

    kind 'balance': a named balance (insurance fund, fee pool, backstop, house capital),
    keyed NAME or, with scope 'market', NAME:MARKET; `reserve` is kept back (Drift keeps 1),
    `cap_per_event` bounds one draw; `drawdown_ppm` > 0 stops the layer once it has fallen
    that share below its peak within the last `drawdown_window` seconds, while its balance
    is above `drawdown_floor` (R-WF-8: Bybit), or with `drawdown_mode` 'trigger' only
    decides how much goes to the book before ADL (R-ADL-7: OKX); `lifetime_cap` > 0 bounds
    what it pays for one market over its life (R-WF-9: Drift); markets in `isolated` have
    their own balance NAME:MARKET (R-WF-10: dYdX's isolated markets); an assessment with
    `assessment_period` > 0 caps what each member pays over all defaults of one period
    (R-CH-4: Eurex's capped period); `pays` false makes a balance that only receives (a
    surplus sink) and pays no deficit (R-WF-11: BitMEX's DPE-era fund); `after_adl` makes
    a layer that pays only what deleveraging leaves (R-WF-12: Hyperliquid's HLP backstop);
    a default fund's `alongside` names a balance that pays in the same pro-rata split
    (R-CH-5: Eurex's second skin in the game); `settlement` maps markets to the settlement
    currency whose fund NAME:CURRENCY pays for them (R-WF-13: Deribit's fund per currency);
    `drawdown_by` 'market' measures a shared pool's drawdown rule per market against the
    pool's peak, each market's PnL drawdown kept as the record NAME:MARKET (R-WF-14: Bybit's
    shared insurance pools).
    'defaulter_contribution', 'default_fund' and 'assessment' are the clearing-house
    layers (R-CH-*)."""

    name: str
    kind: str = "balance"
    scope: str = "global"
    reserve: int = 0
    cap_per_event: int = 0
    assessment_multiple_ppm: int = 0
    rounding: str = "largest_remainder"
    drawdown_ppm: int = 0
    drawdown_window: int = 0
    drawdown_floor: int = 0
    drawdown_mode: str = "cap"
    lifetime_cap: int = 0
    isolated: tuple[str, ...] = ()
    assessment_period: int = 0
    pays: bool = True
    after_adl: bool = False
    alongside: str = ""
    settlement: tuple[tuple[str, str], ...] = ()
    drawdown_by: str = "pool"

    def shared_market(self, markets: list[str]) -> str:
        """R-WF-14: the market a shared pool's draw and record belong to: the first of
        `markets` (id order) paid from the shared key NAME (not isolated); '' when none is."""
        if self.drawdown_by != "market":
            return ""
        return next((m for m in markets if m not in self.isolated), "")

    def market_records(self, markets: list[str]) -> list[str]:
        """R-WF-14: the records NAME:MARKET a shared pool measured per market keeps in
        `layer_history`, one per market of `markets` it pays from its shared key."""
        if self.kind != "balance" or self.drawdown_by != "market":
            return []
        return [f"{self.name}:{m}" for m in markets if m not in self.isolated]

    def keys(self, markets: list[str]) -> list[str]:
        """R-WF-3 / R-WF-10 / R-WF-13: the balance keys this layer pays from for positions in
        `markets` (id order): NAME:MARKET per market for scope 'market'; with `settlement`,
        NAME:CURRENCY for a market that settles in CURRENCY and NAME for the others, each
        once in first-use order; else NAME:MARKET for an isolated market and NAME (once)
        for the others."""
        if self.scope == "market":
            return [f"{self.name}:{m}" for m in markets]
        if self.settlement:
            currency = dict(self.settlement)
            keys: list[str] = []
            for m in markets:
                k = f"{self.name}:{currency[m]}" if m in currency else self.name
                if k not in keys:
                    keys.append(k)
            return keys or [self.name]
        own = [f"{self.name}:{m}" for m in markets if m in self.isolated]
        return own + [self.name] if len(own) < len(markets) or not markets else own


@dataclass(frozen=True)
class Haircut:
    """R-HC: pro-rata haircut of profit (socialised loss, clawback, VMGH). Profit
    'window_gain' counts the gain since the current `window` (seconds) began (R-HC-6);
    timing 'settlement' defers the loss to the end of the window (R-HC-7); `exempt`
    accounts are never charged (R-HC-8); `severity_ppm` is the share theta of the deficit
    socialised at all and `order` 'queue' takes it greedily, largest base first (R-HC-9,
    Chitra's severity and queue); `queue_order` ranks the queue by base ('profit'), by
    leverage x base ('leverage_profit') or by the `priority` list (R-HC-10);
    `account_caps` gives accounts their own cap beta_i in ppm of the base (R-HC-11)."""

    profit: str = "upnl"
    scope: str = "all_markets"
    eligibility: str = "any_profit"
    rounding: str = "largest_remainder"
    residue_sink: str = "bad_debt"
    cap_ppm: int = PPM
    window: int = 0
    timing: str = "liquidation"
    exempt: tuple[str, ...] = ()
    severity_ppm: int = PPM
    order: str = "pro_rata"
    queue_order: str = "profit"
    priority: tuple[str, ...] = ()
    account_caps: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Adl:
    """R-ADL: close the bankrupt position against ranked opposite positions. close_price
    'previous_mark' uses the mark before the last move (R-ADL-9), 'mark_or_bankruptcy' the
    mark while the layers can pay the deficit left at mark (R-ADL-10); `fund_first` sends to the
    counterparty what the layers can pay for and deleverages only the rest, the lots taken
    at most `takeover_cap_ppm` of what the layers can pay in notional (R-ADL-7), less with
    `takeover_cumulative` what the counterparty (the fund's book) already holds (R-ADL-12,
    Binance: until it is offloaded); pricing
    'per_fill' prices each fill on its own (R-ADL-8); `collateral_check` is the test
    `skip_insolvent` applies: 'equity' or dYdX's 'margin_ratio' (R-ADL-6)."""

    ranking: str = "profit"
    close_price: str = "bankruptcy"
    bankruptcy_rounding: str = "toward_bankrupt"
    skip_insolvent: bool = False
    fund_first: bool = False
    takeover_cap_ppm: int = 0
    takeover_cumulative: bool = False
    pricing: str = "uniform"
    collateral_check: str = "equity"


@dataclass(frozen=True)
class Levy:
    """R-LEVY: charge the loss per lot of open interest, both sides (Drift, Mango);
    `exempt` accounts (Drift's AMM) are outside the open interest and pay nothing (R-LEVY-5);
    `only_when_exhausted` levies only once the balance layers are exhausted, leaving the
    rest on the account otherwise (R-LEVY-6, Mango); `per_market` levies each market's part
    of the loss on that market's open interest (R-LEVY-7, Drift); `layers_per_market` runs
    the layers too once per market, on that market's part, each market's layers before its
    levy (R-WF-15, Drift's resolve_perp_bankruptcy(market_index))."""

    rate_scale: int = 10**9
    rate_rounding: str = "ceil"
    payment_rounding: str = "floor"
    residue_sink: str = "bad_debt"
    exempt: tuple[str, ...] = ()
    only_when_exhausted: bool = False
    per_market: bool = False
    layers_per_market: bool = False


@dataclass(frozen=True)
class WithdrawalHaircut:
    """R-WH: the shortfall left by the layers is recorded (R-WH-1) and recovered from
    withdrawals: a charge on the whole amount ('amount', Paradex's socialised-loss factor)
    or on the profit withdrawn ('profit', Percolator's haircut) (R-WH-2); with `window` > 0
    profit made within the current window cannot be withdrawn yet (R-WH-3, warm-up);
    `warming_first` burns that warming profit before any layer pays (R-WH-4, Percolator's
    crisis order); `recompute` charges for the shortfall as it stands when the withdrawal is
    made, net of what the layers hold then (R-WH-5, Paradex), accounts bankrupt at the
    current marks included, the charge beyond the records paid to the surplus sink (R-WH-6)."""

    base: str = "amount"
    window: int = 0
    warming_first: bool = False
    recompute: bool = False


@dataclass(frozen=True)
class Pool:
    """R-POOL: a liquidity pool account is every trader's counterparty (GMX v2): it absorbs
    what the layers leave (R-POOL-1); traders' PnL on a side is capped at
    max_pnl_factor_ppm of the pool's value when the pool pays it (R-POOL-2); a keeper may
    deleverage while the side's PnL exceeds adl_trigger_ppm of the pool, not below
    adl_floor_ppm (R-POOL-3); with `cap_on_decrease` every trade that reduces a trader's
    position against the pool settles its PnL, capped (R-POOL-4); `side_share_ppm` is the
    share of the pool's value that backs one side (GMX: half of a single-token pool)."""

    account: str = "pool"
    max_pnl_factor_ppm: int = PPM
    adl_trigger_ppm: int = PPM
    adl_floor_ppm: int = 0
    cap_on_decrease: bool = False
    side_share_ppm: int = PPM


@dataclass(frozen=True)
class BadDebtOnly:
    """R-WF-5: no socialisation; what the layers leave is recorded as bad debt."""


Final = Union[Haircut, Adl, Levy, WithdrawalHaircut, Pool, BadDebtOnly]


@dataclass(frozen=True)
class Mechanism:
    """A whole waterfall: liquidation surplus rule, ordered layers, final resort, claims."""

    id: str
    name: str
    liquidation: Liquidation = field(default_factory=Liquidation)
    layers: tuple[LayerSpec, ...] = ()
    final: Final = field(default_factory=BadDebtOnly)
    claims: tuple[str, ...] = ()
    source: dict = field(default_factory=dict, compare=False)
    path: str = ""
    relations: tuple[str, ...] = ()  # the relational claims (also in `claims`), R-PROVE-12

    def layer_keys(self, markets: list[str]) -> list[str]:
        """Names of the state balances the 'balance' layers and the surplus sink refer to."""
        keys = []
        for spec in self.layers:
            if spec.kind == "balance":
                keys += spec.keys(markets)
        sinks = [getattr(self.final, "residue_sink", "bad_debt")]
        if self.liquidation.surplus != "none" or not isinstance(self.final, (Adl, BadDebtOnly, Pool, WithdrawalHaircut)):
            sinks.append(self.liquidation.surplus_sink)
        for sink in sinks:
            if sink != "bad_debt" and sink not in keys and not any(k.startswith(sink + ":") for k in keys):
                keys.append(sink)
        return keys
