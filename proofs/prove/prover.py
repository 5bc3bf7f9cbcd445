"""`waterfall prove`'s engine: the registry's invariants proved on `model.step` itself
(R-PROVE-1..9).

For one mechanism, every case of every operation kind (proofs/prove/harness.py) is run through
the model's own code over unknowns (proofs/prove/symexec.py): the harness builds a state and an
operation of unknowns, `validate_state` (R-STATE-5) keeps the valid ones, `model.step`
applies the operation, and every invariant's predicate and trigger (spec/invariants.py) are
evaluated on the result. Each feasible path is then checked by Z3 under its own path
condition: the negated predicate unsatisfiable is that path proved; satisfiable gives a
concrete state and operation, which are replayed through `model.step` and the predicate on
Python integers (COUNTEREXAMPLE only if the invariant fails there too, else ENCODING
MISMATCH). The verdict of a cell (mechanism, invariant) is, in this order:

COUNTEREXAMPLE / ENCODING MISMATCH  a path refutes it (the smallest venue first);
TIMEOUT / UNKNOWN                   some path or branch was not decided, or the budget ran out;
VACUOUS                             a case had no path on which its operation applies;
UNREACHED                           no path fires the invariant's trigger (nothing exercised it);
TRIVIAL                             it holds whatever numbers the step produces (tautology);
PROVED N<=k                         every path of every case, every venue of up to k accounts
                                    and m markets, with a witness path that fires the trigger
                                    (replayed through the model).
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import z3

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.events import Event
from waterfall.model.mechanism import Adl, Haircut, Mechanism
from waterfall.model.ops import Op
from waterfall.model.state import Account, Market, Position, State, validate_state
from waterfall.model.step import step
from waterfall.spec.invariants import REGISTRY, RELATIONS, WITNESS_GATES

from waterfall.proofs import verdict as V
from waterfall.proofs.prove import relational
from waterfall.proofs.prove.harness import OPERATIONS, Case, Sizes, build, cases, small_values
from waterfall.model.tx import Tx
from waterfall.model.units import check_balance, check_input

from waterfall.proofs.prove.symexec import (DEFAULT_RLIMIT, GUARDS, Explorer, OutOfMemory, Path, Sym, SymBool,
                                            Unsupported, and_sym, fresh_context, guard_sites, memory_exceeded,
                                            out_of_memory, recorded, skip_refusals, solve, variable)
from waterfall.proofs.verdict import Verdict

# the model's refusal guards (R-UNIT-3 bounds, R-STATE-5): their raising branch is not explored
GUARDS |= guard_sites(check_input, check_balance, validate_state, marked=(Tx.collect, Tx._move))

NEEDS = {"I-PROP": Haircut, "I-BOUND": Haircut, "I-ADL-BOUND": Adl, "I-ADL-RANK": Adl}
BOUNDS = (10, 100, 10**4, 10**6, 10**9, 10**18)  # R-PROVE-5: smallest numbers first
SAMPLES = 600  # the small-scope search before each case's exploration: random small venues (R-PROVE-5)


def not_applicable(mech: Mechanism, invariant: str) -> str:
    """Why an invariant does not apply to a mechanism ('' when it does)."""
    if invariant in NEEDS and not isinstance(mech.final, NEEDS[invariant]):
        return f"applies only to {NEEDS[invariant].__name__} mechanisms"
    if invariant == "I-ORDER" and not mech.layers:
        return "the mechanism has no layers to order"
    return REGISTRY[invariant].applies(mech) if invariant in REGISTRY else ""


class Invalid:
    """A run whose pre-state is not valid (R-STATE-5): not a state, nothing to prove."""


INVALID = Invalid()


@dataclass
class Outcome:
    """What one applied path gives every invariant: its predicate and its trigger."""

    goals: dict[str, Any]
    triggers: dict[str, Any]


@dataclass
class Cell:
    """The evidence gathered for one invariant over every case."""

    invariant: str
    paths: int = 0  # applied paths on which the predicate was decided
    counterexample: dict[str, Any] | None = None
    mismatch: str = ""
    undecided: str = ""
    witness: tuple[Case, dict[str, int]] | None = None
    trigger_undecided: str = ""  # Z3 could not say whether the trigger fires on some path
    note: str = ""
    others: list[tuple[Case, dict[str, int]]] = field(default_factory=list)  # more witness paths (TRIVIAL)


@dataclass
class CaseStats:
    """How one case's exploration went."""

    label: str
    paths: int = 0
    applied: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    invalid: int = 0
    complete: bool = True
    reason: str = ""
    seconds: float = 0.0
    solver_calls: int = 0
    memory: bool = False  # R-PROVE-14: ended by the memory budget


