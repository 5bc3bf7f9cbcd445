"""Concrete invariant checking of scenario runs against a mechanism's claims (R-VERIFY-*)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from model.errors import WaterfallError
from model.loader import Scenario, load_scenario
from model.mechanism import Mechanism
from model.replay import StepResult, run
from spec import SCENARIOS_DIR
from spec.invariants import REGISTRY

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

    def verdict(self, inv: str, claimed: bool) -> str:
        """R-VERIFY-2: holds / claimed-and-violated / not-claimed-and-violated."""
        if any(f.invariant == inv for f in self.findings):
            return CLAIMED_VIOLATED if claimed else DOCUMENTED_VIOLATION
        return HOLDS


def check_steps(results: list[StepResult], mech: Mechanism, scenario: str) -> list[Finding]:
    """R-VERIFY-1: evaluate every registered invariant on every applied step."""
    found = []
    for n, r in enumerate(results, 1):
        if r.error is not None:
            continue
        for inv in REGISTRY.values():
            if not inv.holds(r.pre, r.op, r.post, r.events, mech):
                found.append(Finding(inv.id, scenario, n, inv.id in mech.claims))
    return found


def stress_scenarios(directory: Path = SCENARIOS_DIR) -> list[Scenario]:
    """The bundled stress scenarios, by file name."""
    return [load_scenario(p) for p in sorted(directory.glob("*.json"))]


def verify_mechanism(mech: Mechanism, scenarios: list[Scenario]) -> Outcome:
    """R-VERIFY-1: run every scenario through the mechanism and check every invariant; an
    unexpected exception is recorded as a crash (a bug of ours), never swallowed silently."""
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
    return out
