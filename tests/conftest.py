"""Shared builders and property checks for the unit tests.

Every test builds a small state by hand, applies one operation through `model.step.step`
via `apply()`, and `apply()` checks, on top of what the test itself asserts:

* purity: the input state is equal to a deep copy taken before the step (R-ERR-1, R-EVT-2);
* I-CONS: model.state.value changes only by deposits / withdrawals;
* I-ZERO: per market, sizes and open notionals sum to zero;
* I-FUND: every layer and default-fund contribution stays >= 0, bad debt never shrinks;
* I-NOLOSS / R-WF-5: after a liquidation the bankrupt's equity is >= 0;
* R-HC-1: every haircut is <= that account's haircut base (recomputed here independently);
* R-ADL-1: no account other than the bankrupt and its named counterparty has its position
  flipped or increased by a liquidation;
* R-EVT-1/2: replaying the events on the input state gives the output balances and positions.
"""
from __future__ import annotations

pytest_plugins = ["pytester"]

import copy
import re
from typing import Mapping

from waterfall.model.events import Event
from waterfall.model.mechanism import (Adl, BadDebtOnly, Haircut, LayerSpec, Levy, Liquidation,
                             Mechanism)
from waterfall.model.ops import Liquidate, Op
from waterfall.model.state import Account, Market, Position, State, equity, value
from waterfall.spec import SPEC_DIR
from waterfall.spec.invariants import REGISTRY, external_flow
from waterfall.model.step import step

__all__ = ["Adl", "BadDebtOnly", "Haircut", "LayerSpec", "Levy", "Liquidation", "Mechanism",
           "acct", "apply", "check_invariants", "mech", "mkt", "mkstate", "pos", "eq_of",
           "transfers", "trades", "short_winners_state"]


def mkt(market_id: str, mark: int, im_ppm: int = 100_000, mm_ppm: int = 50_000) -> Market:
    """A market; default margins 10 % initial, 5 % maintenance."""
    return Market(market_id, mark, im_ppm, mm_ppm)


def acct(collateral: int, positions: Mapping[str, tuple[int, int]] | None = None,
         net_deposit: int | None = None) -> Account:
    """An account; positions given as {market: (size, open_notional)}."""
    return Account(collateral, collateral if net_deposit is None else net_deposit,
                   {m: Position(s, on) for m, (s, on) in (positions or {}).items()})


def mkstate(markets: list[Market], accounts: Mapping[str, Account],
            layers: Mapping[str, int] | None = None, default_fund: Mapping[str, int] | None = None,
            bad_debt: int = 0) -> State:
    return State({m.id: m for m in markets}, dict(accounts), dict(layers or {}),
                 dict(default_fund or {}), bad_debt)


def mech(final=None, layers=(LayerSpec("insurance_fund"),), surplus: str = "none",
         fee_ppm: int = 0, surplus_sink: str = "insurance_fund", mid: str = "test") -> Mechanism:
    """A mechanism value built directly (the loader is tested in test_loader.py)."""
    return Mechanism(id=mid, name=mid, liquidation=Liquidation(surplus, fee_ppm, surplus_sink),
                     layers=tuple(layers), final=final if final is not None else BadDebtOnly())


def pos(state: State, aid: str, market: str) -> tuple[int, int]:
    """(size, open_notional) of an account in a market, (0, 0) when absent."""
    p = state.accounts[aid].positions.get(market)
    return (p.size, p.open_notional) if p else (0, 0)


def eq_of(state: State, aid: str) -> int:
    return equity(state, state.accounts[aid])


def transfers(events: list[Event], rule: str | None = None) -> list[tuple[str, str, int]]:
    return [(e.src, e.dst, e.amount) for e in events
            if e.kind == "transfer" and (rule is None or e.rule == rule)]


def trades(events: list[Event], rule: str | None = None) -> list[tuple[str, str, str, int, int]]:
    """(seller, buyer, market, size, price) of each trade event."""
    return [(e.src, e.dst, e.market, e.size, e.price) for e in events
            if e.kind == "trade" and (rule is None or e.rule == rule)]


