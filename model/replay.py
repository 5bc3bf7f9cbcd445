"""Running a scenario's operations through the model (R-RUN-*)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import WaterfallError
from .events import Event
from .loader import Scenario
from .mechanism import Mechanism
from .ops import Op
from .state import State
from .step import step


@dataclass
class StepResult:
    """One operation: the state before and after, its events, or the error that refused it
    (then `post` is `pre`, R-ERR-1)."""

    op: Op
    pre: State
    post: State
    events: list[Event] = field(default_factory=list)
    error: WaterfallError | None = None


def prepare(state: State, mech: Mechanism) -> State:
    """R-RUN-1: a balance layer the mechanism names but the state lacks starts at 0."""
    keys = mech.layer_keys(sorted(state.markets))
    missing = {k: 0 for k in keys if k not in state.layers}
    return replace(state, layers={**state.layers, **missing}) if missing else state


def run(scenario: Scenario, mech: Mechanism) -> list[StepResult]:
    """R-RUN-2: apply every operation in order; a refused one leaves the state as it was."""
    state = prepare(scenario.state, mech)
    results = []
    for op in scenario.ops:
        try:
            post, events = step(state, op, mech)
            results.append(StepResult(op, state, post, events))
            state = post
        except WaterfallError as e:
            results.append(StepResult(op, state, state, [], e))
    return results
