"""R-PROVE: `waterfall prove` runs model.step itself over unknowns (proofs/prove/symexec.py), every
path, every operation; its verdicts are honest (sanity gates) and its counterexamples replay.

The engine is tested on toy functions (paths counted by hand), the harness on its own
promises, the prover on one small mechanism end to end, each sanity gate by making it fire,
and the planted bugs of proofs/mutation/planted.py (the issue's list) by planting them in a copy of
model/ and asking `waterfall prove` for a replayed counterexample.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import z3

from waterfall.model.codec import op_from_json, state_from_json
from waterfall.model.loader import catalogue, load_mechanism, load_scenario, scenario_mechanism
from waterfall.model.ops import Deposit
from waterfall.model.state import validate_state
from waterfall.proofs.mutation import planted
from waterfall.proofs.prove import prover as P
from waterfall.proofs.prove import symexec as SX
from waterfall.proofs import verdict as V
from waterfall.cli.main import main
from waterfall.proofs.prove.harness import Case, Sizes, build, cases, cyclic_seeds, small_values
from waterfall.cli.prove import exit_code
from waterfall.spec.invariants import REGISTRY

CAT = catalogue()
ROOT = Path(__file__).resolve().parents[2]


def mech(mid: str) -> Any:
    return load_mechanism(CAT[mid])


def explore(fn: Any) -> tuple[list[tuple[dict[str, int], Any]], SX.Exploration]:
    """Every path of fn (its assignment and result)."""
    seen: list[tuple[dict[str, int], Any]] = []
    out = SX.Explorer(1000, None).explore(fn, lambda p, e: seen.append((dict(p.assignment), p.result)) and None)
    return seen, out


# ---- the engine ---------------------------------------------------------------------------

def test_R_PROVE_1_every_feasible_path_once_and_infeasible_ones_pruned() -> None:
    def fn(a: dict[str, int]) -> str:
        x, y = SX.variable("x", a), SX.variable("y", a)
        if x > 10:
            return "big" if y < x else "big-y"
        if x > 20:  # infeasible under x <= 10
            return "never"
        return "small"
    seen, out = explore(fn)
    assert sorted(r for _, r in seen) == ["big", "big-y", "small"] and out.complete
    for a, r in seen:  # each path's assignment really takes that path in plain Python
        x, y = a.get("x", 0), a.get("y", 0)
        assert r == ("small" if x <= 10 else "big" if y < x else "big-y")


def test_R_PROVE_1_python_semantics_min_sorted_division_and_index() -> None:
    """min, sorted, // with a symbolic divisor (and its ZeroDivisionError path), and an
    unknown used as an index are all followed exactly, one path per outcome."""
    def fn(a: dict[str, int]) -> Any:
        x, y = SX.variable("x", a), SX.variable("y", a)
        order = sorted([x, y, 0])
        k = min(x, 2) if x >= 0 else 0
        return [x * 0 + 7, -3, 5][k] if 0 <= k <= 2 else None, (7 // y if x == 1 else 0), order
    seen, out = explore(fn)
    assert out.complete
    kinds = {type(r).__name__ for _, r in seen}
    assert "ZeroDivisionError" not in kinds  # the error is a path's error, not a result
    results = []
    for a, r in seen:
        x, y = a.get("x", 0), a.get("y", 0)
        if r is None:  # the y == 0 path of 7 // y raised
            assert x == 1 and y == 0
            continue
        value, q, order = (o.v if isinstance(o, SX.Sym) else o for o in r)
        assert value == [7, -3, 5][min(x, 2) if x >= 0 else 0]
        assert q == (7 // y if x == 1 else 0)
        assert [o if isinstance(o, int) else o.v for o in order] == sorted([x, y, 0])
        results.append(r)
    assert len(seen) >= 10


def test_R_PROVE_1_terms_agree_with_values_on_the_models_own_step() -> None:
    """On every decision of a real liquidation, the Z3 term of the condition, evaluated under
    the run's assignment, equals the value the model's code saw (Python semantics)."""
    m = mech("bitmex-adl")
    case = Case("liquidate", 2, 1, ("M0",), False)
    bad: list[str] = []
    original = SX.Explorer.decide

    def decide(self: SX.Explorer, cond: Any, where: Any = None) -> bool:
        sub = [(c, z3.IntVal(self.current.get(n, 0))) for n, c in self.variables.items()]
        if z3.is_true(z3.simplify(z3.substitute(cond.term(), *sub))) != bool(cond.v):
            bad.append(repr(cond))
        return original(self, cond, where)

    def fn(a: dict[str, int]) -> Any:
        SX._EXPLORER.current = a  # type: ignore[union-attr]
        state, op = build(m, case, lambda n: SX.variable(n, a))
        validate_state(state)
        return P.step(state, op, m)

    SX.Explorer.decide = decide  # type: ignore[method-assign]
    try:
        _, out = explore(fn)
    finally:
        SX.Explorer.decide = original  # type: ignore[method-assign]
    assert out.paths > 20 and not bad


def test_R_PROVE_1_refusal_guards_are_not_explored() -> None:
    """A refusal guard's raising branch (here check_input's bound) is a path only when the
    guard is not registered; registered, the exploration skips it (a refused step has no
    post-state, so no step invariant is about it)."""
    from waterfall.model.errors import WaterfallError
    from waterfall.model.units import check_input

    def fn(a: dict[str, int]) -> Any:
        x = SX.variable("x", a)
        SX.skip_refusals(True)
        check_input(x, "x", positive=True)
        SX.skip_refusals(False)
        return "applied"
    guards = set(SX.GUARDS)
    SX.GUARDS.discard(check_input.__code__)
    try:
        unguarded = SX.Explorer(100).explore(fn, lambda p, e: None)
        refused: list[Any] = []
        SX.Explorer(100).explore(fn, lambda p, e: refused.append(p.error) and None)
        SX.GUARDS.add(check_input.__code__)
        guarded: list[Any] = []
        SX.Explorer(100).explore(fn, lambda p, e: guarded.append((p.result, p.error)) and None)
    finally:
        SX.GUARDS.clear()
        SX.GUARDS.update(guards)
    assert unguarded.paths == 3 and sum(isinstance(e, WaterfallError) for e in refused) == 2  # |x| > 10^18, x <= 0
    # the first run (x = 0) is refused; from there only the applying branch is explored, not the
    # guard |x| > 10^18's raising side
    assert [r for r, e in guarded if e is None] == ["applied"] and len(guarded) == 2


def test_R_PROVE_1_recorded_decisions_become_one_condition() -> None:
    def fn(a: dict[str, int]) -> Any:
        x = SX.variable("x", a)
        value, conds = SX.recorded(lambda: "pos" if x > 0 else "neg")
        return value, conds
    seen, _ = explore(fn)
    assert len(seen) == 1  # no fork: the decision was recorded
    (value, conds), = [r for _, r in seen]
    assert value == "neg" and len(conds) == 1 and conds[0].op == "not"


# ---- the harness ----------------------------------------------------------------------------

def test_R_PROVE_2_cyclic_seeds_reach_every_start() -> None:
    from waterfall.model.ranking import cyclic_order
    for k, m in [(3, 1), (3, 2), (4, 1)]:
        seeds = cyclic_seeds(k, m)
        for n in range(1, k):
            ids = [f"a{i:02d}" for i in range(1, n + 1)]
            for mk in [f"M{j}" for j in range(m)]:
                starts = {cyclic_order(ids, s, mk, "a00")[0] for s in seeds}
                assert starts == set(ids), (k, m, n, mk)


@pytest.mark.parametrize("mid", ["generic-socialized-loss", "clearing-house-vmgh", "bitmex-adl"])
def test_R_PROVE_2_small_scope_venues_are_valid_states(mid: str) -> None:
    import random
    m = mech(mid)
    rng = random.Random(1)
    for case in cases(m, "liquidate", 3, 2):
        for _ in range(30):
            state, _ = P.concrete(m, case, small_values(m, case, rng))
            validate_state(state)


# ---- the prover, end to end ----------------------------------------------------------------

@pytest.fixture(scope="module")
def generic_k2() -> dict[str, V.Verdict]:
    vs, _ = P.prove_mechanism(mech("generic-socialized-loss"), list(REGISTRY), Sizes(2, 1), timeout_s=300)
    return {v.invariant: v for v in vs}


def test_R_PROVE_3_a_witness_gate_needs_a_third_account(generic_k2: dict[str, V.Verdict]) -> None:
    # I-PROP's witness must haircut two accounts: with two accounts (the bankrupt and one
    # other) no path can, so the cell is UNREACHED, not PROVED on a split over one payer
    v = generic_k2["I-PROP"]
    assert v.kind == V.UNREACHED and "two accounts haircut" in v.reason
    # ... and a 3-account liquidation that haircuts two winners passes the gate, one winner does not
    from conftest import acct, mkstate, mkt
    from waterfall.model.ops import Liquidate
    from waterfall.model.step import step
    m = mech("generic-socialized-loss")
    market = mkt("M0", 120)
    for longs, gated in (({"a": 1, "c": 1}, True), ({"a": 2}, False)):
        accounts = {i: acct(100, {"M0": (n, 100 * n)}) for i, n in longs.items()}
        accounts["b"] = acct(4, {"M0": (-2, -200)})  # short 2 from 100, mark 120: 4 - 40 < 0
        accounts["e"] = acct(1_000)
        st = mkstate([market], accounts, {k: 0 for k in m.layer_keys(["M0"])})
        op = Liquidate("b", "e", {"M0": 120})
        post, ev = step(st, op, m)
        assert bool(P.exercised("I-PROP", st, op, post, ev, m)) is gated, longs


def test_R_PROVE_2_every_operation_proved_with_a_replayed_witness(generic_k2: dict[str, V.Verdict]) -> None:
    for inv in ("I-CONS", "I-ZERO", "I-FUND", "I-NOLOSS", "I-ORDER", "I-BUDGET", "I-BOUND", "I-EVENTS", "I-VALID"):
        v = generic_k2[inv]
        assert v.kind == V.PROVED_UP_TO and v.accounts == 2 and v.markets == 1, (inv, v.kind, v.reason)
        assert v.witness and v.trigger and v.stats["cases"] == 10  # 6 plain operations (advance_time too) + 4 liquidation cases
        state, op = state_from_json(v.witness["state"]), op_from_json(v.witness["op"])
        assert P.fires(mech("generic-socialized-loss"), inv, state, op)


def test_R_PROVE_3_sanity_gates_at_two_accounts(generic_k2: dict[str, V.Verdict]) -> None:
    # with two accounts the liquidation's counterparty is the only other account, and I-NONNEG
    # spares it: the predicate holds whatever happens (TRIVIAL, not PROVED); largest remainder
    # with a single payer leaves no residue (UNREACHED)
    assert generic_k2["I-NONNEG"].kind == V.TRIVIAL
    assert generic_k2["I-RESIDUE"].kind == V.UNREACHED
    assert exit_code([generic_k2["I-NONNEG"]]) == 3  # claimed and not honestly proved: inconclusive


def test_R_PROVE_3_tautology_is_trivial_and_a_trigger_that_never_fires_is_unreached(monkeypatch) -> None:
    from dataclasses import replace
    tauto = replace(REGISTRY["I-CONS"], holds=lambda pre, op, post, ev, m: post.bad_debt == post.bad_debt)
    never = replace(REGISTRY["I-ZERO"], trigger=lambda pre, op, post, ev, m: False)
    monkeypatch.setitem(REGISTRY, "I-CONS", tauto)
    monkeypatch.setitem(REGISTRY, "I-ZERO", never)
    vs, _ = P.prove_mechanism(mech("generic-socialized-loss"), ["I-CONS", "I-ZERO"], Sizes(2, 1), ["deposit", "trade"])
    kinds = {v.invariant: v.kind for v in vs}
    assert kinds == {"I-CONS": V.TRIVIAL, "I-ZERO": V.UNREACHED}


def test_R_PROVE_3_vacuous_timeout_and_unsupported(monkeypatch) -> None:
    m = mech("generic-socialized-loss")
    vs, _ = P.prove_mechanism(m, ["I-CONS"], Sizes(2, 1), ["liquidate"], timeout_s=0.001)
    assert vs[0].kind == V.TIMEOUT
    import importlib
    from waterfall.model.errors import HealthyAccount
    S = importlib.import_module("waterfall.model.step")

    def refuse(state: Any, op: Any, mech_: Any) -> Any:
        raise HealthyAccount("every deposit refused")
    monkeypatch.setitem(S.HANDLERS, Deposit, refuse)
    vs, _ = P.prove_mechanism(m, ["I-CONS"], Sizes(2, 1), ["deposit"])
    assert vs[0].kind == V.VACUOUS and "deposit" in vs[0].reason

    def floats(state: Any, op: Any, mech_: Any) -> Any:
        return float(op.amount)  # an unknown converted to float: not followed symbolically
    monkeypatch.setitem(S.HANDLERS, Deposit, floats)
    vs, _ = P.prove_mechanism(m, ["I-CONS"], Sizes(2, 1), ["deposit"], samples=0)
    assert vs[0].kind == V.UNKNOWN and "float" in vs[0].reason


def test_R_PROVE_4_a_counterexample_the_model_does_not_replay_is_a_mismatch(monkeypatch) -> None:
    monkeypatch.setattr(P, "replay", lambda *a: (False, "the model satisfies the invariant on the counterexample"))
    from dataclasses import replace
    monkeypatch.setitem(REGISTRY, "I-CONS", replace(REGISTRY["I-CONS"], holds=lambda *a: False))
    vs, _ = P.prove_mechanism(mech("generic-socialized-loss"), ["I-CONS"], Sizes(2, 1), ["deposit"], samples=0)
    assert vs[0].kind == V.ENCODING_MISMATCH


# ---- planted bugs: the list, planted in a copy of model/ --------------------------

@pytest.mark.parametrize("bug", planted.BUGS, ids=lambda b: b.name)
def test_R_PROVE_10_planted_bug_refuted_with_a_replayed_counterexample(bug: planted.Bug) -> None:
    r = planted.judge(bug, timeout=240, fuzz=False)
    assert "error" not in r, r
    assert r["prove"]["caught"], r  # a claimed invariant it breaks: COUNTEREXAMPLE, replayed in the planted model


# issue 17 item 6: bugs that need three accounts, each check well under a minute (the others,
# slower, are judged by `make mutate-proofs`: docs/proofs.md, "Bugs that need three accounts")
REACH_IN_CI = ("queue-ties-to-larger-id", "queue-walk-stops-at-head")


@pytest.mark.parametrize("name", REACH_IN_CI)
def test_R_PROVE_10_bug_needing_three_accounts_refuted_at_3_missed_at_2(name: str) -> None:
    r = planted.reach(planted.BY_NAME[name], timeout=240)
    assert r["k=3"]["caught"] and not r["k=3"]["error"], r  # refuted by the exploration of 3-account venues
    assert not r["k=2"]["caught"] and not r["k=2"]["error"], r  # two accounts: no second payer, no tie
    assert set(r["k=2"]["verdicts"].values()) <= {V.PROVED_UP_TO, V.UNREACHED, V.TRIVIAL}, r  # explored, not timed out
    assert r["shown"]


def test_R_PROVE_10_planted_copy_is_the_model_that_runs(tmp_path: Path) -> None:
    """The planted tree differs from model/ by the bug's line only, and the child imports it."""
    bug = planted.BY_NAME["fee-uncapped"]
    tree = planted.plant(bug, tmp_path)
    diff = [f for f in sorted(planted.MODEL_DIR.glob("*.py")) if f.read_text() != (tree / f.name).read_text()]
    assert [f.name for f in diff] == [bug.file]
    with pytest.raises(ValueError, match="occurs 0 times"):
        planted.plant(planted.Bug("x", "step.py", "no such text", "", "generic-socialized-loss", ()), tmp_path / "b")