def short_winners_state(mark: int, bankrupt_collateral: int,
                        winners: Mapping[str, tuple[int, int, int]],
                        extra_accounts: Mapping[str, Account] | None = None,
                        layers: Mapping[str, int] | None = None, market: str = "M") -> State:
    """One market; each winner i is short k_i lots with unrealised PnL u_i and collateral c_i
    (winners = {id: (k, u, c)}); the bankrupt 'b' is long K = sum k_i with unrealised PnL
    -sum u_i, so sizes and open notionals sum to zero by construction:
    winner ON = -k*mark - u (then upnl = -k*mark - ON = u); bankrupt ON = -sum(winner ON).
    The bankrupt's equity is bankrupt_collateral - sum u_i. A counterparty 'c' with
    collateral 10**6 and no position takes the bankrupt's position."""
    accounts: dict[str, Account] = {}
    total_k = total_on = 0
    for aid, (k, u, c) in winners.items():
        on = -k * mark - u
        accounts[aid] = acct(c, {market: (-k, on)})
        total_k += k
        total_on += on
    accounts["b"] = acct(bankrupt_collateral, {market: (total_k, -total_on)})
    accounts["c"] = acct(10**6)
    accounts.update(extra_accounts or {})
    return mkstate([mkt(market, mark)], accounts, layers)


# --------------------------------------------------------------------------- properties

def replay_events(pre: State, events: list[Event]) -> State:
    """Apply transfer and trade events to a state (an independent reading of R-EVT-1)."""
    accounts = {i: [a.collateral, dict(a.positions)] for i, a in pre.accounts.items()}
    layers, fund, bad_debt = dict(pre.layers), dict(pre.default_fund), pre.bad_debt
    deferred = dict(pre.deferred)

    def move(endpoint: str, delta: int) -> None:
        nonlocal bad_debt
        kind, _, name = endpoint.partition(":")
        if kind == "account":
            accounts[name][0] += delta
        elif kind == "layer":
            layers[name] = layers.get(name, 0) + delta
        elif kind == "default_fund":
            fund[name] += delta
        elif kind == "bad_debt":
            bad_debt -= delta
        elif kind == "deferred":  # R-HC-7: a liability, like bad debt
            deferred[name] = deferred.get(name, 0) - delta
        else:
            assert kind in ("external", "funding"), endpoint

    for e in events:
        if e.kind == "trade":
            # the amount is the quote; a fill priced by its quote (R-ADL-8) carries floor(quote / size)
            assert e.amount == e.size * e.price or (e.rule in ("R-ADL-1", "R-POOL-3", "R-POOL-4")
                                                    and 0 <= e.amount - e.size * e.price < e.size)
            for name, sign in ((e.dst.split(":", 1)[1], 1), (e.src.split(":", 1)[1], -1)):
                p = accounts[name][1].get(e.market, Position(0, 0))
                accounts[name][1][e.market] = Position(p.size + sign * e.size, p.open_notional + sign * e.amount)
        else:
            assert e.kind == "transfer" and e.amount > 0, e
            move(e.src, -e.amount)
            move(e.dst, e.amount)
    return State(pre.markets, {i: Account(c, pre.accounts[i].net_deposit, {m: p for m, p in pos.items() if p != (0, 0)})
                               for i, (c, pos) in accounts.items()}, layers, fund, bad_debt,
                 deferred={k: v for k, v in deferred.items() if v})


def strip(state: State) -> tuple:
    """Balances and positions (net deposits, marks and the time records are not moved by
    events; deferred losses are, R-HC-7)."""
    return ({i: (a.collateral, {m: p for m, p in a.positions.items() if p != (0, 0)})
             for i, a in state.accounts.items()}, state.layers, state.default_fund, state.bad_debt,
            {k: v for k, v in state.deferred.items() if v})


