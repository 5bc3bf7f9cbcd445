"""A counterexample as a reader follows it (R-REPORT-3), in the manner of Foundry's failing
sequence: the operations in order with their arguments; for each, the prices, positions
and balances it changed and the transfers it made with their rule IDs; then the violated
predicate's own terms (waterfall/report/explain.py) and the before/after ledger of that step.
Relational invariants (I-PATH, I-SCALE, I-SPLIT) show the two runs being compared.

Everything is replayed through the reference model (model.replay.run) from the scenario
document the engines saved; nothing is taken from the engine's own claim.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from waterfall.model.codec import op_to_json
from waterfall.model.loader import scenario_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Liquidate, Op
from waterfall.model.replay import StepResult, run
from waterfall.model.state import State, equity
from waterfall.spec.invariants import REGISTRY, RELATIONS, _run, doubled, scaled, split_state

from waterfall.proofs.checks import first_violation
from waterfall.report.explain import eq, terms
from waterfall.report.ledger import ledger


def describe_op(op: Op) -> str:
    """One-line form of an operation: `liquidate account=a0 counterparty=a1 fills=M0@49 seed=0`."""
    doc = op_to_json(op)
    name = doc.pop("op")
    fills = doc.pop("fill_prices", None)
    args = [f"{k}={v}" for k, v in doc.items()]
    if fills is not None:
        args.insert(len(args) - 1 if "seed" in doc else len(args), "fills=" + ",".join(f"{m}@{p}" for m, p in fills.items()))
    return " ".join([name, *args])


def changes(pre: State, post: State) -> dict[str, list[str]]:
    """What one step changed: prices, positions, balances (accounts, layers, default fund,
    bad debt); unchanged quantities are left out."""
    prices = [f"{m} {pre.markets[m].mark} -> {mk.mark}" for m, mk in sorted(post.markets.items())
              if m in pre.markets and pre.markets[m].mark != mk.mark]
    positions, balances = [], []
    for aid in sorted(set(pre.accounts) | set(post.accounts)):
        a0, a1 = pre.accounts.get(aid), post.accounts.get(aid)
        for m in sorted(set(a0.positions if a0 else {}) | set(a1.positions if a1 else {})):
            p0 = a0.positions.get(m) if a0 else None
            p1 = a1.positions.get(m) if a1 else None
            s0, n0 = (p0.size, p0.open_notional) if p0 else (0, 0)
            s1, n1 = (p1.size, p1.open_notional) if p1 else (0, 0)
            if (s0, n0) != (s1, n1):
                positions.append(f"{aid} {m}: size {s0} -> {s1}, open notional {n0} -> {n1}")
        c0, c1 = (a0.collateral if a0 else 0), (a1.collateral if a1 else 0)
        if c0 != c1 or eq(pre, aid) != eq(post, aid):
            balances.append(f"{aid}: collateral {c0} -> {c1}, equity {eq(pre, aid)} -> {eq(post, aid)}")
    for k in sorted(set(pre.layers) | set(post.layers)):
        if pre.layers.get(k, 0) != post.layers.get(k, 0):
            balances.append(f"layer {k}: {pre.layers.get(k, 0)} -> {post.layers.get(k, 0)}")
    for k in sorted(set(pre.default_fund) | set(post.default_fund)):
        if pre.default_fund.get(k, 0) != post.default_fund.get(k, 0):
            balances.append(f"default fund {k}: {pre.default_fund.get(k, 0)} -> {post.default_fund.get(k, 0)}")
    if pre.bad_debt != post.bad_debt:
        balances.append(f"bad debt: {pre.bad_debt} -> {post.bad_debt}")
    return {"prices": prices, "positions": positions, "balances": balances}


@dataclass
class StepView:
    """One operation of the sequence and what it did."""

    n: int
    op: str
    refused: str | None
    prices: list[str]
    positions: list[str]
    balances: list[str]
    transfers: list[str]


@dataclass
class RunView:
    """One of the two runs a relational invariant compares: its operations and outcome."""

    label: str
    ops: list[str]
    outcome: list[str]


@dataclass
class Trace:
    """A counterexample replayed: the sequence, the violating step, the predicate's terms."""

    mechanism: str
    invariant: str
    claimed: bool
    steps: list[StepView]
    violated_at: int | None
    terms: list[str] = field(default_factory=list)
    ledger: str = ""
    runs: list[RunView] = field(default_factory=list)
    shrunk: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)


