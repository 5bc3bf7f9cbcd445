"""Z3 proofs of the registry's invariants on the symbolic liquidation (R-PROVE-2..5).

For one (mechanism, invariant, N): build the symbolic step (proofs/symbolic.py), check
that the assumptions are satisfiable with a deficit to cover (vacuity check, with a
witness), then check the negated invariant. unsat -> PROVED for N <= k (an account with
nothing is inert, so N accounts cover every venue of fewer); sat -> the model is turned
into a scenario and replayed through the reference model, where the invariant must fail
too (else ENCODING MISMATCH), then minimised (fewest accounts, smallest numbers); unknown
-> UNKNOWN with Z3's reason, or TIMEOUT.
"""
from __future__ import annotations

import time
from typing import Any

import z3

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.mechanism import Adl, Haircut, Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.step import step
from waterfall.spec.invariants import DEFICIT_RULES, REGISTRY, RELATIONS, moved, prop_terms

from . import verdict as V
from .symbolic import (IM_PPM, MARKET, MM_PPM, OTHER, RANKED, Unsupported, accepted, adl_ranked_by_profit,
                       assumptions, inputs, liquidate, rank_assumptions, symbolic_venue)
from .verdict import Verdict

NEEDS = {"I-PROP": Haircut, "I-BOUND": Haircut, "I-ADL-BOUND": Adl, "I-ADL-RANK": Adl}
RANK_NOTE = ("the encoding fills in index order for every ranking (proofs/symbolic.py); only the "
             "'profit' score is encoded; this ranking is checked concretely (tests, fuzzer)")
STAT_KEYS = ("conflicts", "decisions", "propagations", "max memory", "rlimit count")


class Query:
    """The symbolic pre-state, operation, post-state and events of one liquidation."""

    def __init__(self, mech: Mechanism, n: int, encoding: str = "lemmas", invariant: str = "",
                 long: bool | None = None) -> None:
        self.mech, self.n, self.long = mech, n, long
        self.w0 = symbolic_venue(mech, n, encoding, proportional=invariant == "I-PROP", long=long)
        self.ctx = self.w0.ctx
        self.fill = z3.Int("fill", self.ctx)
        self.op, self.w = liquidate(self.w0, mech, self.fill)
        self.pre, self.post, self.events = self.w0.state(), self.w.state(), self.w.events
        self.assumed = assumptions(self.w0, self.fill) + self.w.defs + accepted(self.w)
        if invariant == "I-ADL-RANK":
            self.assumed += rank_assumptions(self.w0)
        self.deficit = z3.Or([e.amount > 0 for e in self.events if e.rule in DEFICIT_RULES] or [z3.BoolVal(False, self.ctx)])

    def goal(self, invariant: str) -> Any:
        """The registry's predicate on the symbolic step (a Z3 term or a Python bool).
        I-PROP under the lemma encoding is split (R-PROVE-6): its quantities (paid, base,
        target, spec.invariants.prop_terms) must be the allocation's (share, weight, R), and
        the allocation is within one unit of pro rata by P-PROP-* (proofs/alln.py, all N);
        together they are the predicate, with no product left for Z3."""
        if invariant == "I-PROP" and self.w.encoding == "lemmas" and self.w.allocation is not None:
            target, weights, shares = self.w.allocation
            paid, base, r = prop_terms(self.pre, self.op, self.post, self.events, self.mech.final)
            ids = self.w.ids[1:]
            same = z3.And([r == target] + [paid.get(i, 0) == x for i, x in zip(ids, shares)]
                          + [base[i] == wt for i, wt in zip(ids, weights)])
            return z3.Implies(moved(self.events, {"R-HC-2"}), same)
        if invariant == "I-ADL-RANK":
            return adl_ranked_by_profit(self.w0, self.w)
        return REGISTRY[invariant].holds(self.pre, self.op, self.post, self.events, self.mech)

    def concrete(self, model: z3.ModelRef) -> tuple[State, Liquidate]:
        """The pre-state and operation a Z3 model describes, as model values."""
        val = lambda t: t if isinstance(t, int) else model.eval(t, model_completion=True).as_long()  # noqa: E731
        w = self.w0
        accounts = {}
        for i, a in enumerate(w.ids):
            held = {MARKET: Position(val(w.s[i]), val(w.o[i]))}
            if w.mark1 is not None:
                held[OTHER] = Position(val(w.s1[i]), val(w.o1[i]))
            accounts[a] = Account(val(w.c[i]), val(w.d[i]), {m: p for m, p in held.items() if p != (0, 0)})
        markets = {MARKET: Market(MARKET, val(w.mark), IM_PPM, MM_PPM)}
        if w.mark1 is not None:
            markets[OTHER] = Market(OTHER, val(w.mark1), IM_PPM, MM_PPM)
        state = State(markets, accounts,
                      {k: val(v) for k, v in w.layers.items()}, {k: val(v) for k, v in w.fund.items()},
                      val(w.bad_debt))
        fills = {m: val(p) for m, p in self.op.fill_prices.items()}
        return state, Liquidate(self.op.account, self.op.counterparty, fills, self.op.seed)