# R-EVT-1: the rule that made each event and the stage (`layer` field) it belongs to
STAGE_OF_RULE = {"R-OP-1": "deposit", "R-OP-2": "withdraw", "R-OP-3": "trade", "R-OP-5": "funding",
                 "R-LIQ-3": "close", "R-LIQ-5": "surplus", "R-HC-2": "haircut", "R-HC-3": "haircut",
                 "R-HC-4": "residue", "R-LEVY-2": "levy", "R-LEVY-3": "levy", "R-ADL-1": "adl",
                 "R-WF-5": "bad_debt", "R-HC-7": "deferred", "R-WH-2": "withdrawal_haircut",
                 "R-POOL-1": "pool", "R-POOL-2": "pool", "R-POOL-3": "adl", "R-POOL-4": "trade",
                 "R-WH-4": "warming", "R-WH-6": "withdrawal_haircut"}
LAYER_RULES = ("R-WF-3", "R-CH-1", "R-CH-2", "R-CH-3")   # stage: the drawn layer's name
PASS_RULES = ("R-WF-3", "R-LEVY-2", "R-LEVY-3", "R-HC-4", "R-WF-5")  # R-WF-15: transfers of a market's pass
TRADE_RULES = ("R-OP-3", "R-LIQ-3", "R-ADL-1", "R-POOL-3", "R-POOL-4")
SPEC_RULES = frozenset(re.findall(r"^\| (R-[A-Z]+-\d+) \|", (SPEC_DIR / "rules.md").read_text(), re.M))


def check_event_vocabulary(events: list[Event], mechanism: Mechanism) -> None:
    """R-EVT-1: every event names a rule of spec/rules.md and that rule's stage; transfers
    carry no trade fields, and only funding and a per-market pass (R-WF-15) name a market."""
    for e in events:
        assert e.rule in SPEC_RULES, f"event rule {e.rule!r} is not a rule of spec/rules.md"
        stage = STAGE_OF_RULE.get(e.rule)
        if e.rule in LAYER_RULES:
            assert e.layer in {s.name for s in mechanism.layers}, e
        else:
            assert stage is not None and e.layer == stage, e
        if e.rule in TRADE_RULES:
            assert e.kind == "trade" and e.market and e.size > 0, e
        else:
            assert e.kind == "transfer" and (e.size, e.price) == (0, 0), e
            per_market = getattr(mechanism.final, "layers_per_market", False) and e.rule in PASS_RULES
            assert bool(e.market) == (e.rule == "R-OP-5") or per_market, e  # R-WF-15: a market's pass


def check_invariants(pre: State, op: Op, post: State, events: list[Event], mechanism: Mechanism) -> None:
    check_event_vocabulary(events, mechanism)
    # I-CONS
    assert value(post) == value(pre) + external_flow(op, events), "I-CONS: value changed"
    # I-ZERO
    for m in post.markets:
        ps = [a.positions[m] for a in post.accounts.values() if m in a.positions]
        assert sum(p.size for p in ps) == 0, f"I-ZERO: sizes in {m} do not sum to 0"
        assert sum(p.open_notional for p in ps) == 0, f"I-ZERO: open notionals in {m} do not sum to 0"
    # I-FUND
    assert all(v >= 0 for v in post.layers.values()), f"I-FUND: negative layer {post.layers}"
    assert all(v >= 0 for v in post.default_fund.values()), f"I-FUND: negative contribution {post.default_fund}"
    assert post.bad_debt >= pre.bad_debt >= 0
    # R-EVT-1/2: the events itemise every change
    assert strip(replay_events(pre, events)) == strip(post), "events do not explain the post-state"
    if isinstance(op, Liquidate):
        # I-NOLOSS / R-WF-5
        # (the registry's I-NOLOSS, one definition: a pending liquidation, R-ADL-11, may stay negative)
        assert REGISTRY["I-NOLOSS"].holds(pre, op, post, events, mechanism), "I-NOLOSS: bankrupt left with negative equity"
        # R-ADL-1: never flipped, never increased (bar bankrupt and named counterparty)
        for aid, a in pre.accounts.items():
            if aid in (op.account, op.counterparty):
                continue
            for m in set(a.positions) | set(post.accounts[aid].positions):
                before, after = pos(pre, aid, m)[0], pos(post, aid, m)[0]
                assert before * after >= 0, f"{aid} flipped in {m}: {before} -> {after}"
                assert abs(after) <= abs(before), f"{aid} grew in {m}: {before} -> {after}"
        # R-HC-1: no haircut beyond its base (the registry's I-BOUND, one definition)
        assert REGISTRY["I-BOUND"].holds(pre, op, post, events, mechanism), "I-BOUND: haircut beyond its base"