def scenario(mech: Mechanism, invariant: str, state: State, op: Op, note: str) -> dict[str, Any]:
    """A counterexample as a scenario document (spec/scenario.md)."""
    return {"format": "waterfall-scenario", "version": 1, "name": f"{mech.id}-{invariant}",
            "description": f"counterexample to {invariant} found by waterfall prove on model.step; {note}",
            "mechanism": mech.id, "state": state_to_json(state), "ops": [op_to_json(op)]}


def concrete(mech: Mechanism, case: Case, values: dict[str, int]) -> tuple[State, Op]:
    """The case's state and operation with the solver's values (0 for any it left free)."""
    return build(mech, case, lambda name: values.get(name, 0))


def replay(mech: Mechanism, invariant: str, state: State, op: Op) -> tuple[bool, str]:
    """R-PROVE-4: run the reference model on a counterexample: (fails there too, note)."""
    try:
        validate_state(state)
    except WaterfallError as e:
        return False, f"the counterexample's state is not valid: [{e.code}] {e}"
    try:
        post, events = step(state, op, mech)
    except WaterfallError as e:
        return False, f"the model refuses the counterexample: [{e.code}] {e}"
    except Exception as e:  # noqa: BLE001  (a crash of the model is itself the violation of I-VALID)
        if out_of_memory(e):  # R-PROVE-14: the budget ran out, the model did not crash
            raise
        return invariant == "I-VALID", f"model.step raised {type(e).__name__}: {e}"
    if holds(invariant, state, op, post, events, mech):
        return False, "the model satisfies the invariant on the counterexample"
    return True, ""


def holds(inv: str, *args: Any) -> Any:
    """The registry's predicate on a step; a predicate that cannot even read the step (it
    raises, e.g. an ADL fill of an account it does not rank) counts as violated."""
    try:
        return REGISTRY[inv].holds(*args)
    except (Unsupported, WaterfallError):
        raise
    except Exception as e:  # noqa: BLE001
        if out_of_memory(e):  # R-PROVE-14: never a violation
            raise
        return False


def exercised(inv: str, *args: Any) -> Any:
    """R-PROVE-3: the invariant's trigger fires and its witness gate holds (spec/invariants.py,
    WITNESS_GATES: the claim is exercised in full, e.g. two holders ranked)."""
    trig = REGISTRY[inv].trigger(*args)
    gate = WITNESS_GATES.get(inv)
    return trig if gate is None else and_sym([trig, gate.holds(*args)])


def fires(mech: Mechanism, invariant: str, state: State, op: Op) -> bool:
    """A witness replayed: the model applies the operation, the trigger fires, the gate holds."""
    try:
        post, events = step(state, op, mech)
    except WaterfallError:
        return False
    return bool(exercised(invariant, state, op, post, events, mech))


def _recorded_hold(conds: list[Any], model: Any) -> bool:
    """Whether a model that falsifies a recorded goal keeps the predicate's recorded
    decisions: then the predicate itself fails there; else it took another branch."""
    if not conds:
        return True
    return z3.is_true(model.eval(z3.And([c.term() for c in conds]), model_completion=True))


def values_of(model: Any, explorer: Explorer) -> dict[str, int]:
    """A Z3 model as the harness's values."""
    return {n: model.eval(c, model_completion=True).as_long() for n, c in explorer.variables.items()}


