"""Relational claims proved on `model.step` by self-composition (R-PROVE-12).

A relational invariant (I-PATH, I-SCALE, I-SPLIT; `RELATIONS` in spec/invariants.py)
compares two runs of the model: a liquidation and the same liquidation on the venue scaled
by k, on the venue with an account split into two halves, or two liquidations in either
order. Its check runs the model itself (`Relation.holds`), so it is proved the way every
other claim is: the harness builds one venue of unknowns (proofs/prove/harness.py, the
liquidation cases), `validate_state` keeps the valid ones, and the relation's own check is
run on it inside one exploration of the concolic engine (proofs/prove/symexec.py). Both
runs of `model.step` (and the related venue, built by the spec's own `scaled`, `doubled`,
`split_state`) are over the same unknowns, so each path is a pair of paths of the model
that agree on the venue: self-composition. Every decision forks, those of the comparison
too, so a path ends with the relation True, False, not comparable (None: a run refused or
no exact split), or a condition that Z3 decides under the path condition.

Per relation and parameter (I-SCALE k = 3; I-SPLIT and I-PATH every other account that
R-VERIFY-3 would check: `checks.relation_params`, evaluated on the same unknowns, so a
counterexample found here is one the fuzzer and `waterfall replay` check the same way):

- a path where the relation is False (or can be) gives values that are replayed on Python
  integers through the relation's own check (R-PROVE-4): COUNTEREXAMPLE only if it fails
  there too, else ENCODING MISMATCH;
- the witness gate: a path where the relation's trigger fires (`Relation.trigger`: both
  runs apply and the loss reaches others, or the split account's equity changes), replayed;
- the tautology gate: on the witness, the runs' results are replaced by states whose every
  number is unknown (`_run` of spec/invariants.py replaced while the check runs): a relation
  that holds whatever the two runs return is TRIVIAL.

The venue is the harness's (k accounts, m markets, up to `Sizes`); the split venue has one
account more (k + 1), the doubled one the same k. Verdict kinds are those of the prover.
"""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import z3

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.state import State, validate_state
from waterfall.spec import invariants as spec_invariants
from waterfall.spec.invariants import RELATIONS

from waterfall.proofs import verdict as V
from waterfall.proofs.checks import RELATION_PEERS, relation_params
from waterfall.proofs.prove import prover as _prover  # (circular, used in functions only) its import registers the model's refusal guards (GUARDS)
from waterfall.proofs.prove.harness import Case, Sizes, account_ids, build, cases, small_values
from waterfall.proofs.prove.symexec import (DEFAULT_RLIMIT, Explorer, OutOfMemory, Path, Sym, SymBool, Unsupported,
                                            and_sym, fresh_context, out_of_memory, recorded, skip_refusals, solve,
                                            variable)
from waterfall.proofs.verdict import Verdict

OPERATION = "liquidate"
"""The relations compare liquidations (R-VERIFY-3): they are proved on its cases only."""
SCALE = 3
"""I-SCALE's factor, as R-VERIFY-3 checks it."""
SAMPLES = 200
"""R-PROVE-5's small-scope search before the exploration: random small venues per case and
parameter (seeded by them), each checked on Python integers by the relation's own check."""


class _Skip:
    """A path on which nothing is compared: the pre-state is not valid, or the parameter is
    not one R-VERIFY-3 checks on this venue (I-PATH: the other account is not liquidatable)."""


SKIP = _Skip()


@dataclass
class RelCell:
    """The evidence for one relation over every case and parameter."""

    paths: int = 0  # compared paths on which the relation was decided
    skipped: int = 0  # paths where the runs are not comparable (a run refused)
    counterexample: dict[str, Any] | None = None
    mismatch: str = ""
    undecided: str = ""
    timed_out: bool = False
    witness: dict[str, Any] | None = None  # {"case": asdict(Case), "param": ..., "values": {...}}
    parameter: Any = None  # the counterexample's parameter (the other account, or k)
    cases: int = 0
    explored: int = 0
    seconds: float = 0.0