def apply(state: State, op: Op, mechanism: Mechanism) -> tuple[State, list[Event]]:
    """step() plus purity and every property above."""
    before = copy.deepcopy(state)
    post, events = step(state, op, mechanism)
    assert state == before, "step() changed its input state"
    check_invariants(state, op, post, events, mechanism)
    return post, events


# Hypothesis: the profiles live in proofs/fuzz/machines.py; CI runs "ci" (derandomized), `make fuzz` "fuzz".
import os  # noqa: E402

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

import waterfall.proofs.fuzz.machines  # noqa: E402,F401  (registers the profiles)

# `make mutate`: the fuzz tests run once per surviving mutant, so a short derandomized run
# without shrinking (a mutant only has to be caught, not minimised)
settings.register_profile("mutate", derandomize=True, database=None, max_examples=30, stateful_step_count=25,
                          deadline=None, suppress_health_check=list(HealthCheck),
                          phases=[Phase.explicit, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Hypothesis draws some integers from a pool of the literals found in every local module
# imported so far (its "local constants"; test files excluded), a pool that grows whenever a
# module is first imported. A derandomized run therefore depended on which of waterfall's
# modules earlier tests had happened to import: test_R_FUZZ_1[bitmex-adl] reached 32
# liquidations alone and none after `conform --fuzz` and `prove` ran in-process (test_cli).
# Every module of the package is imported here, before any test, so the pool, and so each
# derandomized run, is the same whatever subset of the tests runs and in whatever order.
import importlib  # noqa: E402
import pkgutil  # noqa: E402

for _pkg in ("waterfall.model", "waterfall.spec", "waterfall.proofs"):
    for _info in pkgutil.iter_modules(importlib.import_module(_pkg).__path__, _pkg + "."):
        importlib.import_module(_info.name)


HEAVY = ("test_wheel.py", "test_docs_commands.py", "test_determinism.py", "test_distributed.py",
         "test_model_crash.py", "test_prove.py", "test_conform.py", "test_report.py")
"""The files that take minutes each (`pytest --durations`): under
pytest-xdist (`make test` runs two workers, one file per worker at a time) they start first, so
the short files fill the other worker in the meantime instead of one of these ending the run alone."""


def pytest_collection_modifyitems(items: list) -> None:
    """The Hypothesis tests (test_fuzz.py) run after the unit tests: a quick unit test
    fails first on a broken model (pytest -x, and `make mutate`, stop there). Under xdist the
    HEAVY files come first (same order on every worker, as xdist requires)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(HEAVY)}
        items.sort(key=lambda item: (rank.get(item.path.name, len(HEAVY)), item.path.name == "test_fuzz.py"))
    else:
        items.sort(key=lambda item: item.path.name == "test_fuzz.py")


# Commands run by the tests keep their example database in a temporary folder, never in the
# checkout's .waterfall/ (R-FUZZ-7), and tables are not fitted to the calling terminal's
# $COLUMNS (R-CLI-4) unless a test sets one. Module level, not a fixture: HypoFuzz runs the
# fuzz targets (tests/fuzz_targets.py) without pytest's temporary-directory machinery.
if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
    import tempfile  # noqa: E402
    os.environ["WATERFALL_FUZZ_DB"] = tempfile.mkdtemp(prefix="waterfall-examples-")
os.environ.pop("COLUMNS", None)
