"""Concrete invariant checking of scenario runs against a mechanism's claims (R-VERIFY-*)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from waterfall.model.errors import ScenarioError, WaterfallError
from waterfall.model.events import Event
from waterfall.model.loader import Scenario, load_scenario, names_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import StepResult, run
from waterfall.spec import SCENARIOS_DIR
from waterfall.model.ops import Liquidate, Op
from waterfall.model.state import State, equity, margin_requirement
from waterfall.spec.invariants import REGISTRY, RELATIONS

ALL_IDS = list(REGISTRY) + list(RELATIONS)
RELATION_PEERS = 6

HOLDS, CLAIMED_VIOLATED, DOCUMENTED_VIOLATION = "holds", "claimed-and-violated", "not-claimed-and-violated"


@dataclass
class Finding:
    """An invariant that failed at one step of one scenario."""

    invariant: str
    scenario: str
    step: int
    claimed: bool


@dataclass
class Outcome:
    """What running scenarios through one mechanism showed."""

    mechanism: str
    steps: int = 0
    refused: int = 0
    findings: list[Finding] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def verdict(self, inv: str, claimed: bool) -> str:
        """R-VERIFY-2: holds / claimed-and-violated / not-claimed-and-violated."""
        if any(f.invariant == inv for f in self.findings):
            return CLAIMED_VIOLATED if claimed else DOCUMENTED_VIOLATION
        return HOLDS


def relation_params(pre: State, op: Liquidate) -> dict[str, list[object]]:
    """R-VERIFY-3: the parameters each relational invariant is checked with on a liquidation
    step: I-SCALE with k = 3, I-SPLIT for other accounts holding a position (not the
    counterparty), I-PATH with other accounts liquidatable in the same pre-state; at most
    RELATION_PEERS of each, in id order (each check reruns the model, so all of them would be
    quadratic)."""
    others = [i for i in sorted(pre.accounts) if i not in (op.account, op.counterparty)]
    return {"I-SCALE": [3],
            "I-SPLIT": [i for i in others if pre.accounts[i].positions][:RELATION_PEERS],
            "I-PATH": [i for i in others if equity(pre, pre.accounts[i])
                       < margin_requirement(pre, pre.accounts[i], initial=False)][:RELATION_PEERS]}


def failing_param(rid: str, pre: State, op: Op, mech: Mechanism) -> object | None:
    """The first parameter with which relational invariant `rid` fails on this step, if any."""
    if not isinstance(op, Liquidate):
        return None
    return next((v for v in relation_params(pre, op)[rid] if RELATIONS[rid].holds(pre, op, mech, v) is False), None)


def relation_failures(pre: State, op: Op, mech: Mechanism) -> list[str]:
    """R-VERIFY-3: the relational invariants that fail on this step (relation_params)."""
    return [rid for rid in RELATIONS if failing_param(rid, pre, op, mech) is not None]


def check_steps(results: list[StepResult], mech: Mechanism, scenario: str) -> list[Finding]:
    """R-VERIFY-1: evaluate every registered invariant on every applied step, and the
    relational ones on every liquidation (R-VERIFY-3)."""
    found = []
    for n, r in enumerate(results, 1):
        if r.crash:  # the model crashed on a valid state: I-VALID (R-STATE-5)
            found.append(Finding("I-VALID", scenario, n, "I-VALID" in mech.claims))
            continue
        if r.error is not None:
            continue
        for inv in REGISTRY.values():
            if not inv.holds(r.pre, r.op, r.post, r.events, mech):
                found.append(Finding(inv.id, scenario, n, inv.id in mech.claims))
        for rid in relation_failures(r.pre, r.op, mech):
            found.append(Finding(rid, scenario, n, rid in mech.claims))
    return found


def stress_scenarios(directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """The scenarios of a directory (default: the bundled stress scenarios), by file name."""
    found = [load_scenario(p) for p in sorted(Path(directory).glob("*.json"))]
    if not found:
        raise ScenarioError(f"{directory}: no scenario (*.json) to run", file=directory)
    return found


def verify_mechanism(mech: Mechanism, scenarios: list[Scenario]) -> Outcome:
    """R-VERIFY-1: run every scenario through the mechanism and check every invariant; an
    unexpected exception is recorded as a crash (a bug of ours), never swallowed silently.
    Scenarios written for this mechanism also have their expectations checked (R-RUN-3)."""
    out = Outcome(mech.id)
    for sc in scenarios:
        try:
            results = run(sc, mech)
        except WaterfallError:
            raise
        except Exception as e:  # noqa: BLE001 - a crash is itself the finding
            out.crashes.append(f"{sc.name}: {type(e).__name__}: {e}")
            continue
        out.steps += len(results)
        out.refused += sum(r.error is not None for r in results)
        out.findings += check_steps(results, mech, sc.name)
        if names_mechanism(sc, mech):
            out.misses += [f"{sc.name}: {m}" for m in expectation_misses(sc, results)]
    return out


def expectation_misses(sc: Scenario, results: list[StepResult]) -> list[str]:
    """R-RUN-3: compare a scenario's `expect` block with the run (its own mechanism only)."""
    exp, misses = sc.expect, []
    post = results[-1].post if results else sc.state
    if "errors" in exp:
        got = [r.error.code if r.error else None for r in results]
        if got != exp["errors"]:
            misses.append(f"errors {got} != expected {exp['errors']}")
    if "bad_debt" in exp and post.bad_debt != int(exp["bad_debt"]):
        misses.append(f"bad_debt {post.bad_debt} != expected {exp['bad_debt']}")
    for k, v in exp.get("layers", {}).items():
        if post.layers.get(k, 0) != int(v):
            misses.append(f"layer {k} {post.layers.get(k, 0)} != expected {v}")
    for k, v in exp.get("collateral", {}).items():
        if post.accounts[k].collateral != int(v):
            misses.append(f"collateral of {k} {post.accounts[k].collateral} != expected {v}")
    for k, v in exp.get("equity", {}).items():
        if equity(post, post.accounts[k]) != int(v):
            misses.append(f"equity of {k} {equity(post, post.accounts[k])} != expected {v}")
    for k, v in exp.get("deferred", {}).items():
        if post.deferred.get(k, 0) != int(v):
            misses.append(f"deferred {k} {post.deferred.get(k, 0)} != expected {v}")
    for aid, by_market in exp.get("positions", {}).items():
        for m, (size, on) in by_market.items():
            p = post.accounts[aid].positions.get(m)
            got = (p.size, p.open_notional) if p else (0, 0)
            if got != (int(size), int(on)):
                misses.append(f"position of {aid} in {m} {list(got)} != expected [{size}, {on}]")
    if "fills" in exp:
        got_fills = [adl_fill(e, r.op.account) for r in results for e in r.events if e.rule == "R-ADL-1"]  # type: ignore[union-attr]
        want = [(f["account"], f["market"], int(f["size"]), int(f["amount"])) for f in exp["fills"]]
        if got_fills != want:
            misses.append(f"fills {got_fills} != expected {want}")
    return misses


def adl_fill(e: "Event", bankrupt: str) -> tuple[str, str, int, int]:
    """R-RUN-3: a deleveraging fill as (counterparty, market, lots, quote)."""
    other = e.src if e.dst == "account:" + bankrupt else e.dst
    return other.partition(":")[2], e.market, e.size, e.amount


def violation(r: StepResult, mech: Mechanism, inv: str) -> tuple[bool, object | None]:
    """(violated, parameter) of one applied step: a registered invariant's predicate, or the
    first failing parameter of a relational one."""
    if r.crash:
        return inv == "I-VALID", None
    if r.error is not None:
        return False, None
    if inv in REGISTRY:
        return not REGISTRY[inv].holds(r.pre, r.op, r.post, r.events, mech), None
    param = failing_param(inv, r.pre, r.op, mech)
    return param is not None, param


def first_violation(results: list[StepResult], mech: Mechanism, inv: str) -> tuple[int | None, object | None]:
    """1-based step of the first violation of `inv` and its relational parameter."""
    for n, r in enumerate(results, 1):
        bad, param = violation(r, mech, inv)
        if bad:
            return n, param
    return None, None
