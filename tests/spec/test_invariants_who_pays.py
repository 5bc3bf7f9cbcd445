"""The invariants of issue 18 (I-EXEMPT, I-QUEUE, I-ADL-FUND, I-ADL-PRICE, I-RESERVE,
I-LIFETIME, I-DRAWDOWN) hold on the model's genuine steps where their trigger fires, and fail
on the same steps tampered by hand, one defect each: every predicate must be able to fail."""
from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import acct, mkstate, mkt
from waterfall.model.events import Event
from waterfall.model.loader import catalogue, load_mechanism, load_scenario
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.replay import run
from waterfall.model.state import State
from waterfall.model.step import step
from waterfall.spec import SCENARIOS_DIR
from waterfall.spec.invariants import REGISTRY

Step = tuple[State, object, State, list[Event], Mechanism]


def scenario_step(mech_id: str, scenario: str, k: int) -> Step:
    """Step k of a stress scenario under a catalogue mechanism."""
    mech = load_mechanism(catalogue()[mech_id])
    r = run(load_scenario(SCENARIOS_DIR / f"{scenario}.json"), mech)[k]
    assert r.error is None
    return r.pre, r.op, r.post, list(r.events), mech


def judged(inv: str, s: Step) -> tuple[bool, bool]:
    """(trigger fires, predicate holds)."""
    return bool(REGISTRY[inv].trigger(*s)), bool(REGISTRY[inv].holds(*s))


def retarget(ev: list[Event], rule: str, **changes: object) -> list[Event]:
    """The events with the first one of `rule` changed."""
    k = next(i for i, e in enumerate(ev) if e.rule == rule)
    return ev[:k] + [ev[k]._replace(**changes)] + ev[k + 1:]


def test_I_EXEMPT_the_amm_is_spared_and_a_charge_to_it_is_caught() -> None:
    mech = load_mechanism(catalogue()["drift-v2"])
    pre = mkstate([mkt("M0", 100)], {"b": acct(50, {"M0": (10, 1_100)}), "x": acct(5_000, {"M0": (-4, -440)}),
                                     "amm": acct(5_000, {"M0": (-6, -660)}), "c": acct(10**6)},
                  {"insurance_fund": 0, "fee_pool": 0})
    op = Liquidate("b", "c", {"M0": 100})
    post, ev = step(pre, op, mech)
    s = (pre, op, post, list(ev), mech)
    assert judged("I-EXEMPT", s) == (True, True)
    levy = next(e for e in ev if e.rule == "R-LEVY-2")
    assert levy.src != "account:amm"
    assert not REGISTRY["I-EXEMPT"].holds(pre, op, post, retarget(list(ev), "R-LEVY-2", src="account:amm"), mech)


def test_I_QUEUE_shares_in_base_order_and_a_swap_is_caught() -> None:
    s = scenario_step("chitra-queue", "fund-empty", 1)
    assert judged("I-QUEUE", s) == (True, True)
    pre, op, post, ev, mech = s
    hc = [e for e in ev if e.rule == "R-HC-2"]
    assert len(hc) >= 1
    moved_one = retarget(ev, "R-HC-2", amount=hc[0].amount + 1)
    assert not REGISTRY["I-QUEUE"].holds(pre, op, post, moved_one, mech)


@pytest.mark.parametrize("mech_id", ["bitmex-adl", "binance-adl", "okx-adl"])
def test_I_ADL_FUND_lots_to_the_counterparty_and_one_more_is_caught(mech_id: str) -> None:
    s = scenario_step(mech_id, "drawdown-fund-first", 0)
    pre, op, post, ev, mech = s
    assert judged("I-ADL-FUND", s) == (True, True)
    close = next(e for e in ev if e.rule == "R-LIQ-3")
    more = retarget(ev, "R-LIQ-3", size=close.size + 1, amount=(close.size + 1) * close.price)
    assert not REGISTRY["I-ADL-FUND"].holds(pre, op, post, more, mech)


@pytest.mark.parametrize("mech_id", ["bitmex-adl", "hyperliquid-adl", "okx-adl"])
def test_I_ADL_PRICE_fills_at_the_chosen_price_and_one_unit_off_is_caught(mech_id: str) -> None:
    s = scenario_step(mech_id, "fund-empty", 1)
    pre, op, post, ev, mech = s
    assert judged("I-ADL-PRICE", s) == (True, True)
    fill = next(e for e in ev if e.rule == "R-ADL-1")
    off = retarget(ev, "R-ADL-1", price=fill.price + 1, amount=fill.size * (fill.price + 1))
    assert not REGISTRY["I-ADL-PRICE"].holds(pre, op, post, off, mech)