class Prover:
    """Every case of a mechanism's operations, every invariant, one exploration per case."""

    def __init__(self, mech: Mechanism, invariants: list[str], deadline: float, max_paths: int,
                 rlimit: int = DEFAULT_RLIMIT, stop_when_refuted: set[str] | None = None) -> None:
        self.mech, self.deadline, self.max_paths = mech, deadline, max_paths
        self.stop_when = set(stop_when_refuted or ()) & set(invariants)
        self.rlimit = rlimit  # R-PROVE-11: the solver work one query may take
        self.cells = {i: Cell(i) for i in invariants}
        self.cases: list[CaseStats] = []

        self.vacuous: list[str] = []

    # -- one case --------------------------------------------------------------------------
    def run_case(self, case: Case, forking: frozenset[str] = frozenset()) -> CaseStats:
        """Explore every path of one case and check every live invariant on each. The
        predicates are evaluated along the run's values with their decisions recorded
        (symexec.recorded): one query per path proves 'decisions and predicate'. An
        invariant whose predicate can branch on a path is then explored again with its
        predicate forking (`forking`: only those invariants)."""
        if not forking:  # R-PROVE-13: each case in a fresh Z3 context, reproducible in any process
            fresh_context()
        stats = CaseStats(case.label() + (f" (forking {', '.join(sorted(forking))})" if forking else ""))
        mech = self.mech
        branching: set[str] = set()

        def fn(a: dict[str, int]) -> Any:
            state, op = build(mech, case, lambda name: variable(name, a))
            skip_refusals(True)
            try:
                validate_state(state)
            except WaterfallError:
                return INVALID
            post, events = step(state, op, mech)
            skip_refusals(False)
            live = [i for i, c in self.cells.items() if c.counterexample is None and (not forking or i in forking)]
            goals, triggers = {}, {}
            for i in live:
                goals[i] = self.evaluate(i in forking, lambda *a, i=i: holds(i, *a), state, op, post, events)
                triggers[i] = self.evaluate(i in forking, lambda *a, i=i: exercised(i, *a), state, op, post, events)
            return Outcome(goals, triggers)

        def on_path(path: Path, ex: Explorer) -> bool:
            if path.result is INVALID:
                stats.invalid += 1
            elif isinstance(path.error, WaterfallError):
                stats.refused[path.error.code] = stats.refused.get(path.error.code, 0) + 1
            elif isinstance(path.error, Unsupported):
                stats.complete, stats.reason = False, f"unsupported: {path.error}"
            elif path.error is not None:
                self.crash(case, path, ex)
            else:
                stats.applied += 1
                branching.update(self.check_path(case, path.result, path.assignment, ex))
            return self.done()

        ex = Explorer(self.max_paths, self.deadline, self.rlimit)
        out = ex.explore(fn, on_path)
        stats.paths, stats.seconds, stats.solver_calls = out.paths, out.seconds, out.solver_calls
        if not out.complete:
            stats.complete, stats.reason = False, out.reason or stats.reason
        if out.memory:  # R-PROVE-14: the budget's reason first, no second (forking) run
            stats.reason, stats.memory = out.reason, True
            self.cases.append(stats)
            return stats
        if stats.complete and stats.applied == 0 and not forking:
            self.vacuous.append(stats.label)
        self.cases.append(stats)
        again = frozenset(i for i in branching if self.cells[i].counterexample is None) - forking
        if again and stats.complete:
            stats.memory = self.run_case(case, again).memory  # R-PROVE-14: the task stops there too
        return stats

    def sample(self, case: Case, n: int) -> int:
        """R-PROVE-5's small-scope search: `n` venues of the case with small random numbers
        (seeded by the case, so reproducible) run through model.step on Python integers; a
        violated predicate is a counterexample like any other (it proves nothing). Returns
        the number of samples the model applied."""
        rng = random.Random(case.label())
        applied = 0
        for _ in range(n):
            if self.done() or all(c.counterexample is not None for c in self.cells.values()):
                break
            values = small_values(self.mech, case, rng)
            state, op = concrete(self.mech, case, values)
            try:
                validate_state(state)
                post, events = step(state, op, self.mech)
            except WaterfallError:
                continue
            except Exception as e:  # noqa: BLE001  (a crash of the model on a valid state violates I-VALID)
                if out_of_memory(e):  # R-PROVE-14
                    raise
                self.keep(case, "I-VALID", state, op, "{case}: {note}", "{case}: small-scope search: {note}")
                continue
            applied += 1
            for inv, cell in self.cells.items():
                if cell.counterexample is None and not holds(inv, state, op, post, events, self.mech):
                    self.keep(case, inv, state, op, "{case} (small-scope search)", "{case}: small-scope search")
        return applied

    def keep(self, case: Case, inv: str, state: State, op: Op, description: str, note: str) -> str | None:
        """R-PROVE-4: replay (state, op) through the model; if `inv` fails there too, it is the
        cell's counterexample (the first one kept) and None is returned, else the replay's
        reason. `description` and `note` are formats over {case} (the case's label) and
        {note} (the replay's note)."""
        fails, why = replay(self.mech, inv, state, op)
        cell = self.cells.get(inv)
        if fails and cell is not None and cell.counterexample is None:
            cell.counterexample = scenario(self.mech, inv, state, op, description.format(case=case.label(), note=why))
            cell.note = note.format(case=case.label(), note=why)
        return None if fails else why

    def done(self) -> bool:
        """With stop_when_refuted (mutation runs): every target has a counterexample."""
        return bool(self.stop_when) and any(self.cells[i].counterexample is not None for i in self.stop_when)

    def evaluate(self, fork: bool, predicate: Any, *args: Any) -> tuple[Any, list[Any]]:
        """A predicate or trigger on the run: forking, or along the run's values with its
        decisions recorded: (the conjunction of those decisions and the result, decisions)."""
        if fork:
            return predicate(*args, self.mech), []
        value, conds = recorded(lambda: predicate(*args, self.mech))
        return (and_sym(conds + [value]) if conds else value), conds

    def crash(self, case: Case, path: Path, ex: Explorer) -> None:
        """A path on which model.step raised something other than a typed refusal: a
        violation of I-VALID if the concrete replay raises too, else unsupported."""
        state, op = concrete(self.mech, case, path.assignment)
        if self.keep(case, "I-VALID", state, op, "{note}", "{case}: {note}") is not None:
            for c in self.cells.values():
                c.undecided = c.undecided or (f"{case.label()}: the symbolic run raised "
                                              f"{type(path.error).__name__}: {path.error}; the concrete replay did not")

    def check_path(self, case: Case, out: Outcome, assignment: dict[str, int], ex: Explorer) -> set[str]:
        """Every live invariant on one applied path: proved, refuted (replayed) or undecided;
        its trigger, for a witness. Returns the invariants whose recorded predicate can take
        another branch on this path (to explore again, forking). All goals are first asked
        together of the incremental solver alone (R-PROVE-17): when that does not settle them,
        each goal is its own query, with the whole ladder (a conjunction of every invariant
        holds too many if-then-else conditions for the preamble to cofactor, where one goal
        usually does not)."""
        todo, branching = [], set()
        for inv, (goal, conds) in out.goals.items():
            cell = self.cells[inv]
            if cell.counterexample is not None:
                continue
            if not isinstance(goal, Sym):
                if goal:
                    cell.paths += 1
                else:
                    self.refute(case, inv, assignment, ex, None)
            elif not goal.v:  # the run's own values violate it (recorded decisions hold on them)
                self.refute(case, inv, assignment, ex, goal, conds)
            else:
                todo.append((inv, goal, conds))
        if todo and ex.check(z3.Not(z3.And([g.term() for _, g, _ in todo])), quick=True)[0] == z3.unsat:
            for inv, _, _ in todo:
                self.cells[inv].paths += 1
        else:
            for inv, goal, conds in todo:
                r, model, why = ex.check(z3.Not(goal.term()))
                if r == z3.unsat:
                    self.cells[inv].paths += 1
                elif r == z3.sat and not _recorded_hold(conds, model):
                    branching.add(inv)  # another branch of the predicate: explored forking
                elif r == z3.sat:
                    self.refute(case, inv, values_of(model, ex), ex, goal, conds)
                else:
                    self.cells[inv].undecided = f"{case.label()}: Z3 {why} on a path"
        for inv, (trig, _) in out.triggers.items():
            cell = self.cells.get(inv)
            if cell is None or trig is False:
                continue
            if cell.witness is not None:  # more witness paths, for TRIVIAL over them all (R-PROVE-3)
                if len(cell.others) < MAX_WITNESSES - 1 and (trig is True or (isinstance(trig, SymBool) and trig.v)):
                    cell.others.append((case, dict(assignment)))
                continue
            if trig is True or (isinstance(trig, SymBool) and trig.v):
                cell.witness = (case, dict(assignment))
            elif isinstance(trig, SymBool):
                r, model, why = ex.check(trig.term(), small_first=True)
                if r == z3.sat:
                    cell.witness = (case, values_of(model, ex))
                elif r == z3.unknown:
                    cell.trigger_undecided = f"{case.label()}: Z3 {why} on whether the trigger fires"
        return branching

    def refute(self, case: Case, inv: str, values: dict[str, int], ex: Explorer, goal: SymBool | None,
               conds: list[Any] = ()) -> None:  # type: ignore[assignment]
        """A satisfying assignment of the negated predicate on a path (keeping its recorded
        decisions): minimised, then replayed through the model (R-PROVE-4, -5)."""
        values = self.smallest(ex, goal, conds) or values
        state, op = concrete(self.mech, case, values)
        why = self.keep(case, inv, state, op, "{case}", "{case}")
        if why is not None:
            self.cells[inv].mismatch = f"{case.label()}: {why}"

    def smallest(self, ex: Explorer, goal: SymBool | None, conds: Any = ()) -> dict[str, int] | None:
        """R-PROVE-5: the path's counterexample with every number within the smallest bound."""
        negated = z3.And([c.term() for c in conds] + [z3.Not(goal.term()) if goal is not None else z3.BoolVal(True)])
        for bound in BOUNDS:
            bounded = [z3.And(c >= -bound, c <= bound) for c in ex.variables.values()]
            r, model, _ = solve(list(ex.solver.assertions()) + bounded + [negated], SMALLEST_RLIMIT)
            if r == z3.sat:
                return values_of(model, ex)
        return None

