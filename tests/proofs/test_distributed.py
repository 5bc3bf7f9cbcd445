"""R-PROVE-13: `waterfall prove --executor dask` gives the single-process verdicts, with 2 local
workers (CI runs this), with a worker killed mid-run, and with units finishing in any order.

Kept small: one small mechanism (generic-socialized-loss), k = 2, the liquidation (four
cases, so case units are folded and speculated on) and the trade.

Z3's budgets are counted in solver work (R-PROVE-11), so a busy machine cannot make a query
take another route in one run and not in the other: what is compared is the executor alone.
"""
from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="extra 'cluster' (in dev): pip install 'loss-waterfall[cluster]'")

from waterfall.cli.main import main  # noqa: E402
from waterfall.cli.prove import INVARIANTS  # noqa: E402
from waterfall.model.loader import resolve_mechanism  # noqa: E402
from waterfall.proofs.prove import distributed as D  # noqa: E402
from waterfall.proofs.prove.harness import Sizes  # noqa: E402
from waterfall.proofs.prove.matrix import run_matrix  # noqa: E402
from waterfall.proofs.prove.prover import Cell, CaseStats, Evidence  # noqa: E402

MECH, OPS, SIZES = "generic-socialized-loss", ["liquidate", "trade"], Sizes(2, 1)
TIMING = {"seconds"}


def client() -> Any:
    """A local cluster of 2 worker processes."""
    return D.connect(None, 2)


