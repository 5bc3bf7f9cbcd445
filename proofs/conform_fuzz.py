"""Differential fuzzing of an implementation against the reference model (R-CONF-6).

Hypothesis draws small scenarios (a venue of 2-4 accounts in one market, up to 6
operations: deposits, withdrawals, trades, price moves and gaps, funding, liquidations),
the model computes the expected result of each step, the implementation answers over the
conformance protocol (one process for the whole run, restarted after a crash), and any
disagreement is shrunk by Hypothesis to a minimal scenario, which is saved as a vector.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.state import Account, Market, Position, State

from .conform import Implementation, StepResult, Vector, run_vector
from .vectors import Case, canonical, vector

IDS = ("a", "b", "c", "d")


@st.composite
def venues(draw: Any) -> State:
    """One market, 2-4 accounts, zero-sum positions opened at mark."""
    n = draw(st.integers(2, 4))
    mark = draw(st.integers(50, 2_000))
    sizes = [draw(st.integers(-30, 30)) for _ in range(n - 1)]
    sizes.append(-sum(sizes))
    accounts = {i: Account(c, c, {"M0": Position(s, s * mark)} if s else {})
                for i, s, c in zip(IDS, sizes, [draw(st.integers(0, 20_000)) for _ in range(n)])}
    return State({"M0": Market("M0", mark, 100_000, 50_000)}, accounts, {}, {}, 0)


def operations(ids: tuple[str, ...]) -> st.SearchStrategy[Op]:
    """One operation on the venue's accounts (refusals included: their codes are compared)."""
    acct = st.sampled_from(ids)
    price = st.integers(1, 4_000)
    return st.one_of(
        st.builds(Deposit, acct, st.integers(1, 10_000)),
        st.builds(Withdraw, acct, st.integers(1, 10_000)),
        st.builds(Trade, acct, acct, st.just("M0"), st.integers(1, 20), price),
        st.builds(SetMark, st.just("M0"), price),
        st.builds(Funding, st.just("M0"), st.integers(-20, 20)),
        st.builds(Liquidate, acct, st.one_of(st.none(), acct), st.fixed_dictionaries({"M0": price}), st.just("0")))


@st.composite
def scenarios(draw: Any, mechanisms: list[Mechanism]) -> tuple[Mechanism, Case]:
    """A mechanism, a venue and up to 6 operations."""
    mech = draw(st.sampled_from(mechanisms))
    state = draw(venues())
    ops = draw(st.lists(operations(tuple(sorted(state.accounts))), min_size=1, max_size=6))
    return mech, Case("fuzz", "differential fuzzing case", state, tuple(ops))


@dataclass
class Outcome:
    """What a differential run found: examples tried, and the minimal disagreement."""

    examples: int = 0
    failure: list[StepResult] = field(default_factory=list)
    vector: dict[str, Any] | None = None


def differential(command: str, mechanisms: list[Mechanism], examples: int, timeout: float,
                 seed: int | None = None) -> Outcome:
    """R-CONF-6: run `examples` scenarios through the implementation and the model; a
    disagreement is shrunk and kept in the outcome (the last failing call is the minimal one)."""
    impl, out = Implementation(command, timeout), Outcome()
    state = {"broken": impl.handshake()}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
              suppress_health_check=list(HealthCheck))
    @given(scenarios(mechanisms))
    def check(case: tuple[Mechanism, Case]) -> None:
        mech, c = case
        out.examples += 1
        doc = vector(mech, c)
        gen = run_vector(Vector(f"{mech.id}/fuzz", doc), impl, state["broken"])
        results = []
        try:
            while True:
                results.append(next(gen))
        except StopIteration as stop:
            state["broken"] = stop.value
        failed = [r for r in results if r.status != "pass"]
        if failed:
            out.failure, out.vector = failed, doc
            raise AssertionError(failed[0].reason)

    try:
        check()
    except AssertionError:
        pass
    finally:
        impl.stop()
    return out


def save(doc: dict[str, Any], directory: Path) -> Path:
    """Write a found disagreement as a vector DIR/MECHANISM/fuzz-HASH.json; returns its path."""
    vid = "fuzz-" + hashlib.sha256(canonical(doc).encode()).hexdigest()[:10]
    path = Path(directory) / doc["mechanism"]["id"] / f"{vid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(canonical({**doc, "id": vid}), encoding="utf-8", newline="\n")
    return path
