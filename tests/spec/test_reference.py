"""The reference semantics (spec/reference/) is independent of the model's rule code, and
agrees with the model wherever both compute the same thing (issue 18).

1. Imports: spec/invariants.py and spec/reference/ take from model/ only data types, the
   arithmetic helpers and the basic definitions of value and equity (R-STATE, R-PNL); a
   planted import of the model's ranking is refused by the same check.
2. Agreement, by Hypothesis over random venues: ADL orders of every ranking, layer plans and
   capacities (drawdown, lifetime, isolated, reserve, per-event cap), the window peak,
   sink keys, bankruptcy and close prices, the haircut queue and the fund-first split.
"""
from __future__ import annotations

from dataclasses import replace

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waterfall.model import adl as model_adl
from waterfall.model import haircut as model_haircut
from waterfall.model import history as model_history
from waterfall.model import layers as model_layers
from waterfall.model import waterfall as model_waterfall
from waterfall.model.mechanism import Adl, LayerSpec, Liquidation, Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.ranking import RANKINGS, ranked
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.tx import Tx
from waterfall.spec.reference import fund_first, layers, prices, queue, ranking

ROOT = Path(__file__).resolve().parents[2]
CHECKED = [ROOT / "spec" / "invariants.py", *sorted((ROOT / "spec" / "reference").glob("*.py"))]

# model module -> the names an invariant or the reference may take from it
ALLOWED = {
    "arith": None,  # every helper: they let a predicate run over the prover's unknowns
    "state": {"State", "Account", "Market", "Position", "equity", "value", "validate_state"},  # R-STATE, R-PNL-3
    "mechanism": {"Adl", "Haircut", "Levy", "LayerSpec", "Mechanism", "Pool", "WithdrawalHaircut"},
    "ops": {"Op", "Deposit", "Withdraw", "Liquidate", "AdvanceTime"},
    "events": {"Event"},
    "units": {"MAX_BALANCE", "PPM"},  # unit constants (R-UNIT), not rule code
    "errors": {"WaterfallError"},
    "step": {"step"},  # only the relational invariants, which compare two runs of the model by definition
}


