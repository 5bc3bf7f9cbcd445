"""Realistic engine bugs (issue 13): the reference adapter with one bug each, as an
implementer could write it: tie orders, residues and surpluses sent to the wrong sink,
fees on the wrong price, reserves and caps off by one, rankings rescored per market, int64
storage, 128-bit intermediates, a haircut that looks at the first accounts only, margin
rounded once over all markets, checks in the wrong order, ...

Each engine is `python tests/engine_bugs.py NAME` (the adapter with the bug installed);
tests/conformance/test_conform_bugs.py checks the committed vectors catch every one of them, and
bench/conform_bugs.py measures how long `conform --fuzz` takes to find each.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import importlib

from waterfall.model import (adl, allocation, clock, events, haircut, layers, levy, partial, pool, settlement, state,
                             waterfall, withdrawal)
from waterfall.model.errors import HealthyAccount, InvalidAmount
from waterfall.model.mechanism import Levy
from waterfall.model.ops import AdvanceTime, SetMark
from waterfall.model.tx import Tx
from waterfall.model.units import PPM, check_input
from waterfall.conformance import adapter

HERE = Path(__file__).resolve()
step = importlib.import_module("waterfall.model.step")  # the module (the package exports the function)


@dataclass(frozen=True)
class EngineBug:
    """A named bug: what it gets wrong, the mechanisms that show it, how to install it."""

    name: str
    what: str
    mechanisms: tuple[str, ...]
    install: Callable[[Any], None]


def command(name: str) -> str:
    """The engine's command line."""
    return f"{sys.executable} {HERE} {name}"


# ------------------------------------------------------------------ the bugs


def _ties_reversed(p: Any) -> None:
    def top(rems, keys, k):
        cut = sorted(rems, reverse=True)[k - 1]
        above = [i for i, r in enumerate(rems) if r > cut]
        ties = sorted((i for i, r in enumerate(rems) if r == cut), key=keys.__getitem__, reverse=True)
        return above + ties[: k - len(above)]
    p.setattr(allocation, "top_remainders", top)


def _ties_case_insensitive(p: Any) -> None:
    def top(rems, keys, k):
        cut = sorted(rems, reverse=True)[k - 1]
        above = [i for i, r in enumerate(rems) if r > cut]
        ties = sorted((i for i, r in enumerate(rems) if r == cut), key=lambda i: keys[i].lower())
        return above + ties[: k - len(above)]
    p.setattr(allocation, "top_remainders", top)


def _residue_to_bad_debt(p: Any) -> None:
    p.setattr(haircut, "settle_residue", lambda tx, mech, sink, aid, rest, residue, markets: rest)
    p.setattr(levy, "settle_residue", lambda tx, mech, sink, aid, rest, residue, markets: rest)


def _surplus_to_first_layer(p: Any) -> None:
    original = layers.sink_key

    def sink_key(mech, sink, markets, venue_markets):
        first = next((s.name for s in mech.layers if s.kind == "balance"), sink)
        return original(mech, first, markets, venue_markets)
    p.setattr(waterfall, "sink_key", sink_key)


def _fee_on_fill_price(p: Any) -> None:
    fills: dict[str, int] = {}
    original, real_notional = step.HANDLERS[waterfall.Liquidate], waterfall.notional

    def notional(st, a):  # the closed notional priced at the fill prices, not at mark
        marks = {m: mk._replace(mark=fills.get(m, mk.mark)) for m, mk in st.markets.items()}
        return real_notional(state.State(marks, st.accounts, st.layers, st.default_fund, st.bad_debt), a)

    def liquidate(st, op, mech):
        fills.clear()
        fills.update(op.fill_prices)
        return original(st, op, mech)
    p.setattr(waterfall, "notional", notional)
    p.setitem(step.HANDLERS, waterfall.Liquidate, liquidate)