def test_R_PROVE_10_generated_mutants_separate_crashes_from_changed_values() -> None:
    """proofs/mutation/mutants.py: a mutant that puts None in or drops an argument is a crash mutant;
    one that changes an operator or a constant is semantic (the campaign's --semantic sample)."""
    from waterfall.proofs.mutation.mutants import semantic

    def bug(old: str, new: str) -> planted.Bug:
        return planted.Bug("m", "layers.py", f"def f(a, b):\n    {old}\n", f"def f(a, b):\n    {new}\n", "", ())
    assert semantic(bug("return min(a, b)", "return max(a, b)"))
    assert semantic(bug("return a + 1", "return a + 2"))
    assert not semantic(bug("return min(a, b)", "return min(a, None)"))
    assert not semantic(bug("return min(a, b)", "return min(b)"))


# ---- documented properties (spec/findings) are found again --------------------------------

@pytest.mark.parametrize("path", sorted((ROOT / "spec" / "findings").glob("*-z3.json")), ids=lambda p: p.stem)
def test_R_PROVE_4_committed_findings_are_found_again(path: Path) -> None:
    sc = load_scenario(path)
    m = scenario_mechanism(sc)
    invariant = "I-" + sc.name.rsplit("-I-", 1)[1]
    assert invariant not in m.claims
    vs, _ = P.prove_mechanism(m, [invariant], Sizes(3, 1), ["liquidate"], timeout_s=120,
                              stop_when_refuted={invariant})
    assert vs[0].kind == V.COUNTEREXAMPLE and not vs[0].claimed