SMALLEST_RLIMIT = 2_000_000
"""R-PROVE-11: the solver work spent on each bound when minimising a counterexample (R-PROVE-5)."""

MAX_WITNESSES = 8
"""R-PROVE-3: witness paths kept per invariant; TRIVIAL only if the tautology check holds on all."""


def tautology(mech: Mechanism, inv: str, witness: tuple[Case, dict[str, int]], rlimit: int = DEFAULT_RLIMIT) -> bool:
    """Certora-style sanity (rule_sanity's tautology check): on the witness path's
    structure, does the predicate hold whatever numbers the states and events carry
    (pre-state, post-state and event amounts all replaced by unknowns)?"""
    case, values = witness
    state, op = concrete(mech, case, values)
    post, events = step(state, op, mech)
    return always_holds(lambda a: holds(inv, havoc_state(state, a, "hp_"), op, havoc_state(post, a, "h_"),
                                        havoc_events(events, a), mech), 200, rlimit)


def always_holds(fn: Any, max_paths: int, rlimit: int) -> bool:
    """R-PROVE-3's tautology check: no path of `fn` (a predicate over havocked numbers) can
    come out false, explored in a fresh Z3 context (R-PROVE-11)."""
    can_fail: list[bool] = []

    def on_path(path: Path, ex: Explorer) -> bool:
        g = path.result
        if path.error is None and (g is False or (isinstance(g, SymBool) and (
                not g.v or ex.check(z3.Not(g.term()))[0] == z3.sat))):
            can_fail.append(True)
            return True
        return False

    fresh_context()
    Explorer(max_paths, None, rlimit).explore(fn, on_path)
    return not can_fail