def test_I_RESERVE_the_reserve_stays_and_a_layer_below_it_is_caught() -> None:
    s = scenario_step("drift-v2", "fund-short-by-one", 1)
    pre, op, post, ev, mech = s
    assert judged("I-RESERVE", s) == (True, True)
    spec = next(x for x in mech.layers if x.reserve)
    key = next(k for k in post.layers if k.partition(":")[0] == spec.name)
    assert pre.layers[key] > spec.reserve
    drained = replace(post, layers={**post.layers, key: spec.reserve - 1})
    assert not REGISTRY["I-RESERVE"].holds(pre, op, drained, ev, mech)


def test_I_LIFETIME_the_record_grows_by_the_draw_and_an_overwrite_is_caught() -> None:
    s = scenario_step("drift-v2", "fund-short-by-one", 1)
    pre, op, post, ev, mech = s
    assert judged("I-LIFETIME", s) == (True, True)
    (key, value), = [(k, v) for k, v in post.layer_paid.items() if v != pre.layer_paid.get(k, 0)]
    drawn = sum(e.amount for e in ev if e.rule == "R-WF-3" and e.layer == key.partition(":")[0])
    assert value == pre.layer_paid.get(key, 0) + drawn > 0
    overwritten = replace(post, layer_paid={**post.layer_paid, key: drawn})
    if pre.layer_paid.get(key, 0):
        assert not REGISTRY["I-LIFETIME"].holds(pre, op, overwritten, ev, mech)
    more = replace(post, layer_paid={**post.layer_paid, key: value + 1})
    assert not REGISTRY["I-LIFETIME"].holds(pre, op, more, ev, mech)


@pytest.mark.parametrize("mech_id", ["bybit-adl", "okx-adl"])
def test_I_DRAWDOWN_peak_kept_and_a_lost_peak_is_caught(mech_id: str) -> None:
    s = scenario_step(mech_id, "drawdown-fund-first", 0)
    pre, op, post, ev, mech = s
    assert judged("I-DRAWDOWN", s) == (True, True)
    key = next(k for k in post.history if post.history[k])
    peak_before = max(pre.history.get(key, (0, pre.layers.get(key, 0)))[1::2])
    assert peak_before > post.layers[key]
    forgot = replace(post, history={**post.history, key: (post.clock, post.layers[key])})
    assert not REGISTRY["I-DRAWDOWN"].holds(pre, op, forgot, ev, mech)


def test_I_ORDER_counts_an_adl_fill_the_fund_could_have_paid() -> None:
    """R-LIQ-2 without a fund-first split: ADL only when the layers cannot pay the deficit the
    counterparty's fill leaves. A fund of 1,000 pays a deficit of 160 at the fill: no ADL;
    a fund of 100 cannot: the fill is abandoned and the position deleveraged."""
    from waterfall.model.mechanism import Adl, LayerSpec
    mech = Mechanism("adl", "adl", layers=(LayerSpec("insurance_fund"),), final=Adl(ranking="profit"))
    accounts = {"b": acct(40, {"M": (10, 1_000)}), "s": acct(5_000, {"M": (-10, -1_000)}), "c": acct(10**6)}
    op = Liquidate("b", "c", {"M": 80})  # b's equity at the fill: 40 + 10 * (80 - 100) = -160
    for fund, adl in ((1_000, False), (100, True)):
        pre = mkstate([mkt("M", 100)], accounts, {"insurance_fund": fund})
        post, ev = step(pre, op, mech)
        assert any(e.rule == "R-ADL-1" for e in ev) == adl
        assert REGISTRY["I-ORDER"].holds(pre, op, post, list(ev), mech)
    rich = mkstate([mkt("M", 100)], accounts, {"insurance_fund": 1_000})
    post, ev = step(rich, op, mech)
    fill = Event("R-ADL-1", "trade", "account:b", "account:s", 800, "adl", "M", 10, 80)
    assert not REGISTRY["I-ORDER"].holds(rich, op, post, list(ev) + [fill], mech)