def model_imports(source: str) -> list[tuple[str, str]]:
    """(model module, name) of every import of waterfall.model in `source`, at any depth."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("waterfall.model"):
            mod = (node.module or "").split(".")[2] if (node.module or "").count(".") >= 2 else ""
            out += [(mod or a.name, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[2] if a.name.count(".") >= 2 else "", a.name)
                    for a in node.names if a.name.startswith("waterfall.model")]
    return out


def refused(source: str) -> list[str]:
    """The model imports `source` may not make."""
    bad = []
    for mod, name in model_imports(source):
        allowed = ALLOWED.get(mod, set())
        if mod not in ALLOWED or (allowed is not None and name not in allowed):
            bad.append(f"waterfall.model.{mod}: {name}")
    return bad


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.name)
def test_invariants_and_reference_take_no_rule_code_from_the_model(path: Path) -> None:
    assert refused(path.read_text()) == []


def test_the_import_check_refuses_the_models_rule_code() -> None:
    planted = ("from waterfall.model.ranking import ranked\nfrom waterfall.model.state import equity\n"
               "def f():\n    from waterfall.model.layers import plan_balance\n"
               "import waterfall.model.adl\n")
    assert sorted(refused(planted)) == ["waterfall.model.adl: waterfall.model.adl",
                                        "waterfall.model.layers: plan_balance", "waterfall.model.ranking: ranked"]


def test_the_reference_imports_nothing_of_the_checkers() -> None:
    for path in CHECKED[1:]:
        tree = ast.parse(path.read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in mods if m and m.startswith(("waterfall.proofs", "waterfall.report", "waterfall.cli"))}


# ---- random venues -----------------------------------------------------------------------

IDS = ["a0", "a1", "a2", "a3", "a4"]


@st.composite
def venues(draw: st.DrawFn, n_markets: int = 2) -> State:
    """2-5 accounts, 1-n markets, zero-sum positions at random entries, collateral of any
    sign, layer balances with history and lifetime records."""
    mids = ["M0", "M1"][: draw(st.integers(1, n_markets))]
    markets = {m: Market(m, draw(st.integers(1, 500)), 100_000, draw(st.integers(0, 80_000)),
                         draw(st.integers(0, 500))) for m in mids}
    ids = IDS[: draw(st.integers(2, 5))]
    pos: dict[str, dict[str, Position]] = {i: {} for i in ids}
    for m in mids:
        for _ in range(draw(st.integers(0, 4))):
            i, j = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            if i == j:
                continue
            q, price = draw(st.integers(1, 50)), draw(st.integers(1, 600))
            for who, s in ((i, q), (j, -q)):
                old = pos[who].get(m, Position(0, 0))
                pos[who][m] = Position(old.size + s, old.open_notional + s * price)
    accounts = {i: Account(draw(st.integers(-3_000, 30_000)), 0, {m: p for m, p in pos[i].items() if p != (0, 0)})
                for i in ids}
    layer_keys = ["fund", "fund:M0", "fund:M1", "fee"]
    bal = {k: draw(st.integers(0, 5_000)) for k in layer_keys}
    clock = draw(st.integers(0, 1_000))
    history = {}
    for k in layer_keys:
        pts: list[int] = []
        t = 0
        for _ in range(draw(st.integers(0, 3))):
            t = draw(st.integers(t, clock))
            pts += [t, draw(st.integers(0, 9_000))]
        if pts:
            history[k] = tuple(pts)
    paid = {f"fund:{m}": draw(st.integers(0, 4_000)) for m in mids}
    return State(markets, accounts, bal, {}, 0, clock, history, paid)


layer_specs = st.builds(
    LayerSpec, name=st.just("fund"), scope=st.sampled_from(["global", "market"]),
    reserve=st.integers(0, 500), cap_per_event=st.sampled_from([0, 0, 300, 2_000]),
    drawdown_ppm=st.sampled_from([0, 0, 300_000, 999_999]), drawdown_window=st.integers(1, 800),
    drawdown_floor=st.sampled_from([0, 1_000]), drawdown_mode=st.sampled_from(["cap", "trigger"]),
    lifetime_cap=st.sampled_from([0, 0, 3_000, 5_000]), isolated=st.sampled_from([(), ("M0",), ("M0", "M1")]),
    drawdown_by=st.sampled_from(["pool", "market"]))


def fixed(spec: LayerSpec) -> LayerSpec:
    """R-MECH-3: isolated only with scope global, drawdown keys only with a drawdown rule."""
    if spec.scope == "market":
        spec = LayerSpec(**{**spec.__dict__, "isolated": ()})
    if not spec.drawdown_ppm:
        spec = LayerSpec(**{**spec.__dict__, "drawdown_floor": 0, "drawdown_mode": "cap"})
    if not spec.drawdown_ppm or spec.scope != "global":  # R-WF-14: one shared pool with a drawdown rule
        spec = LayerSpec(**{**spec.__dict__, "drawdown_by": "pool"})
    return spec


def adl_mech(spec: LayerSpec, **policy: object) -> Mechanism:
    return Mechanism("t", "t", Liquidation(surplus="none"), (spec, LayerSpec("fee")), Adl(**policy))


@settings(max_examples=300, deadline=None)
@given(venues(), st.sampled_from(RANKINGS), st.sampled_from([1, -1]), st.sampled_from(IDS), st.text(max_size=3))
def test_R_ADL_3_reference_order_agrees_with_the_model(state: State, name: str, side: int, bankrupt: str,
                                                       seed: str) -> None:
    for m in state.markets:
        assert ranking.order(state, name, m, side, bankrupt, seed) == list(ranked(state, name, m, side, bankrupt, seed))


@settings(max_examples=300, deadline=None)
@given(venues(), layer_specs, st.integers(0, 20_000), st.booleans(), st.data())
def test_R_WF_3_reference_plan_agrees_with_the_model(state: State, spec: LayerSpec, deficit: int, trigger: bool,
                                                     data: st.DataObject) -> None:
    spec = fixed(spec)
    markets = sorted(data.draw(st.sets(st.sampled_from(sorted(state.markets)))))
    assert layers.plan(state, spec, deficit, markets, trigger) == \
        model_layers.plan_balance(Tx(state), spec, deficit, markets, trigger)
    mech = adl_mech(spec)
    assert layers.capacity(state, mech, markets, trigger) == model_layers.capacity(Tx(state), mech, markets, trigger)
    for sink in ("fund", "fee"):
        assert layers.sink_key(mech, sink, markets, state.markets) == \
            model_layers.sink_key(mech, sink, markets, state.markets)
    for key in state.history:
        for window in (1, 50, 2_000):
            want = model_history.peak(state.history, key, state.layers[key], state.clock, window)
            assert layers.peak(state.history[key], state.layers[key], state.clock, window) == want
            assert layers.peak_term(state.history[key], state.layers[key], state.clock, window) == want


@settings(max_examples=300, deadline=None)
@given(venues(), st.sampled_from([300_000, 999_999]), st.integers(1, 800), st.sampled_from([(), ("M0",)]),
       st.integers(0, 20_000), st.data())
def test_R_WF_14_reference_shared_pool_agrees_with_the_model(state: State, ppm: int, window: int,
                                                             isolated: tuple[str, ...], deficit: int,
                                                             data: st.DataObject) -> None:
    # every market of the venue with a PnL record of its own (levels >= 0, times <= clock)
    records = {}
    for m in state.markets:
        t1 = data.draw(st.integers(0, state.clock))
        t2 = data.draw(st.integers(t1, state.clock))
        records[f"fund:{m}"] = (t1, data.draw(st.integers(0, 3_000)), t2, data.draw(st.integers(0, 3_000)))
    state = replace(state, history={**state.history, **records})
    spec = LayerSpec("fund", drawdown_ppm=ppm, drawdown_window=window, drawdown_by="market", isolated=isolated)
    markets = sorted(data.draw(st.sets(st.sampled_from(sorted(state.markets)))))
    want = model_layers.plan_balance(Tx(state), spec, deficit, markets)
    assert layers.plan(state, spec, deficit, markets) == want
    market = layers.pool_market(spec, markets)
    assert market == spec.shared_market(markets)
    if market:
        assert layers.drawdown_of(state, spec, market) == model_layers.market_drawdown(Tx(state), spec, market)
        assert layers.record_peak(state, spec, market) == layers.drawdown_of(state, spec, market)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10_000), st.integers(-500, 500).filter(bool), st.integers(-10**6, 10**6),
       st.sampled_from(["toward_bankrupt", "toward_counterparty"]))
def test_R_ADL_2_reference_bankruptcy_price_agrees(mark: int, size: int, eq: int, rounding: str) -> None:
    assert prices.bankruptcy_price(mark, size, eq, rounding) == model_adl.bankruptcy_price(mark, size, eq, rounding)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 50_000), st.lists(st.integers(0, 9_000), min_size=0, max_size=5), st.data())
def test_R_HC_9_reference_queue_agrees(target: int, weights: list[int], data: st.DataObject) -> None:
    ids = data.draw(st.permutations(IDS[: len(weights)]))
    order = sorted(range(len(ids)), key=lambda k: (-weights[k], ids[k]))  # R-HC-10's default order 'profit'
    want = dict(zip(ids, model_haircut.queue_shares(target, weights, order)))
    assert queue.queue_shares(target, dict(zip(ids, weights))) == want


@settings(max_examples=300, deadline=None)
@given(venues(), layer_specs, st.sampled_from(["bankruptcy", "mark_or_bankruptcy", "previous_mark", "mark"]),
       st.sampled_from(["toward_bankrupt", "toward_counterparty"]), st.sampled_from([0, 0, 500_000, 1_000_000]),
       st.booleans(), st.data())
def test_R_ADL_7_reference_prices_and_split_agree(state: State, spec: LayerSpec, close: str, rounding: str,
                                                  takeover: int, cumulative: bool, data: st.DataObject) -> None:
    spec = fixed(spec)
    aid = data.draw(st.sampled_from(sorted(state.accounts)))
    held = sorted(m for m, p in state.accounts[aid].positions.items() if p.size)
    scope = sorted(state.accounts[aid].positions)
    mech = adl_mech(spec, close_price=close, bankruptcy_rounding=rounding, fund_first=True,
                    takeover_cap_ppm=takeover, takeover_cumulative=cumulative and bool(takeover))
    covered = model_waterfall.covered_at_mark(Tx(state), mech, aid, scope)
    assert bool(prices.covered_at_mark(state, mech, aid, scope)) == covered or close != "mark_or_bankruptcy"
    want_prices, want_left = model_adl.planned_prices(Tx(state), mech.final, aid, held, covered)
    assert prices.planned(state, mech.final, aid, held, covered) == (want_prices, want_left)
    fills = {m: data.draw(st.integers(1, 700)) for m in held if data.draw(st.booleans())}
    op = Liquidate(aid, "a0" if aid != "a0" else "a1", fills)
    budget = max(0, model_layers.capacity(Tx(state), mech, scope, trigger=True) + min(0, want_left))
    cap = model_waterfall.takeover_left(Tx(state), mech.final, op.counterparty, budget)  # R-ADL-7 / R-ADL-12
    if takeover and not cumulative:
        assert cap == budget * takeover // 10**6
    want = model_waterfall.book_lots(Tx(state), aid, held, want_prices,
                                     {m: fills.get(m, state.markets[m].mark) for m in held}, budget, cap)
    assert fund_first.book_lots(state, mech, op, held, scope) == want


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**4), min_size=1, max_size=4))
def test_R_WF_15_reference_split_agrees_with_the_model(deficit: int, losses: list[int]) -> None:
    """R-WF-15 / R-LEVY-7: the reference split (ranks, one term) is the model's largest
    remainder over the markets' losses, and sums to the deficit."""
    from waterfall.model.levy import market_parts
    markets = [f"M{i}" for i in range(len(losses))]
    positions = {m: Position(0, w) for m, w in zip(markets, losses)}
    st_ = State({m: Market(m, 1, 0, 0) for m in markets}, {"b": Account(0, 0, positions)})
    want = {m: 0 for m in markets} | dict(market_parts(Tx(st_), "b", deficit, markets))
    got = layers.split(deficit, losses, markets)
    assert dict(zip(markets, got)) == want and sum(got) == deficit