# ---- the command line -------------------------------------------------------------------------

def test_R_PROVE_7_cli_json_exit_codes_and_save(capsys, tmp_path: Path) -> None:
    code = main(["prove", "--mechanism", "bitmex-adl", "--accounts", "2", "--markets", "1", "--operation", "liquidate",
                 "--invariant", "I-NONNEG", "--invariant", "I-CONS", "--no-all-n", "--json", "--save", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    kinds = {v["invariant"]: v["kind"] for v in out["verdicts"]}
    assert kinds["I-NONNEG"] == V.COUNTEREXAMPLE  # documented (not claimed) for BitMEX's ADL
    assert out["accounts"] == 2 and out["markets"] == 1 and "liquidate" in out["operations"]["bitmex-adl"]
    assert code == 0 and len(out["saved"]) == 1
    assert main(["run", out["saved"][0]]) == 0
    assert "I-NONNEG violated (not claimed" in capsys.readouterr().out


def test_R_PROVE_7_cli_bad_input(capsys) -> None:
    assert main(["prove", "--invariant", "I-NOPE", "--no-all-n"]) == 2
    assert main(["prove", "--accounts", "1", "--no-all-n"]) == 2
    assert main(["prove", "--markets", "0", "--no-all-n"]) == 2
    assert main(["prove", "--mechanism", "no-such-venue", "--no-all-n"]) == 2
    err = capsys.readouterr().err
    assert "I-NOPE" in err and "--accounts" in err and "--markets" in err and "no-such-venue" in err


def _boom(*args: Any) -> Any:
    raise RuntimeError("injected")


def test_R_PROVE_7_a_prover_crash_is_reported_not_raised(capsys, monkeypatch) -> None:
    from waterfall.proofs.prove import matrix
    monkeypatch.setattr(matrix, "_job", _boom)  # run in a worker process of its own (R-PROVE-15), found there by name
    code = main(["prove", "--mechanism", "drift-v2", "--invariant", "I-CONS", "--operation", "deposit", "--no-all-n",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["verdicts"][0]["reason"] == "prover error: deposit: RuntimeError: injected"