def step_view(n: int, r: StepResult) -> StepView:
    """One step: its operation, refusal, changes and transfers (rule, from, to, amount)."""
    ch = changes(r.pre, r.post)
    transfers = [f"{e.rule} {e.src} -> {e.dst} {e.amount}" + (f" ({e.size} lots @ {e.price} in {e.market})"
                                                             if e.kind == "trade" else f" [{e.layer}]")
                 for e in r.events]
    refused = f"[{r.error.code}] {r.error}" if r.error else None
    return StepView(n, describe_op(r.op), refused, ch["prices"], ch["positions"], ch["balances"], transfers)


def build(doc: dict[str, Any], mech: Mechanism, inv: str, shrunk: dict[str, Any] | None = None) -> Trace:
    """Replay a counterexample scenario under `mech` and describe it up to the first step
    that violates `inv` (the whole run when none does)."""
    sc = scenario_from_doc(doc, f"<{mech.id} {inv}>")
    results = run(sc, mech)
    at, param = first_violation(results, mech, inv)
    shown = results[:at] if at else results
    t = Trace(mech.id, inv, inv in mech.claims, [step_view(n, r) for n, r in enumerate(shown, 1)], at,
              shrunk=shrunk)
    if at:
        r = results[at - 1]
        t.terms = terms(inv, r.pre, r.op, r.post, r.events, mech)
        t.ledger = ledger(r.pre, r.post)
        if inv in RELATIONS and isinstance(r.op, Liquidate):
            t.runs, more = relational_runs(inv, r.pre, r.op, mech, param)
            t.terms += more
    return t


def outcome_rows(state: State | None) -> list[str]:
    """A run's resulting balances, one line per account and layer."""
    if state is None:
        return ["refused (a step of this run was refused)"]
    rows = [f"{i}: collateral {a.collateral}, equity {equity(state, a)}" for i, a in sorted(state.accounts.items())]
    rows += [f"layer {k}: {v}" for k, v in sorted(state.layers.items())]
    return rows + [f"bad debt: {state.bad_debt}"]