def candidates(rid: str, mech: Mechanism, case: Case) -> list[object]:
    """The parameters a relation is explored with on a case: k = 3 for I-SCALE; for I-PATH
    and I-SPLIT every account but the bankrupt and the counterparty (at most RELATION_PEERS,
    id order), each kept on a path only where R-VERIFY-3's `relation_params` picks it."""
    if rid == "I-SCALE":
        return [SCALE]
    ids = account_ids(case.accounts, mech)
    cp = ids[1] if case.counterparty else None
    return [i for i in ids if i not in (ids[0], cp)][:RELATION_PEERS]


def checked(rid: str, state: State, op: Liquidate) -> list[object]:
    """R-VERIFY-3's parameters of `rid` on a venue of unknowns (`checks.relation_params`).
    I-PATH's list depends on numbers (the other account is liquidatable): its decisions fork.
    I-SCALE's and I-SPLIT's lists depend on the venue's structure only (k = 3; the accounts
    holding an entry), so the numeric decisions relation_params makes for I-PATH are not
    forked for them (they would multiply the paths by each account's liquidatability and
    change nothing); they are recorded and dropped."""
    if rid == "I-PATH":
        return relation_params(state, op)[rid]
    params, _ = recorded(lambda: relation_params(state, op))
    return params[rid]


def concrete(mech: Mechanism, case: Case, values: dict[str, int]) -> tuple[State, Liquidate]:
    """The case's venue and liquidation with the solver's values (0 for any left free)."""
    state, op = build(mech, case, lambda name: values.get(name, 0))
    return state, op  # type: ignore[return-value]


def replay(mech: Mechanism, rid: str, state: State, op: Liquidate, param: object) -> tuple[bool, str]:
    """R-PROVE-4: the relation's own check on Python integers: (fails there too, note)."""
    try:
        validate_state(state)
    except WaterfallError as e:
        return False, f"the counterexample's state is not valid: [{e.code}] {e}"
    if param not in relation_params(state, op)[rid]:
        return False, f"R-VERIFY-3 does not check {rid} with {param} on this venue"
    try:
        held = RELATIONS[rid].holds(state, op, mech, param)
    except Exception as e:  # noqa: BLE001  (a crash of the model in one run)
        if out_of_memory(e):  # R-PROVE-14: the budget ran out, the model did not crash
            raise
        return False, f"the relation's check raised {type(e).__name__}: {e}"
    if held is None:
        return False, "the two runs are not comparable on the counterexample (a run refused)"
    return (not held), ("" if not held else "the model satisfies the relation on the counterexample")


def scenario(mech: Mechanism, rid: str, state: State, op: Liquidate, param: object, note: str) -> dict[str, Any]:
    """A counterexample as a scenario document (spec/scenario.md), replayable by `waterfall replay`."""
    return {"format": "waterfall-scenario", "version": 1, "name": f"{mech.id}-{rid}",
            "description": f"counterexample to {rid} (parameter {param}) found by waterfall prove on "
                           f"model.step by self-composition; {note}",
            "mechanism": mech.id, "state": state_to_json(state), "ops": [op_to_json(op)]}