def solver(timeout_s: float, proof: bool = True, ctx: Any = None) -> z3.Solver:
    """A fresh, non-incremental solver with a time limit (ms). Proofs (unsat expected):
    simplification, constant propagation and equation solving first (the step is mostly
    definitions), then SMT. Witnesses (sat expected): Z3's default solver, which finds
    models of these queries 5-15x faster. push/pop would switch Z3 to its incremental
    core, measured up to 100x slower here (bench/prove.py)."""
    tactic = z3.Then("simplify", "propagate-values", "solve-eqs", "elim-uncnstr", "smt", ctx=ctx)
    s = tactic.solver() if proof else z3.Solver(ctx=ctx)
    s.set("timeout", max(1, int(timeout_s * 1000)))
    return s


def stats(s: z3.Solver) -> dict[str, Any]:
    """A few of Z3's statistics."""
    st = s.statistics()
    return {k: st.get_key_value(k) for k in st.keys() if k in STAT_KEYS}


def undecided(s: z3.Solver, base: Verdict, phase: str = "proof") -> Verdict:
    """UNKNOWN with Z3's reason, or TIMEOUT; the phase (witness or proof) is recorded."""
    reason = s.reason_unknown()
    base.kind = V.TIMEOUT if reason in ("timeout", "canceled") else V.UNKNOWN
    base.reason = reason
    base.stats = {**base.stats, "phase": phase}
    return base


def replay(mech: Mechanism, invariant: str, state: State, op: Liquidate) -> tuple[bool, str]:
    """R-PROVE-4: run the reference model on a counterexample: (fails there too, note)."""
    try:
        post, events = step(state, op, mech)
    except WaterfallError as e:
        return False, f"the model refuses the counterexample: [{e.code}] {e}"
    if REGISTRY[invariant].holds(state, op, post, events, mech):
        return False, "the model satisfies the invariant on the counterexample"
    return True, ""


def scenario(mech: Mechanism, invariant: str, state: State, op: Liquidate) -> dict[str, Any]:
    """A counterexample as a scenario document (spec/scenario.md)."""
    return {"format": "waterfall-scenario", "version": 1, "name": f"{mech.id}-{invariant}",
            "description": f"counterexample to {invariant} found by Z3, replayed by the model",
            "mechanism": mech.id, "state": state_to_json(state), "ops": [op_to_json(op)]}


def prove(mech: Mechanism, invariant: str, n: int, timeout_s: float = 60.0, encoding: str = "lemmas",
          minimise: bool = True, split: bool = True) -> Verdict:
    """R-PROVE-2: one verdict for (mechanism, invariant, N accounts)."""
    start = time.perf_counter()
    base = Verdict(mech.id, invariant, V.NOT_APPLICABLE, n, claimed=invariant in mech.claims)
    if invariant in RELATIONS:
        base.reason = "relational (two runs of the model): fuzzed, not encoded for Z3"
        return base
    if invariant in NEEDS and not isinstance(mech.final, NEEDS[invariant]):
        base.reason = f"applies only to {NEEDS[invariant].__name__} mechanisms"
        return base
    if invariant == "I-ADL-RANK" and getattr(mech.final, "ranking", "") not in RANKED:
        base.reason = RANK_NOTE
        return base
    try:
        verdict = by_cases(mech, n, encoding, invariant, timeout_s, base, split)
    except Unsupported as e:
        base.reason = f"not encoded: {e}"
        return base
    if verdict.kind == V.ENCODING_MISMATCH and encoding == "lemmas":  # spurious under the abstraction
        spent = time.perf_counter() - start
        try:
            verdict = by_cases(mech, n, "named", invariant, max(1.0, timeout_s - spent),
                               Verdict(mech.id, invariant, V.UNKNOWN, n, claimed=base.claimed), split)
        except Unsupported as e:  # capped water-filling has no exact encoding
            verdict.kind = V.UNKNOWN
            verdict.reason = f"the lemmas admit a counterexample the model refutes; {e}"
            verdict.counterexample = None
        else:
            verdict.reason = ("the allocation lemmas admitted a spurious counterexample; exact encoding: "
                              + verdict.reason).rstrip(": ")
            encoding = "named"
    if verdict.kind == V.COUNTEREXAMPLE and minimise:
        verdict = minimised(mech, invariant, n, encoding, timeout_s, verdict)
    verdict.seconds = round(time.perf_counter() - start, 3)
    return verdict


def by_cases(mech: Mechanism, n: int, encoding: str, invariant: str, timeout_s: float, base: Verdict,
             split: bool = True) -> Verdict:
    """R-PROVE-8: one query per side of the bankrupt's position (long, short), so that
    every sign-dependent term is resolved before Z3 sees it. PROVED if both cases are
    (a case whose assumptions are unsatisfiable adds nothing); otherwise the first
    counterexample, mismatch or undecided case."""
    deadline = time.perf_counter() + timeout_s
    results = []
    for long in ((True, False) if split else (None,)):
        case = Verdict(base.mechanism, invariant, V.UNKNOWN, n, claimed=base.claimed)
        v = check(Query(mech, n, encoding, invariant, long), invariant, max(0.1, deadline - time.perf_counter()), case)
        v.stats = {**v.stats, "case": {True: "long", False: "short", None: "both"}[long]}
        if v.kind not in (V.PROVED_UP_TO, V.VACUOUS):
            return v
        results.append(v)
    proved = [v for v in results if v.kind == V.PROVED_UP_TO]
    if not proved:
        return results[0]
    out = proved[0]
    out.reason = "; ".join(f"{v.stats.get('case')}: {v.reason}" for v in results if v.reason)
    out.stats = {"cases": [v.stats for v in results]}
    return out