def _reserve_off_by_one(p: Any) -> None:
    def draw_balance(tx, spec, aid, deficit, markets):
        paid = 0
        keys = [f"{spec.name}:{m}" for m in markets] if spec.scope == "market" else [spec.name]
        for key in keys:
            room = max(0, tx.layers.get(key, 0) - max(0, spec.reserve - 1))  # keeps reserve - 1
            if spec.cap_per_event:
                room = min(room, spec.cap_per_event - paid)
            amount = min(deficit - paid, room)
            tx.pay("R-WF-3", "layer:" + key, "account:" + aid, amount, spec.name)
            paid += amount
        return paid
    p.setitem(layers.DRAW, "balance", draw_balance)


def _cap_off_by_one(p: Any) -> None:
    def draw_balance(tx, spec, aid, deficit, markets):
        paid = 0
        keys = [f"{spec.name}:{m}" for m in markets] if spec.scope == "market" else [spec.name]
        for key in keys:
            room = max(0, tx.layers.get(key, 0) - spec.reserve)
            if spec.cap_per_event:
                room = min(room, max(0, spec.cap_per_event - 1 - paid))  # '<' where '<=' is meant
            amount = min(deficit - paid, room)
            tx.pay("R-WF-3", "layer:" + key, "account:" + aid, amount, spec.name)
            paid += amount
        return paid
    p.setitem(layers.DRAW, "balance", draw_balance)


def _rescored_per_market(p: Any) -> None:
    original = adl.deleverage

    def deleverage(tx, policy, aid, markets, seed, lots=None, prices=None, covered=False, book=None):
        for m in markets:  # each market ranked on the state after the previous market's fills
            original(tx, policy, aid, [m], seed, lots=lots, prices=prices, covered=covered, book=book)
    p.setattr(waterfall, "deleverage", deleverage)


def _wrap(bits: int) -> Callable[[int], int]:
    half = 1 << (bits - 1)
    return lambda x: (x + half) % (1 << bits) - half


def _int64_storage(p: Any) -> None:
    wrap, original = _wrap(64), adapter.state_to_json

    def state_to_json(st):
        doc = original(st)
        for a in doc["accounts"]:
            for k in ("collateral", "net_deposit"):
                a[k] = str(wrap(int(a[k])))
            for pos in a["positions"]:
                pos["open_notional"] = str(wrap(int(pos["open_notional"])))
        doc["layers"] = {k: str(wrap(int(v))) for k, v in doc["layers"].items()}
        doc["bad_debt"] = str(wrap(int(doc["bad_debt"])))
        return doc
    p.setattr(adapter, "state_to_json", state_to_json)


def _int128_products(p: Any) -> None:
    wrap, original = _wrap(128), allocation.allocate

    def allocate(total, weights, keys, rounding):
        wsum = sum(weights)
        if wsum == 0 or total == 0 or rounding != allocation.FLOOR and rounding != allocation.LARGEST_REMAINDER:
            return original(total, weights, keys, rounding)
        pairs = [divmod(wrap(total * w), wsum) for w in weights]  # the product overflows 128 bits
        shares = [q for q, _ in pairs]
        if rounding == allocation.FLOOR:
            return shares
        extra = total - sum(shares)
        if 0 < extra <= len(shares):
            for i in allocation.top_remainders([r for _, r in pairs], keys, extra):
                shares[i] += 1
        return shares
    for module in (allocation, haircut, layers):
        p.setattr(module, "allocate", allocate)


def _haircut_first_eight(p: Any) -> None:
    original = haircut.haircut_base

    def base(tx, policy, aid, markets):
        ids, weights = original(tx, policy, aid, markets)
        first = set(sorted(tx.accounts)[:8])  # looks at the first page of accounts only
        keep = [k for k, i in enumerate(ids) if i in first]
        return [ids[k] for k in keep], [weights[k] for k in keep]
    p.setattr(haircut, "haircut_base", base)