class RelProver:
    """Every liquidation case, every relation and parameter: one exploration each."""

    def __init__(self, mech: Mechanism, relations: list[str], deadline: float, max_paths: int,
                 rlimit: int = DEFAULT_RLIMIT) -> None:
        self.mech, self.deadline, self.max_paths, self.rlimit = mech, deadline, max_paths, rlimit
        self.cells = {r: RelCell() for r in relations}

    def sample(self, rid: str, case: Case, param: object, n: int) -> None:
        """R-PROVE-5: `n` small random venues of the case (seeded, reproducible) through the
        relation's own check on Python integers; the first that fails is the counterexample
        (it proves nothing)."""
        cell, rng = self.cells[rid], random.Random(f"{case.label()}|{rid}|{param}")
        for _ in range(n):
            if cell.counterexample is not None:
                return
            state, op = concrete(self.mech, case, small_values(self.mech, case, rng))
            if replay(self.mech, rid, state, op, param)[0]:
                cell.counterexample = scenario(self.mech, rid, state, op, param,
                                               f"{case.label()}, parameter {param} (small-scope search)")
                cell.parameter = param

    def run(self, rid: str, case: Case, param: object) -> None:
        """Explore every path of the relation's check on one case and parameter."""
        mech, cell = self.mech, self.cells[rid]
        rel = RELATIONS[rid]

        def fn(a: dict[str, int]) -> Any:
            state, op = build(mech, case, lambda name: variable(name, a))
            skip_refusals(True)  # a refused run makes the relation not comparable: nothing to prove there
            try:
                validate_state(state)
            except WaterfallError:
                return SKIP
            if param not in checked(rid, state, op):  # type: ignore[arg-type]
                return SKIP
            held = rel.holds(state, op, mech, param)  # type: ignore[arg-type]
            if held is None or held is False:
                return held
            trig, conds = recorded(lambda: rel.trigger(state, op, mech, param))  # type: ignore[arg-type]
            return held, (and_sym(conds + [trig]) if conds else trig)

        def on_path(path: Path, ex: Explorer) -> bool:
            if isinstance(path.error, Unsupported):
                cell.undecided = cell.undecided or f"{case.label()} {param}: unsupported: {path.error}"
            elif isinstance(path.error, WaterfallError):
                pass  # a refusal outside the runs (the harness's venue): nothing to compare
            elif path.error is not None:
                self.crash(rid, case, param, path)
            elif path.result is SKIP:
                pass
            elif path.result is None:
                cell.skipped += 1
            elif path.result is False:
                self.refute(rid, case, param, path.assignment, ex, None)
            else:
                held, trig = path.result
                self.decide(rid, case, param, held, ex, path.assignment)
                self.witness(rid, case, param, trig, ex, path.assignment)
            return cell.counterexample is not None

        fresh_context()  # R-PROVE-11: each exploration reproducible in any process
        ex = Explorer(self.max_paths, self.deadline, self.rlimit)
        out = ex.explore(fn, on_path)
        if out.memory:  # R-PROVE-14: no more Z3 work in this task
            raise OutOfMemory(out.reason)
        cell.cases += 1
        cell.explored += out.paths
        cell.seconds += out.seconds
        if not out.complete and cell.counterexample is None and out.reason != "stopped":
            if "time limit" in out.reason:
                cell.timed_out = True
            cell.undecided = cell.undecided or f"{case.label()} {param}: {out.reason}"

    def decide(self, rid: str, case: Case, param: object, held: Any, ex: Explorer, values: dict[str, int]) -> None:
        """The relation on one compared path: True, or a condition Z3 decides under the path."""
        cell = self.cells[rid]
        if not isinstance(held, Sym):
            cell.paths += bool(held)
            return
        r, model, why = ex.check(z3.Not(held.term()))
        if r == z3.unsat:
            cell.paths += 1
        elif r == z3.sat:
            self.refute(rid, case, param, _values(model, ex), ex, held)
        else:
            cell.undecided = cell.undecided or f"{case.label()} {param}: Z3 {why} on a path"

    def witness(self, rid: str, case: Case, param: object, trig: Any, ex: Explorer, values: dict[str, int]) -> None:
        """Keep the first path on which the relation's trigger fires (or can), as values."""
        cell = self.cells[rid]
        if cell.witness is not None or trig is False:
            return
        if trig is True or (isinstance(trig, SymBool) and trig.v):
            found = dict(values)
        elif isinstance(trig, SymBool):
            r, model, _ = ex.check(trig.term(), small_first=True)
            if r != z3.sat:
                return
            found = _values(model, ex)
        else:
            return
        cell.witness = {"case": case_json(case), "param": param, "values": found}

    def refute(self, rid: str, case: Case, param: object, values: dict[str, int], ex: Explorer,
               held: SymBool | None) -> None:
        """A path where the relation fails: the smallest such values, replayed (R-PROVE-4, -5)."""
        cell = self.cells[rid]
        for bound in _prover.BOUNDS:  # R-PROVE-5: smallest numbers first
            bounded = list(ex.solver.assertions()) + [z3.And(c >= -bound, c <= bound) for c in ex.variables.values()]
            r, model, _ = solve(bounded + ([z3.Not(held.term())] if held is not None else []), _prover.SMALLEST_RLIMIT)
            if r == z3.sat:  # R-PROVE-11: budgets in solver work
                values = _values(model, ex)
                break
        state, op = concrete(self.mech, case, values)
        fails, why = replay(self.mech, rid, state, op, param)
        if fails and cell.counterexample is None:
            cell.counterexample = scenario(self.mech, rid, state, op, param, f"{case.label()}, parameter {param}")
            cell.parameter = param
        elif not fails:
            cell.mismatch = cell.mismatch or f"{case.label()} {param}: {why}"

    def crash(self, rid: str, case: Case, param: object, path: Path) -> None:
        """A run raised something other than a typed refusal: undecided here (I-VALID's prover
        judges the model's crashes on one run)."""
        self.cells[rid].undecided = self.cells[rid].undecided or (
            f"{case.label()} {param}: the symbolic run raised {type(path.error).__name__}: {path.error}")