def havoc_state(post: State, a: dict[str, int], prefix: str) -> State:
    """A state's structure with every number an unknown (named prefix...), time records too."""
    def v(name: str) -> Any:
        return variable(prefix + name, a)

    def each(name: str, values: Any) -> dict[str, Any]:
        return {k: (tuple(v(f"{name}_{k}_{j}") for j in range(len(x))) if isinstance(x, tuple) else v(f"{name}_{k}"))
                for k, x in values.items()}
    return State({m: Market(m, v(f"mark_{m}"), v(f"im_{m}"), v(f"mm_{m}"), v(f"pm_{m}")) for m in post.markets},
                 {i: Account(v(f"c_{i}"), v(f"d_{i}"), {m: Position(v(f"s_{i}_{m}"), v(f"o_{i}_{m}"))
                                                       for m in acc.positions})
                  for i, acc in post.accounts.items()},
                 each("L", post.layers), each("df", post.default_fund), v("bad_debt"), v("clock"),
                 each("h", post.history), each("lp", post.layer_paid), each("wb", post.window_base),
                 each("def", post.deferred), each("pa", post.partial_at), each("as", post.assessable))


def havoc_events(events: Iterable[Event], a: dict[str, int]) -> list[Event]:
    """The events with every amount, size and price an unknown."""
    return [e._replace(amount=variable(f"h_e{k}_amount", a), size=variable(f"h_e{k}_size", a),
                       price=variable(f"h_e{k}_price", a)) for k, e in enumerate(events)]