def small_witness(q: Query) -> list[Any]:
    """Extra constraints for a quick witness: accounts from a03 on hold nothing, numbers
    within 10^6 (the witness only has to show the assumptions satisfiable)."""
    w = q.w0
    out = [z3.And(w.c[i] == 0, w.d[i] == 0, w.s[i] == 0, w.o[i] == 0) for i in range(3, w.n)]
    return out + [z3.And(x >= -10**6, x <= 10**6) for x in inputs(w, q.fill)]


def check(q: Query, invariant: str, timeout_s: float, base: Verdict) -> Verdict:
    """Vacuity check with a witness (a liquidation with a deficit, else any state the
    assumptions allow), then the negated invariant, each on a fresh solver."""
    deadline = time.perf_counter() + timeout_s
    s = solver(min(timeout_s, 3.0), proof=False, ctx=q.ctx)  # a small witness first: 3 active accounts
    s.add(q.assumed + [q.deficit] + small_witness(q))
    first = s.check()
    if first != z3.sat:
        s = solver(min(3.0, max(0.1, deadline - time.perf_counter())), proof=False, ctx=q.ctx)
        s.add(q.assumed + [q.deficit])
        first = s.check()
    if first != z3.sat:
        s = solver(max(0.1, deadline - time.perf_counter()), proof=False, ctx=q.ctx)
        s.add(q.assumed)
        plain = s.check()
        if plain == z3.unknown:  # no witness in time: undecided, never 'vacuous'
            return undecided(s, base, "witness")
        if plain == z3.unsat:
            base.kind, base.reason = V.VACUOUS, "the assumptions are unsatisfiable: nothing is proved"
            return base
        base.reason = ("no liquidation with a deficit satisfies the assumptions" if first == z3.unsat
                       else "no witness with a deficit found in 3 s; witness without one")
    base.witness = state_to_json(q.concrete(s.model())[0])
    goal = q.goal(invariant)
    negated = z3.Not(goal) if z3.is_expr(goal) else z3.BoolVal(not goal, q.ctx)
    left = max(0.1, deadline - time.perf_counter())
    s = solver(0.8 * left, ctx=q.ctx)  # a fifth is kept for a search among small states
    s.add(q.assumed + [negated])
    result = s.check()
    base.stats = stats(s)
    if result == z3.unsat:
        base.kind = V.PROVED_UP_TO
        return base
    if result == z3.sat:
        return confirmed(q, invariant, s.model(), base)
    small = solver(max(0.1, deadline - time.perf_counter()), proof=False, ctx=q.ctx)
    small.add(q.assumed + [negated] + small_witness(q))  # a counterexample among small states?
    if small.check() == z3.sat:
        return confirmed(q, invariant, small.model(), base)
    return undecided(s, base)


def confirmed(q: Query, invariant: str, model: z3.ModelRef, base: Verdict) -> Verdict:
    """COUNTEREXAMPLE if the model fails on it too, else ENCODING MISMATCH."""
    state, op = q.concrete(model)
    fails, note = replay(q.mech, invariant, state, op)
    base.counterexample = scenario(q.mech, invariant, state, op)
    base.kind = V.COUNTEREXAMPLE if fails else V.ENCODING_MISMATCH
    base.reason = note
    return base


def minimised(mech: Mechanism, invariant: str, n: int, encoding: str, timeout_s: float, found: Verdict) -> Verdict:
    """R-PROVE-5: the counterexample with the fewest accounts, then the smallest bound on
    every number, that still replays; else the one found."""
    budget = min(timeout_s, 10.0)
    for k in range(2, n + 1):
        q = Query(mech, k, encoding, invariant)
        goal = q.goal(invariant)
        for bound in (10, 100, 10_000, 10**6, None):
            s = solver(budget, proof=False, ctx=q.ctx)
            s.add(q.assumed)
            s.add(z3.Not(goal) if z3.is_expr(goal) else z3.BoolVal(not goal, q.ctx))
            if bound is not None:
                s.add([z3.And(x >= -bound, x <= bound) for x in inputs(q.w0, q.fill)])
            if s.check() == z3.sat:
                small = confirmed(q, invariant, s.model(), Verdict(mech.id, invariant, V.UNKNOWN, k))
                if small.kind == V.COUNTEREXAMPLE:
                    found.counterexample, found.reason = small.counterexample, f"minimised to {k} accounts"
                    found.stats = {**found.stats, "minimal_accounts": k, "bound": bound}
                    return found
    return found