def case_json(case: Case) -> dict[str, Any]:
    """A case as plain JSON."""
    return {"op": case.op, "accounts": case.accounts, "markets": case.markets, "held": list(case.held),
            "counterparty": case.counterparty, "seed": case.seed, "fills": case.fills}


def case_of(d: dict[str, Any]) -> Case:
    """The inverse of case_json."""
    return Case(**{**d, "held": tuple(d["held"])})


def _values(model: Any, ex: Explorer) -> dict[str, int]:
    return {n: model.eval(c, model_completion=True).as_long() for n, c in ex.variables.items()}


def prove_relations(mech: Mechanism, relations: list[str], sizes: Sizes, timeout_s: float = 600.0,
                    max_paths: int = 50_000, progress: Any = None, samples: int = SAMPLES,
                    rlimit: int = DEFAULT_RLIMIT) -> dict[str, RelCell]:
    """Every relation on every liquidation case of up to sizes.accounts accounts and
    sizes.markets markets (smallest first), each parameter its own exploration, after the
    small-scope search over the same cases; a relation stops at its first counterexample.
    One time limit for all; `rlimit` bounds each query's solver work (R-PROVE-11)."""
    prover = RelProver(mech, relations, time.perf_counter() + timeout_s, max_paths, rlimit)
    for rid in relations:
        cell = prover.cells[rid]
        for k, m in sizes.pairs() if samples else []:
            for case in cases(mech, OPERATION, k, m):
                for param in candidates(rid, mech, case):
                    prover.sample(rid, case, param, samples)
        for k, m in sizes.pairs():
            for case in cases(mech, OPERATION, k, m):
                for param in candidates(rid, mech, case):
                    if cell.counterexample is not None or cell.timed_out:
                        break
                    prover.run(rid, case, param)
                    if progress is not None:
                        progress(mech, rid, case, param, cell)
    return prover.cells


# ---- sanity gates --------------------------------------------------------------------------

def fires(mech: Mechanism, rid: str, witness: dict[str, Any]) -> bool:
    """The witness replayed on Python integers: R-VERIFY-3 checks the parameter there, the
    relation compares (both runs apply) and holds, and its trigger fires."""
    state, op = concrete(mech, case_of(witness["case"]), witness["values"])
    param = witness["param"]
    try:
        validate_state(state)
    except WaterfallError:
        return False
    if param not in relation_params(state, op)[rid]:
        return False
    return RELATIONS[rid].holds(state, op, mech, param) is True and bool(RELATIONS[rid].trigger(state, op, mech, param))