def _margin_rounded_once(p: Any) -> None:
    def margin_requirement(st, acct, *, initial):
        total = sum(abs(pos.size) * st.markets[m].mark * (st.markets[m].im_ppm if initial else st.markets[m].mm_ppm)
                    for m, pos in acct.positions.items())
        return -((-total) // PPM)  # one ceil over all markets instead of one per market
    for module in (state, step, waterfall):
        p.setattr(module, "margin_requirement", margin_requirement)


def _deposit_amount_first(p: Any) -> None:
    original = step.HANDLERS[step.Deposit]

    def deposit(st, op, mech):
        check_input(op.amount, "amount", positive=True, account=op.account)  # before the account lookup
        return original(st, op, mech)
    p.setitem(step.HANDLERS, step.Deposit, deposit)


def _health_before_counterparty(p: Any) -> None:
    original = waterfall.check_liquidatable

    def check(st, op):
        a = st.account(op.account)
        if waterfall.equity(st, a) >= waterfall.margin_requirement(st, a, initial=False):
            raise HealthyAccount("healthy", account=op.account)  # before the counterparty checks
        original(st, op)
    p.setattr(waterfall, "check_liquidatable", check)


def _levy_rate_floor(p: Any) -> None:
    original = levy.levy

    def levy_(tx, mech, aid, deficit, markets, surplus_key):
        from dataclasses import replace
        mech2 = replace(mech, final=replace(mech.final, rate_rounding="floor"))
        return original(tx, mech2, aid, deficit, markets, surplus_key)
    p.setitem(waterfall.FINAL, Levy, levy_)


def _bankruptcy_price_truncated(p: Any) -> None:
    def price(mark, size, eq, rounding):
        return max(1, mark + int(-eq / size))  # float division, truncated toward zero
    p.setattr(adl, "bankruptcy_price", price)


def _default_fund_includes_defaulter(p: Any) -> None:
    def draw(tx, spec, aid, deficit, markets):
        ids = sorted(m for m, c in tx.default_fund.items() if c > 0)  # the defaulter's own share too
        left = [tx.default_fund[m] for m in ids]
        amount = min(deficit, sum(left))
        shares = layers.clip(allocation.allocate(amount, left, ids, spec.rounding), amount)
        for m, share in zip(ids, shares):
            tx.pay("R-CH-2", "default_fund:" + m, "account:" + aid, share, spec.name)
        return sum(shares)
    p.setitem(layers.DRAW, "default_fund", draw)


def _assessment_ignores_equity(p: Any) -> None:
    def draw(tx, spec, aid, deficit, markets):
        ids, contrib = layers._members(tx, aid)
        caps = [c * spec.assessment_multiple_ppm // PPM for c in contrib]  # not capped at the member's equity
        shares = layers.clip(allocation.water_fill(deficit, contrib, caps, ids, spec.rounding), deficit)
        for m, share in zip(ids, shares):
            tx.pay("R-CH-3", "account:" + m, "account:" + aid, share, spec.name)
        return sum(shares)
    p.setitem(layers.DRAW, "assessment", draw)


def _skip_insolvent_ignored(p: Any) -> None:
    original = waterfall.deleverage

    def deleverage(tx, policy, aid, markets, seed, **kw):
        from dataclasses import replace
        return original(tx, replace(policy, skip_insolvent=False), aid, markets, seed, **kw)
    p.setattr(waterfall, "deleverage", deleverage)


def _per_market_layer_first_market(p: Any) -> None:
    original = layers.DRAW["balance"]

    def draw(tx, spec, aid, deficit, markets):
        return original(tx, spec, aid, deficit, sorted(tx.markets)[:1] if spec.scope == "market" else markets)
    p.setitem(layers.DRAW, "balance", draw)


def _adl_at_mark(p: Any) -> None:
    original = waterfall.deleverage

    def deleverage(tx, policy, aid, markets, seed, **kw):
        from dataclasses import replace
        return original(tx, replace(policy, close_price="mark"), aid, markets, seed, **kw)
    p.setattr(waterfall, "deleverage", deleverage)


def _capped_haircut_uncapped_ceil(p: Any) -> None:
    def water_fill(total, weights, caps, keys, rounding):
        shares = allocation.allocate(total, weights, keys, rounding)
        return [min(s, c) for s, c in zip(shares, caps)]  # caps cut, nothing redistributed
    p.setattr(haircut, "water_fill", water_fill)


def _zero_amount_withdraw_margin_first(p: Any) -> None:
    original = step.HANDLERS[step.Withdraw]

    def withdraw(st, op, mech):
        a = st.account(op.account)
        if op.amount > a.collateral:
            raise step.InsufficientMargin("exceeds collateral", account=op.account)
        if op.amount <= 0:
            raise InvalidAmount("amount must be positive", account=op.account)
        return original(st, op, mech)
    p.setitem(step.HANDLERS, step.Withdraw, withdraw)


# ------------------------------------------------------------------ issue 21: time, pool, partial, withdrawal


def _drawdown_window_edge(p: Any) -> None:
    original = layers.peak

    def peak(history, key, balance, clock, window):  # the point at the window's start edge left out
        return original(history, key, balance, clock, max(0, window - 1))
    p.setattr(layers, "peak", peak)


def _cooldown_off_by_one(p: Any) -> None:
    original = partial.partial_applies

    def applies(st, mech, op, markets):  # a step exactly `step_cooldown` seconds later still waits
        last = st.partial_at.get(op.account)
        if last is not None and st.clock - last == mech.liquidation.step_cooldown and st.clock > 0:
            return False
        return original(st, mech, op, markets)
    p.setattr(waterfall, "partial_applies", applies)


def _pool_trigger_inclusive(p: Any) -> None:
    def factor_above(pnl, value, factor_ppm):  # >= instead of >: ADL allowed at the trigger itself
        return value > 0 and pnl * PPM >= factor_ppm * value
    p.setattr(pool, "factor_above", factor_above)


def _exempt_in_open_interest(p: Any) -> None:
    from dataclasses import replace
    original = levy.levy

    def counted(tx, mech, aid, deficit, markets, surplus_key):  # exempt accounts counted in OI and charged
        return original(tx, replace(mech, final=replace(mech.final, exempt=())), aid, deficit, markets, surplus_key)
    p.setitem(waterfall.FINAL, Levy, counted)


def _window_rolls_on_exact_multiples(p: Any) -> None:
    original = clock.advance_time

    def advance(st, op, mech):  # the window rolls only when the clock lands on a multiple
        window = getattr(mech.final, "window", 0)
        if window and (st.clock + op.seconds) % window:
            from dataclasses import replace
            return original(st, op, replace(mech, final=replace(mech.final, window=0)))
        return original(st, op, mech)
    p.setitem(step.HANDLERS, AdvanceTime, advance)


def _advance_time_zero_accepted(p: Any) -> None:
    original = step.HANDLERS[AdvanceTime]

    def advance(st, op, mech):  # advance_time(0) accepted as a no-op
        if op.seconds == 0:
            return Tx(st)
        return original(st, op, mech)
    p.setitem(step.HANDLERS, AdvanceTime, advance)


def _lifetime_not_recorded(p: Any) -> None:
    original = layers.DRAW["balance"]

    def draw(tx, spec, aid, deficit, markets):  # what a capped layer paid is never recorded
        before = dict(tx.layer_paid)
        out = original(tx, spec, aid, deficit, markets)
        tx.layer_paid.clear()
        tx.layer_paid.update(before)
        return out
    p.setitem(layers.DRAW, "balance", draw)


def _int32_clock(p: Any) -> None:
    original = adapter.state_from_json

    def parse(doc):  # the clock kept in a signed 32-bit integer
        st = original(doc)
        from dataclasses import replace
        c = (st.clock + 2**31) % 2**32 - 2**31
        return replace(st, clock=max(c, 0))
    p.setattr(adapter, "state_from_json", parse)


def _same_mark_no_op(p: Any) -> None:
    original = step.HANDLERS[SetMark]

    def set_mark(st, op, mech):  # set_mark to the current price skipped: the previous mark kept
        mk = st.markets.get(op.market)
        if mk is not None and op.price == mk.mark:
            return Tx(st)
        return original(st, op, mech)
    p.setitem(step.HANDLERS, SetMark, set_mark)


def _partial_time_not_recorded(p: Any) -> None:
    original = partial.partial_step

    def partial_step(st, mech, op, markets):  # the time of a partial step is not recorded (no cooldown ever)
        tx = original(st, mech, op, markets)
        if tx is not None:
            tx.partial_at.clear()
            tx.partial_at.update(st.partial_at)
        return tx
    p.setattr(waterfall, "partial_step", partial_step)


def _assessment_period_never_resets(p: Any) -> None:
    original = step.HANDLERS[AdvanceTime]

    def advance(st, op, mech):  # the assessment allowance carried across periods
        tx = original(st, op, mech)
        tx.assessable.update(st.assessable)
        return tx
    p.setitem(step.HANDLERS, AdvanceTime, advance)


def _withdrawal_repay_reverse(p: Any) -> None:
    def repay(tx, aid, charge):  # deferred records repaid in reverse key order
        left = charge
        for key in sorted(tx.deferred, reverse=True):
            part = min(left, tx.deferred[key])
            tx.pay("R-WH-2", events.acct(aid), "deferred:" + key, part, "withdrawal_haircut")
            left -= part
        for key in sorted(tx.deferred):
            if tx.deferred[key] == 0:
                del tx.deferred[key]
    p.setattr(step, "repay", repay)


def _settlement_every_advance(p: Any) -> None:
    original = clock.advance_time

    def advance(st, op, mech):  # the deferred loss settled at every advance, not at the window's end
        tx = original(st, op, mech)
        policy = mech.final
        window = getattr(policy, "window", 0)
        if window and getattr(policy, "timing", "") == "settlement" and st.clock // window == tx.clock // window \
                and tx.deferred:
            settlement.settle_deferred(tx, mech)
        return tx
    p.setitem(step.HANDLERS, AdvanceTime, advance)


ENGINE_BUGS = (
    EngineBug("ties-to-larger-id", "largest-remainder ties go to the larger id", ("generic-socialized-loss",),
              _ties_reversed),
    EngineBug("ties-case-insensitive", "ties ordered case-insensitively, not by code point", ("generic-socialized-loss",),
              _ties_case_insensitive),
    EngineBug("residue-to-bad-debt", "a rounding shortfall always goes to bad debt, whatever residue_sink says",
              ("kit-haircut-floor-fund-residue",), _residue_to_bad_debt),
    EngineBug("surplus-to-first-layer", "surplus and over-collection sent to the first balance layer, not the sink",
              ("drift-v2",), _surplus_to_first_layer),
    EngineBug("fee-on-fill-price", "the liquidation fee computed on the notional at the fill prices, not at mark",
              ("generic-socialized-loss",), _fee_on_fill_price),
    EngineBug("reserve-off-by-one", "a balance layer may be drawn down to reserve - 1", ("drift-v2",),
              _reserve_off_by_one),
    EngineBug("cap-off-by-one", "a per-event cap pays one unit less than the cap", ("dydx-v4-deleveraging",),
              _cap_off_by_one),
    EngineBug("ranking-rescored-per-market", "ADL ranks each market on the state after the previous market's fills",
              ("bitmex-adl",), _rescored_per_market),
    EngineBug("int64-storage", "balances stored as signed 64-bit integers", ("generic-socialized-loss",),
              _int64_storage),
    EngineBug("int128-products", "pro-rata products total x weight computed in 128 bits", ("generic-socialized-loss",),
              _int128_products),
    EngineBug("haircut-first-eight-accounts", "the haircut looks at the first 8 accounts only",
              ("generic-socialized-loss",), _haircut_first_eight),
    EngineBug("margin-rounded-once", "margin rounded up once over all markets instead of per market",
              ("generic-socialized-loss",), _margin_rounded_once),
    EngineBug("deposit-amount-checked-first", "a deposit checks its amount before the account exists",
              ("generic-socialized-loss",), _deposit_amount_first),
    EngineBug("health-checked-before-counterparty", "a liquidation checks health before its counterparty",
              ("generic-socialized-loss",), _health_before_counterparty),
    EngineBug("withdraw-margin-checked-first", "a withdrawal compares with collateral before checking the amount",
              ("generic-socialized-loss",), _zero_amount_withdraw_margin_first),
    EngineBug("levy-rate-always-floor", "the levy rate is rounded down whatever rate_rounding says", ("drift-v2",),
              _levy_rate_floor),
    EngineBug("bankruptcy-price-truncated", "the bankruptcy price divided in floats and truncated toward zero",
              ("bitmex-adl",), _bankruptcy_price_truncated),
    EngineBug("default-fund-includes-defaulter", "the default fund is drawn pro rata including the defaulter's own",
              ("clearing-house-vmgh",), _default_fund_includes_defaulter),
    EngineBug("assessment-ignores-equity", "assessments capped by the multiple only, not by the member's equity",
              ("clearing-house-vmgh",), _assessment_ignores_equity),
    EngineBug("skip-insolvent-ignored", "dYdX's collateral check skipped: insolvent accounts take ADL fills",
              ("dydx-v4-deleveraging",), _skip_insolvent_ignored),
    EngineBug("per-market-layer-first-market", "a per-market fund is drawn from the first market's balance only",
              ("bitmex-adl",), _per_market_layer_first_market),
    EngineBug("adl-at-mark", "ADL fills at mark instead of the bankruptcy price", ("bitmex-adl",), _adl_at_mark),
    EngineBug("capped-haircut-not-redistributed", "capped haircut cut at the caps without redistributing",
              ("capped-pro-rata",), _capped_haircut_uncapped_ceil),
    # issue 21: the time, pool, partial-liquidation and withdrawal rules
    EngineBug("drawdown-window-edge-excluded", "the drawdown peak leaves out the point at the window's start edge "
              "(R-TIME-3)", ("bybit-adl",), _drawdown_window_edge),
    EngineBug("cooldown-off-by-one", "a partial step exactly step_cooldown seconds after the last still waits "
              "(R-LIQ-6)", ("hyperliquid-adl",), _cooldown_off_by_one),
    EngineBug("pool-trigger-inclusive", "keeper ADL allowed when the side's PnL equals the trigger (R-POOL-2/3)",
              ("gmx-v2",), _pool_trigger_inclusive),
    EngineBug("exempt-in-open-interest", "exempt accounts counted in the open interest and charged (R-LEVY-5)",
              ("drift-v2",), _exempt_in_open_interest),
    EngineBug("window-rolls-on-exact-multiples", "the haircut window rolls only when the clock lands on a multiple "
              "(R-TIME-4)", ("deribit",), _window_rolls_on_exact_multiples),
    EngineBug("advance-time-zero-accepted", "advance_time(0) accepted as a no-op (R-TIME-1)", ("deribit",),
              _advance_time_zero_accepted),
    EngineBug("lifetime-cap-not-recorded", "what a layer with a lifetime cap paid is never recorded (R-WF-9)",
              ("drift-v2",), _lifetime_not_recorded),
    EngineBug("int32-clock", "the clock kept in a signed 32-bit integer (R-TIME-1)", ("deribit",), _int32_clock),
    EngineBug("set-mark-same-price-no-op", "set_mark to the current price skipped, the previous mark kept "
              "(R-TIME-2)", ("hyperliquid-adl",), _same_mark_no_op),
    EngineBug("partial-time-not-recorded", "the time of a partial liquidation step is not recorded (R-LIQ-6)",
              ("hyperliquid-adl",), _partial_time_not_recorded),
    EngineBug("assessment-period-never-resets", "the assessment allowance carried into the next period (R-CH-4)",
              ("clearing-house-vmgh",), _assessment_period_never_resets),
    EngineBug("withdrawal-repay-reverse-order", "deferred shortfalls repaid in reverse key order (R-WH-2)",
              ("paradex-withdrawal-haircut",), _withdrawal_repay_reverse),
    EngineBug("settlement-every-advance", "deferred losses settled at every advance_time, not at the window's end "
              "(R-HC-7)", ("bitmex-2015-profit-equalisation",), _settlement_every_advance),
)
BY_NAME = {b.name: b for b in ENGINE_BUGS}


class Patcher:
    """setattr / setitem for installing a bug outside pytest."""

    def setattr(self, target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)

    def setitem(self, target: Any, name: Any, value: Any) -> None:
        target[name] = value


if __name__ == "__main__":
    BY_NAME[sys.argv[1]].install(Patcher())
    adapter.serve()