def relational_runs(rid: str, pre: State, op: Liquidate, mech: Mechanism, param: object
                    ) -> tuple[list[RunView], list[str]]:
    """The two runs spec/invariants.py compares for `rid` with this parameter, and the terms
    that differ."""
    if rid == "I-PATH":  # the same two liquidations as path_independent, in both orders
        other = str(param)
        cp = op.counterparty if op.counterparty != other else None
        first, second = Liquidate(op.account, cp, op.fill_prices, op.seed), Liquidate(other, cp, op.fill_prices, op.seed)
        ab, ba = _run(pre, [first, second], mech), _run(pre, [second, first], mech)
        runs = [RunView(f"{op.account} then {other}", [describe_op(first), describe_op(second)], outcome_rows(ab)),
                RunView(f"{other} then {op.account}", [describe_op(second), describe_op(first)], outcome_rows(ba))]
        diff = [f"{a}  vs  {b}" for a, b in zip(runs[0].outcome, runs[1].outcome) if a != b]
        return runs, ["the two orders end differently:"] + diff
    if rid == "I-SCALE":  # every amount and price times k (scale_invariant)
        k = int(param)  # type: ignore[call-overload]
        big = Liquidate(op.account, op.counterparty, {m: p * k for m, p in op.fill_prices.items()}, op.seed)
        one, many = _run(pre, [op], mech), _run(scaled(pre, k), [big], mech)
        runs = [RunView("original venue", [describe_op(op)], outcome_rows(one)),
                RunView(f"every amount and price x {k}", [describe_op(big)], outcome_rows(many))]
        out = [f"balances of the scaled run against {k} x the original (allowed gap {2 * k}):"]
        if one is not None and many is not None:
            for i, a in sorted(one.accounts.items()):
                got = many.accounts[i].collateral
                out.append(f"{i}: collateral {k} x {a.collateral} = {k * a.collateral}, scaled run {got} "
                           f"(gap {got - k * a.collateral:+d})")
            for n, v in sorted(one.layers.items()):
                out.append(f"layer {n}: {k} x {v} = {k * v}, scaled run {many.layers.get(n, 0)} "
                           f"(gap {many.layers.get(n, 0) - k * v:+d})")
        return runs, out
    if rid == "I-SPLIT":  # on the doubled venue, one account against its two halves (sybil_proof)
        aid = str(param)
        venue = doubled(pre)
        halves = split_state(venue, aid)
        one = _run(venue, [op], mech)
        two = _run(halves, [op], mech) if halves is not None else None
        runs = [RunView(f"{aid} as one account (venue doubled)", [describe_op(op)], outcome_rows(one)),
                RunView(f"{aid} split into {aid} and {aid}~2", [describe_op(op)], outcome_rows(two))]
        out = []
        if one is not None and two is not None and halves is not None:
            lost = equity(venue, venue.accounts[aid]) - equity(one, one.accounts[aid])
            pair = sum(equity(halves, halves.accounts[i]) - equity(two, two.accounts[i]) for i in (aid, aid + "~2"))
            out.append(f"{aid} alone loses {lost}; the two halves lose {pair} together (allowed gap 2)")
        return runs, out
    return [], []


def text(t: Trace, replay: str | None = None) -> str:
    """The trace as plain text (the CLI, the Markdown report)."""
    status = "claimed and violated" if t.claimed else "violated, not claimed: a property of this design"
    if t.violated_at is None:
        head = f"[PASS] {t.invariant} holds at every step of this sequence under {t.mechanism}"
    else:
        head = f"[FAIL: {t.invariant} {status}] {t.mechanism} at step {t.violated_at} of {len(t.steps)}"
    if t.shrunk:
        s = t.shrunk
        head += (f" (shrunk from {s['from']} to {s['to']} operations in {s['seconds']:.1f} s"
                 f"{'' if s['complete'] else ', time budget spent'})")
    out = [head, "[Sequence]"]
    for s in t.steps:
        mark = ">" if s.n == t.violated_at else " "
        out.append(f"  {mark} {s.n:>3}  {s.op}" + (f"   refused {s.refused}" if s.refused else ""))
    out.append("[Steps]")
    for s in t.steps:
        out.append(f"  step {s.n}: {s.op}")
        for label, rows in (("prices", s.prices), ("positions", s.positions), ("balances", s.balances),
                            ("transfers", s.transfers)):
            for k, row in enumerate(rows):
                out.append(f"    {label if k == 0 else '':<10} {row}")
        if s.refused:
            out.append(f"    refused    {s.refused}")
        elif not (s.prices or s.positions or s.balances or s.transfers):
            out.append("    (no change)")
    if t.violated_at is not None:
        inv = REGISTRY.get(t.invariant) or RELATIONS.get(t.invariant)
        out.append(f"[Violation] {t.invariant} ({inv.name}): {inv.statement}" if inv else f"[Violation] {t.invariant}")
        out += [f"    {row}" for row in t.terms]
        for r in t.runs:
            out.append(f"  run: {r.label}: " + "; ".join(r.ops))
            out += [f"    {row}" for row in r.outcome]
        out += ["[Ledger at the violating step]", t.ledger]
    if replay:
        out.append(f"[Replay] {replay}")
    return "\n".join(out)