@dataclass
class Evidence:
    """What the exploration of some operations of one mechanism found, per invariant: the
    unit a worker process returns and the parent merges (R-PROVE-7)."""

    mechanism: str
    cells: dict[str, Cell]
    cases: list[CaseStats]
    vacuous: list[str]
    timed_out: bool = False
    relations: dict[str, Any] = field(default_factory=dict)  # R-PROVE-12: relation -> RelCell as JSON

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able form (a witness keeps its case as a dict)."""
        def cell(c: Cell) -> dict[str, Any]:
            d = asdict(c)
            d["witness"] = None if c.witness is None else [asdict(c.witness[0]), c.witness[1]]
            d["others"] = [[asdict(w[0]), w[1]] for w in c.others]
            return d
        return {"mechanism": self.mechanism, "cells": {i: cell(c) for i, c in self.cells.items()},
                "cases": [asdict(c) for c in self.cases], "vacuous": self.vacuous, "timed_out": self.timed_out,
                "relations": self.relations}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Evidence":
        """The inverse of to_json."""
        def case(w: list[Any]) -> tuple[Case, dict[str, int]]:
            return Case(**{**w[0], "held": tuple(w[0]["held"])}), w[1]
        cells = {}
        for i, c in d["cells"].items():
            w, others = c.pop("witness"), c.pop("others", [])
            cells[i] = Cell(**c, witness=None if w is None else case(w), others=[case(o) for o in others])
        return Evidence(d["mechanism"], cells, [CaseStats(**c) for c in d["cases"]], d["vacuous"], d["timed_out"],
                        d.get("relations", {}))

    def merge(self, other: "Evidence") -> "Evidence":
        """Both explorations together: the first counterexample, mismatch, undecided reason
        and witness of each invariant, paths added up."""
        for i, c in other.cells.items():
            mine = self.cells.setdefault(i, Cell(i))
            mine.paths += c.paths
            for name in ("counterexample", "mismatch", "undecided", "witness", "trigger_undecided", "note"):
                if not getattr(mine, name) and getattr(c, name):
                    setattr(mine, name, getattr(c, name))
            extra = ([c.witness] if c.witness is not None and mine.witness is not c.witness else []) + c.others
            mine.others = (mine.others + extra)[:MAX_WITNESSES - 1]
        self.cases += other.cases
        self.vacuous += other.vacuous
        self.timed_out = self.timed_out or other.timed_out
        self.relations.update(other.relations)
        return self


def run_case_in_budget(prover: Prover, case: Case) -> CaseStats:
    """R-PROVE-14: one case explored; the memory budget running out before or during it ends the
    case UNKNOWN with the budget's reason (recorded like any case), never a finding."""
    try:
        return prover.run_case(case)
    except Exception as e:  # noqa: BLE001  (only the memory budget: anything else is re-raised)
        if not out_of_memory(e):
            raise
        st = stopped_by_memory(case.label())
        prover.cases.append(st)
        return st


def stopped_by_memory(label: str) -> CaseStats:
    """R-PROVE-14: the record of a case (or search) the memory budget ended: UNKNOWN, never PROVED."""
    return CaseStats(label, complete=False, reason=memory_exceeded(), memory=True)


def small_scope_search(prover: Prover, mech: Mechanism, sizes: Sizes, op: str, samples: int) -> None:
    """R-PROVE-5: the small-scope search over every case of `op` on venues up to sizes' search pairs."""
    for k, m in sizes.search_pairs() if samples else []:
        for case in cases(mech, op, k, m):
            if not prover.done():
                prover.sample(case, samples)


