"""R-PROVE-19: the outer wall-clock guard (`--timeout`) stops a query that is running, not only
the search between paths, and what it stops is TIMEOUT, never an answer about the query.

Before this rule a (mechanism, operation) task given 240 s ran for more than 20 minutes: the guard
was looked at only between paths, and one branch query climbed the ladder to its 100 M units
(docs/proofs.md, Speed, "Sixth pass: the outer guard"). The clock is faked here, so nothing is timed."""
from __future__ import annotations

import itertools
from typing import Any, Iterator

import pytest
import z3

from waterfall.proofs.prove import symexec

from dumped_queries import SMALL, query, record_rungs


def _clock(monkeypatch: pytest.MonkeyPatch, readings: list[float]) -> None:
    """`time.perf_counter` as symexec sees it: these readings, then the last one for ever."""
    it: Iterator[float] = itertools.chain(readings, itertools.repeat(readings[-1]))
    monkeypatch.setattr(symexec.time, "perf_counter", lambda: next(it))


def test_R_PROVE_19_no_rung_starts_after_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(symexec, "_solver", lambda kind, *a, **k: asked.append(kind))
    _clock(monkeypatch, [100.0])
    x = z3.Int("x")
    with pytest.raises(symexec.PathLimit, match=symexec.TIME_LIMIT):
        symexec.solve([x * x == 2], SMALL, deadline=50.0)
    assert asked == []  # Z3 was not asked at all


def test_R_PROVE_19_the_ladder_stops_at_the_guard_instead_of_climbing(monkeypatch: pytest.MonkeyPatch) -> None:
    """k3_plain_query: the cofactored first rung gives up on it, the plain rung decides it
    (tests/proofs/test_cofactor.py). Without a deadline it is decided; with the clock past the
    deadline once the first rung has run, the ladder stops there, as a time limit."""
    assert symexec.solve(query("k3_plain_query.smt2"), 10 * SMALL)[0] == z3.unsat
    tried = record_rungs(monkeypatch)
    formulas = query("k3_plain_query.smt2")
    _clock(monkeypatch, [0.0, 100.0])  # before the first rung: in time; after it: past the deadline
    with pytest.raises(symexec.PathLimit, match=symexec.TIME_LIMIT):
        symexec.solve(formulas, 10 * SMALL, deadline=50.0)
    assert tried == ["smt"]


def test_R_PROVE_19_a_running_rung_is_given_only_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rung's solver gets Z3's `timeout` set to the milliseconds left before the deadline, and
    none without a deadline (so the budget alone decides: R-PROVE-11)."""
    settings: list[dict[str, Any]] = []
    solver = symexec._solver

    def recording(kind: str, rlimit: int, cofactor: bool = True) -> Any:
        """A real rung whose `set` calls are noted."""
        s = solver(kind, rlimit, cofactor)
        seen: dict[str, Any] = {}
        settings.append(seen)
        real_set = s.set

        def noting(*args: Any, **keys: Any) -> None:
            seen.update(zip(args[::2], args[1::2]))
            real_set(*args, **keys)
        s.set = noting  # type: ignore[method-assign]
        return s

    monkeypatch.setattr(symexec, "_solver", recording)
    x, y = z3.Ints("x y")
    assert symexec.solve([x + y == 3, x - y == 1], SMALL)[0] == z3.sat
    assert settings == [{}]
    settings.clear()
    _clock(monkeypatch, [10.0, 10.0])
    assert symexec.solve([x + y == 3, x - y == 1], SMALL, deadline=12.5)[0] == z3.sat
    assert settings == [{"timeout": 2500}]


def test_R_PROVE_19_an_exploration_past_its_deadline_ends_as_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Explorer.check: a path's goal asked after the deadline ends the exploration
    incomplete with the time limit as its reason (the prover's TIMEOUT), not UNKNOWN."""
    symexec.fresh_context()

    def fn(a: dict[str, int]) -> Any:
        x = symexec.variable("x", a)
        return x * x

    seen: list[Any] = []

    def on_path(path: symexec.Path, ex: symexec.Explorer) -> bool:
        ex.deadline = 0.0  # the guard has passed while the path ran
        seen.append(ex.check(z3.Not(path.result.term() >= 0), quick=False))
        return False

    monkeypatch.setattr(symexec, "QUICK_RLIMIT", 1)  # the incremental solver gives up, so the ladder is reached
    out = symexec.Explorer(max_paths=10).explore(fn, on_path)
    assert not out.complete and out.reason == symexec.TIME_LIMIT
    assert seen == []  # the check never returned an answer