@contextmanager
def havoc_runs(results: list[State | None], a: dict[str, int]) -> Iterator[None]:
    """While on, the spec's `_run` returns, call by call, the structure of `results` with
    every number an unknown (a refused run stays refused)."""
    havoc_state = _prover.havoc_state
    real, calls = spec_invariants._run, iter(range(len(results)))

    def fake(state: State, ops: Any, mech: Mechanism) -> State | None:
        n = next(calls)
        return None if results[n] is None else havoc_state(results[n], a, f"r{n}_")  # type: ignore[arg-type]
    spec_invariants._run = fake  # type: ignore[assignment]
    try:
        yield
    finally:
        spec_invariants._run = real  # type: ignore[assignment]


def tautology(mech: Mechanism, rid: str, witness: dict[str, Any], rlimit: int = DEFAULT_RLIMIT) -> bool:
    """Certora-style sanity on the witness: does the relation hold whatever numbers its two
    runs return (each run's resulting state replaced by unknowns)?"""
    state, op = concrete(mech, case_of(witness["case"]), witness["values"])
    param = witness["param"]
    results: list[State | None] = []
    real = spec_invariants._run

    def record(s: State, ops: Any, m: Mechanism) -> State | None:
        results.append(real(s, ops, m))
        return results[-1]
    spec_invariants._run = record  # type: ignore[assignment]
    try:
        RELATIONS[rid].holds(state, op, mech, param)
    finally:
        spec_invariants._run = real  # type: ignore[assignment]
    def fn(a: dict[str, int]) -> Any:
        with havoc_runs(results, a):
            return RELATIONS[rid].holds(state, op, mech, param)

    return _prover.always_holds(fn, 500, rlimit)


def verdict(mech: Mechanism, rid: str, sizes: Sizes, cell: RelCell | None) -> Verdict:
    """The relation's verdict from its evidence, in the prover's order: COUNTEREXAMPLE,
    ENCODING MISMATCH, TIMEOUT, UNKNOWN, UNREACHED, (witness replay), TRIVIAL, PROVED N<=k."""
    rel = RELATIONS[rid]
    base = Verdict(mech.id, rid, V.NOT_APPLICABLE, sizes.accounts, markets=sizes.markets,
                   claimed=rid in mech.claims, trigger=rel.trigger_text)
    if cell is None:
        base.reason = ("not proved in this run: a relation is proved on liquidations, where the mechanism claims "
                       "it or when asked by name (--invariant); the fuzzer checks it at every liquidation")
        return base
    base.stats = {"paths": cell.paths, "cases": cell.cases, "explored": cell.explored, "not_comparable": cell.skipped}
    base.seconds = round(cell.seconds, 3)
    if cell.counterexample is not None:
        base.kind, base.counterexample = V.COUNTEREXAMPLE, cell.counterexample
        base.stats["parameter"] = cell.parameter
        where = cell.counterexample["description"].split("; ")[-1]
        base.reason = where if "small-scope search" in where else f"self-composition: {where}"
    elif cell.mismatch:
        base.kind, base.reason = V.ENCODING_MISMATCH, cell.mismatch
    elif cell.timed_out:
        base.kind, base.reason = V.TIMEOUT, f"the time limit ran out before every path was explored ({cell.undecided})"
    elif cell.undecided:
        base.kind, base.reason = V.UNKNOWN, cell.undecided
    elif cell.witness is None:
        base.kind, base.reason = V.UNREACHED, f"no path fires the trigger ({rel.trigger_text})"
    else:
        w = cell.witness
        state, op = concrete(mech, case_of(w["case"]), w["values"])
        label = case_of(w["case"]).label()
        base.witness = {"case": label, "parameter": w["param"], "state": state_to_json(state), "op": op_to_json(op)}
        if not fires(mech, rid, w):
            base.kind, base.reason = V.ENCODING_MISMATCH, f"{label}: the witness does not fire the trigger in the model"
        elif tautology(mech, rid, w):
            base.kind, base.reason = V.TRIVIAL, "holds whatever numbers the two runs return (tautology)"
        else:
            base.kind = V.PROVED_UP_TO
            base.reason = (f"self-composition, every path of {cell.cases} case x parameter explorations "
                           f"({cell.explored} paths); witness: {label}, parameter {w['param']}")
    return base