def relations_in_budget(mech: Mechanism, rels: list[str], sizes: Sizes, op: str, timeout_s: float, max_paths: int,
                        rlimit: int, stopped: bool = False) -> dict[str, Any]:
    """R-PROVE-12 under R-PROVE-14: the relations' cells as JSON; when the budget ran out before
    (`stopped`) or runs out in them, each relation UNKNOWN with the budget's reason."""
    try:
        if stopped:  # no more Z3 work once the budget ran out
            raise OutOfMemory(memory_exceeded())
        cells = relational.prove_relations(mech, rels, sizes, timeout_s, max_paths, rlimit=rlimit)
    except Exception as e:  # noqa: BLE001  (only the memory budget: anything else is re-raised)
        if not out_of_memory(e):
            raise
        cells = {i: relational.RelCell(undecided=f"{op}: {memory_exceeded()}") for i in rels}
    return {i: asdict(c) for i, c in cells.items()}


def prove_operation(mech: Mechanism, invariants: list[str], sizes: Sizes, op: str, timeout_s: float = 600.0,
                    max_paths: int = 50_000, progress: Any = None,
                    stop_when_refuted: set[str] | None = None, samples: int = SAMPLES,
                    rlimit: int = DEFAULT_RLIMIT, relations: str = "claimed") -> Evidence:
    """Every case of one operation kind on every venue of up to sizes.accounts accounts and
    sizes.markets markets (smallest first, so a counterexample is found on the smallest).
    `stop_when_refuted` (mutation runs): stop as soon as one of these invariants is refuted.
    `rlimit` bounds each query's solver work (R-PROVE-11); `timeout_s` is only an outer guard.
    `relations`: the relational invariants among `invariants` are proved on a liquidation
    where the mechanism claims them ("claimed") or all of them ("all"), R-PROVE-12."""
    t0 = time.perf_counter()
    live = [i for i in invariants if not not_applicable(mech, i) and i in REGISTRY]
    prover = Prover(mech, live, t0 + timeout_s, max_paths, rlimit, stop_when_refuted=stop_when_refuted)
    timed_out = False
    try:
        timed_out = _explore_operation(prover, mech, sizes, op, live, t0 + timeout_s, samples, progress)
    except Exception as e:  # noqa: BLE001  (only the memory budget: anything else is re-raised)
        if not out_of_memory(e):
            raise
        prover.cases.append(stopped_by_memory(f"{op}: small-scope search"))
    ev = Evidence(mech.id, prover.cells, prover.cases, prover.vacuous, timed_out)
    rels = [i for i in invariants if i in RELATIONS and (relations == "all" or i in mech.claims)]
    if op == relational.OPERATION and rels:  # R-PROVE-12, its own time limit
        ev.relations = relations_in_budget(mech, rels, sizes, op, timeout_s, max_paths, rlimit,
                                           stopped=any(c.memory for c in prover.cases))
    return ev


def _explore_operation(prover: Prover, mech: Mechanism, sizes: Sizes, op: str, live: list[str], deadline: float,
                       samples: int, progress: Any) -> bool:
    """The small-scope search then every case of `op`, smallest venues first, into `prover`;
    stops at the first case ended by the memory budget (R-PROVE-14). Returns whether the
    time limit ran out."""
    if live:  # small scope first: counterexamples among small numbers come cheap
        small_scope_search(prover, mech, sizes, op, samples)
    timed_out = False
    for k, m in sizes.pairs() if live else []:  # only relations asked: no step invariant to explore
        for case in cases(mech, op, k, m):
            if prover.done() or all(c.counterexample is not None for c in prover.cells.values()):
                break
            if time.perf_counter() > deadline:
                return True
            st = run_case_in_budget(prover, case)
            if progress is not None:
                progress(mech, st)
            if st.memory:
                return timed_out
            timed_out = timed_out or (not st.complete and "time limit" in st.reason)
    return timed_out


def prove_mechanism(mech: Mechanism, invariants: list[str], sizes: Sizes, ops: Iterable[str] = OPERATIONS,
                    timeout_s: float = 600.0, max_paths: int = 50_000, progress: Any = None,
                    stop_when_refuted: set[str] | None = None,
                    samples: int = SAMPLES, rlimit: int = DEFAULT_RLIMIT,
                    relations: str = "all") -> tuple[list[Verdict], list[CaseStats]]:
    """R-PROVE-2: one verdict per invariant for a mechanism, over every case of `ops`
    (each operation with its own time limit), in this process; the relations listed are
    proved whether claimed or not (R-PROVE-12)."""
    t0 = time.perf_counter()
    ev = Evidence(mech.id, {}, [], [])
    for op in ops:
        ev.merge(prove_operation(mech, invariants, sizes, op, timeout_s, max_paths, progress, stop_when_refuted, samples,
                                 rlimit=rlimit, relations=relations))
    out = verdicts(mech, invariants, sizes, ev)
    for v in out:
        v.seconds = round(time.perf_counter() - t0, 3)
    return out, ev.cases