def stripped(x: Any) -> Any:
    """JSON without its timing fields."""
    if isinstance(x, dict):
        return {k: stripped(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [stripped(v) for v in x]
    return x


def as_json(result: tuple[list[Any], dict[str, Any]]) -> str:
    verdicts, per_op = result
    return json.dumps(stripped({"verdicts": [v.to_json() for v in verdicts], "operations": per_op}), sort_keys=True)


@pytest.fixture(scope="module")
def single() -> str:
    """The single-process run (one local process, R-PROVE-7), as JSON without timings."""
    return as_json(run_matrix([resolve_mechanism(MECH)], INVARIANTS, SIZES, 600, 1, OPS, progress=None))


def test_R_PROVE_13_two_local_workers_give_the_single_process_verdicts(single: str) -> None:
    c = client()
    seen: list[D.Speculation] = []
    try:
        out = D.run_distributed([resolve_mechanism(MECH)], INVARIANTS, SIZES, 600, 2, OPS, progress=None,
                                client=c, on_event=lambda _c, spec: seen.append(spec))
    finally:
        D.close(c)
    spec = seen[-1]
    assert [len(r.stats) for r in spec.runs] == [4, 1]  # the liquidation's four cases were units of their own
    assert as_json(out) == single
    assert '"kind": "PROVED N<=k"' in single and '"kind": "COUNTEREXAMPLE"' not in single  # a real comparison


def test_R_PROVE_13_a_worker_killed_mid_run_loses_no_result(single: str) -> None:
    c = client()
    killed: list[int] = []

    def kill_one_busy_worker(cl: Any, spec: D.Speculation) -> None:
        if killed:
            return
        for _ in range(40):  # up to 2 s for a worker to be running a case unit
            busy = [w for w, keys in cl.processing().items() if any("-case" in str(k) for k in keys)]
            if busy:
                break
            time.sleep(0.05)
        if busy:
            pid = cl.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    try:
        out = D.run_distributed([resolve_mechanism(MECH)], INVARIANTS, SIZES, 600, 2, OPS, progress=None,
                                client=c, on_event=kill_one_busy_worker)
        pids = set(c.run(os.getpid).values())
    finally:
        D.close(c)
    assert killed, "no worker was busy with a case unit when a unit finished"
    assert killed[0] not in pids  # it died (its nanny started another)
    assert as_json(out) == single


def unit(cells: dict[str, Cell]) -> Evidence:
    """One case unit's evidence made of these cells."""
    return Evidence("m", cells, [CaseStats("c")], [])


def test_R_PROVE_13_fold_keeps_the_single_process_rules() -> None:
    cells: dict[str, Cell] = {"I-A": Cell("I-A"), "I-B": Cell("I-B")}
    D.fold(cells, unit({"I-A": Cell("I-A", paths=2, counterexample={"n": 1}, note="first", mismatch="m1",
                                    undecided="u1"),
                        "I-B": Cell("I-B", paths=1, witness=("w1", {}), undecided="crash1")}), {"I-B"})
    D.fold(cells, unit({"I-A": Cell("I-A", paths=3, counterexample={"n": 2}, note="second", mismatch="m2",
                                    undecided="u2"),
                        "I-B": Cell("I-B", paths=1, witness=("w2", {}), undecided="crash2")}), {"I-B"})
    a, b = cells["I-A"], cells["I-B"]
    assert (a.paths, a.counterexample, a.note, a.mismatch, a.undecided) == (5, {"n": 1}, "first", "m2", "u2")
    assert (b.paths, b.witness, b.undecided) == (2, ("w1", {}), "crash1")  # a crash never overwrites a reason
    assert D.key_of(cells) == (frozenset({"I-A"}), frozenset({"I-B"}))


class Future:
    """A unit run in this process when its result is asked for (a stand-in for Dask's)."""

    def __init__(self, fn: Any, args: tuple[Any, ...]) -> None:
        self.fn, self.args, self.cancelled = fn, args, False

    def result(self) -> Any:
        return self.fn(*self.args)

    def cancel(self) -> None:
        self.cancelled = True


class Client:
    def submit(self, fn: Any, *args: Any, **kw: Any) -> Future:
        return Future(fn, args)


def test_R_PROVE_13_a_case_computed_with_a_wrong_key_is_never_folded() -> None:
    mech = resolve_mechanism(MECH)
    spec = D.Speculation(Client(), [mech], INVARIANTS, SIZES, 600, ["liquidate"], 50_000)
    run = spec.runs[0]
    [sample, *_relations] = spec.start()  # the sampling unit, and the relations unit (R-PROVE-12)
    [first] = spec.on_result(sample)  # case 0 only: no key to guess from yet
    assert spec.owner[first][1] == 0
    later = spec.on_result(first)  # case 1 with the key case 0 left, cases 2 and 3 speculated with it
    right = D.key_of(run.cells)
    assert sorted(spec.owner[f][1] for f in later) == [1, 2, 3] and all(spec.owner[f][2] == right for f in later)
    wrong = (right[0], right[1] - {"I-CONS"})
    by_case = {spec.owner[f][1]: f for f in later}
    # a result of case 1 computed with another key is kept apart and never folded
    run.results[(1, wrong)] = {"mechanism": MECH, "cells": {}, "cases": [asdict(CaseStats("WRONG KEY"))],
                               "vacuous": [], "timed_out": False, "by_crash": []}
    assert spec.advance(run) == [] and run.front == 1
    for j in (3, 2, 1):  # finishing out of order changes nothing: folded in case order
        spec.on_result(by_case[j])
    assert run.finished and run.front == 4
    assert [s.label for s in run.stats] == run.labels  # no "WRONG KEY"
    assert all(run.results[(j, right)]["cases"][0]["label"] == run.labels[j] for j in (1, 2, 3))


class LastRelations:
    """Dask's as_completed with the relations unit returned after every other unit (as when
    the worker holding it was killed and it ran again elsewhere)."""

    def __init__(self, futures: list[Future]) -> None:
        self.queue = list(futures)

    def add(self, fut: Future) -> None:
        self.queue.append(fut)

    def __iter__(self) -> "LastRelations":
        return self

    def __next__(self) -> Future:
        if not self.queue:
            raise StopIteration
        rest = [f for f in self.queue if f.args[0] != "relations"]
        fut = (rest or self.queue)[0]
        self.queue.remove(fut)
        return fut


class LocalClient(Client):
    def run(self, fn: Any) -> dict[str, Any]:
        return {"local": fn()}

    def scheduler_info(self) -> dict[str, Any]:
        return {"workers": {"local": {}}}


def test_R_PROVE_13_a_relations_unit_returning_last_is_not_lost(single: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(distributed, "as_completed", LastRelations)
    out = D.run_distributed([resolve_mechanism(MECH)], INVARIANTS, SIZES, 600, 1, OPS, progress=None,
                            client=LocalClient())
    assert '"invariant": "I-SCALE", "kind": "PROVED N<=k"' in single  # the relations are part of the comparison
    assert as_json(out) == single


def test_R_PROVE_13_workers_of_other_code_are_refused() -> None:
    class Other:
        def run(self, fn: Any) -> dict[str, str]:
            return {"tcp://w1:1": D.fingerprint(), "tcp://w2:1": "0" * 64}
    with pytest.raises(D.ClusterError, match="tcp://w2:1"):
        D.check_workers(Other())


def test_R_PROVE_13_address_without_dask_and_no_scheduler_are_typed_errors(capsys: Any) -> None:
    assert main(["prove", "--mechanism", MECH, "--address", "tcp://127.0.0.1:9", "--no-all-n"]) == 2
    assert "--executor dask" in capsys.readouterr().err
    assert main(["prove", "--mechanism", MECH, "--executor", "dask", "--address", "tcp://127.0.0.1:9",
                 "--operation", "deposit", "--no-all-n"]) == 2
    err = capsys.readouterr().err
    assert "E-CLUSTER" in err and "tcp://127.0.0.1:9" in err and "Traceback" not in err


def test_R_PROVE_13_counterexamples_are_the_single_process_ones() -> None:
    mechs, invs = [resolve_mechanism("drift-v2")], ["I-NONNEG", "I-CONS"]  # I-NONNEG: not claimed, refuted
    single = as_json(run_matrix(mechs, invs, SIZES, 600, 1, ["liquidate"], progress=None))
    c = client()
    try:
        out = D.run_distributed(mechs, invs, SIZES, 600, 2, ["liquidate"], progress=None, client=c)
    finally:
        D.close(c)
    assert '"kind": "COUNTEREXAMPLE"' in single and '"kind": "PROVED N<=k"' in single
    assert as_json(out) == single


def test_R_PROVE_13_a_unit_in_its_own_process_gives_the_in_process_result() -> None:
    mech = resolve_mechanism(MECH)
    args = (Path(mech.path).read_text(), str(mech.path), INVARIANTS, asdict(SIZES), "trade", 0, [], [], 600, 50_000)
    alone = D.isolated("case", *args)
    here = D.case_unit(*args)
    assert alone["cases"][0]["paths"] > 0
    assert stripped(alone) == stripped(json.loads(json.dumps(here)))


def test_R_PROVE_13_a_unit_whose_process_fails_is_a_typed_error() -> None:
    with pytest.raises(D.UnitError, match="unit case ended with exit code 1: .*TOMLDecodeError"):
        D.isolated("case", "not = [toml", "bad.toml", INVARIANTS, asdict(SIZES), "trade", 0, [], [], 600, 50_000)


def test_R_PROVE_14_a_unit_out_of_its_memory_budget_is_undecided_never_proved(monkeypatch: Any) -> None:
    # a unit process with Z3's own allocations capped at 8 MB has no room for a context (16.4 MB):
    # its case stops at once, UNKNOWN by the budget; with the cap alone (2048 MB) it is explored
    mech = resolve_mechanism("drift-v2")
    args = (Path(mech.path).read_text(), str(mech.path), INVARIANTS, asdict(SIZES), "trade", 0, [], [], 600, 50_000)
    monkeypatch.setenv(D.TEST_Z3_MB, "8")
    stop = D.isolated("case", *args, memory_mb=2048)["cases"][0]
    assert stop["memory"] and not stop["complete"] and stop["reason"] == "memory budget of 2048 MB exceeded"
    monkeypatch.delenv(D.TEST_Z3_MB)
    room = D.isolated("case", *args, memory_mb=2048)["cases"][0]
    assert not room["memory"] and room["complete"] and room["paths"] > 0


def test_R_PROVE_14_a_sampling_or_relations_unit_out_of_memory_is_undecided(monkeypatch: Any) -> None:
    mech = resolve_mechanism(MECH)
    text, origin = Path(mech.path).read_text(), str(mech.path)

    def out_of_memory(*a: Any, **k: Any) -> Any:
        raise MemoryError("injected")
    monkeypatch.setattr(D.Prover, "sample", out_of_memory)
    ev = D.sample_unit(text, origin, INVARIANTS, asdict(SIZES), "liquidate")
    assert [(c["memory"], c["complete"]) for c in ev["cases"]] == [(True, False)]
    monkeypatch.setattr(D.relational, "prove_relations", out_of_memory)
    cells = D.relations_unit(text, origin, INVARIANTS, asdict(SIZES), "liquidate", ["I-SPLIT"], 600, 50_000)
    assert cells["I-SPLIT"]["undecided"].startswith("liquidate: out of memory")


def test_R_PROVE_14_the_driver_stops_an_operation_at_a_unit_that_ran_out() -> None:
    mech = resolve_mechanism(MECH)
    spec = D.Speculation(Client(), [mech], INVARIANTS, SIZES, 600, ["liquidate"], 50_000)
    run = spec.runs[0]
    assert len(run.labels) > 1
    out_of_room = Evidence(mech.id, {}, [CaseStats("liquidate: small-scope search", complete=False,
                                                   reason="memory budget of 64 MB exceeded", memory=True)], [])

    class Done:
        def result(self) -> Any:
            return out_of_room.to_json()
    fut = Done()
    spec.owner[fut] = (run, -1, None)
    assert spec.on_result(fut) == [] and run.finished  # no case unit is started after the stop
    assert [c.memory for c in run.evidence().cases] == [True]


def test_R_PROVE_14_a_unit_process_killed_names_its_signal(monkeypatch: Any) -> None:
    real = D.subprocess.run
    monkeypatch.setattr(D.subprocess, "run", lambda cmd, **kw: real(["sh", "-c", "kill -9 $$"], **kw))
    with pytest.raises(D.UnitError, match=r"unit case ended without a result: worker process died \(signal 9, SIGKILL"):
        D.isolated("case", "x", "x.toml", INVARIANTS, asdict(SIZES), "trade", 0, [], [], 600, 50_000)