def prove(mech: Mechanism, invariant: str, accounts: int = 3, markets: int = 1,
          operations: Iterable[str] = OPERATIONS, timeout_s: float = 600.0) -> Verdict:
    """One verdict: `invariant` on `mech` over every venue of up to `accounts` accounts and
    `markets` markets and every case of `operations` (the Python API of `waterfall prove`)."""
    (v,), _ = prove_mechanism(mech, [invariant], Sizes(accounts, markets), operations, timeout_s)
    return v


def verdicts(mech: Mechanism, invariants: list[str], sizes: Sizes, ev: Evidence) -> list[Verdict]:
    """One verdict per invariant from the merged evidence."""
    return [verdict(ev, mech, i, sizes) for i in invariants]


def verdict(ev: Evidence, mech: Mechanism, inv: str, sizes: Sizes) -> Verdict:
    """The cell's verdict from its evidence (the order of the module docstring)."""
    if inv in RELATIONS:  # R-PROVE-12
        return relational.verdict(mech, inv, sizes, relational.RelCell(**ev.relations[inv]) if inv in ev.relations else None)
    base = Verdict(mech.id, inv, V.NOT_APPLICABLE, sizes.accounts, markets=sizes.markets,
                   claimed=inv in mech.claims)
    why = not_applicable(mech, inv)
    if why:
        base.reason = why
        return base
    cell = ev.cells.get(inv, Cell(inv))
    incomplete = [c for c in ev.cases if not c.complete]
    gate = WITNESS_GATES.get(inv)
    base.trigger = REGISTRY[inv].trigger_text + (f", with {gate.text}" if gate else "")
    base.stats = {"paths": cell.paths, "cases": len(ev.cases), "explored": sum(c.paths for c in ev.cases),
                  "solver_calls": sum(c.solver_calls for c in ev.cases)}
    if cell.counterexample is not None:
        base.kind, base.counterexample, base.reason = V.COUNTEREXAMPLE, cell.counterexample, cell.note
    elif cell.mismatch:
        base.kind, base.reason = V.ENCODING_MISMATCH, cell.mismatch
    elif ev.timed_out:
        base.kind, base.reason = V.TIMEOUT, "the time limit ran out before every path was explored"
    elif incomplete or cell.undecided:
        base.kind = V.UNKNOWN
        memory = next((c for c in incomplete if c.memory), None)  # R-PROVE-14: named first
        base.reason = (f"{memory.label}: {memory.reason}" if memory is not None
                       else cell.undecided or f"{incomplete[0].label}: {incomplete[0].reason}")
    elif ev.vacuous:
        base.kind, base.reason = V.VACUOUS, f"no path applies the operation in: {', '.join(ev.vacuous)}"
    elif cell.witness is None and cell.trigger_undecided:
        base.kind, base.reason = V.UNKNOWN, f"no witness found: {cell.trigger_undecided}"
    elif cell.witness is None:
        base.kind, base.reason = V.UNREACHED, f"no path fires the trigger ({base.trigger})"
    else:
        case, values = cell.witness
        state, op = concrete(mech, case, values)
        base.witness = {"case": case.label(), "state": state_to_json(state), "op": op_to_json(op)}
        if not fires(mech, inv, state, op):
            base.kind, base.reason = V.ENCODING_MISMATCH, f"{case.label()}: the witness does not fire the trigger in the model"
        elif (telling := next((w for w in [cell.witness, *cell.others] if not tautology(mech, inv, w)), None)) is None:
            base.kind = V.TRIVIAL
            base.reason = (f"holds whatever numbers the states and events carry (tautology) on every witness path "
                           f"kept ({1 + len(cell.others)})")
        else:
            case, values = telling  # the witness on which the predicate could have failed
            state, op = concrete(mech, case, values)
            base.witness = {"case": case.label(), "state": state_to_json(state), "op": op_to_json(op)}
            base.kind = V.PROVED_UP_TO
            base.reason = f"every path of {len(ev.cases)} cases ({base.stats['explored']} paths); witness: {case.label()}"
    return base
