"""Running a scenario's operations through the model (R-RUN-*)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import InvalidState, ScenarioError, WaterfallError
from .events import Event
from .loader import Scenario
from .mechanism import Mechanism
from .ops import Op
from .state import Account, State
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
    crash: str = ""  # the model raised something else: a violation of I-VALID (then post is pre)


def prepare(state: State, mech: Mechanism) -> State:
    """R-RUN-1: fit a scenario's layers to the mechanism. A layer the mechanism keeps per
    market (NAME:MARKET) that the scenario gives as one NAME balance is assigned to the
    first market in id order; any balance the mechanism names but the state lacks starts
    at 0, and so does a pool account the mechanism names (R-POOL-1). Value is unchanged
    (I-CONS)."""
    layers = dict(state.layers)
    markets = sorted(state.markets)
    for spec in mech.layers:
        per_market = spec.kind == "balance" and spec.scope == "market"
        if per_market and spec.name in layers and markets and not any(k.startswith(spec.name + ":") for k in layers):
            layers[f"{spec.name}:{markets[0]}"] = layers.pop(spec.name)
    for key in mech.layer_keys(markets):
        layers.setdefault(key, 0)
    check_records(state, mech, markets)
    pool = getattr(mech.final, "account", None)  # R-POOL-1: the pool account a mechanism names
    if pool is not None and pool not in state.accounts:
        state = replace(state, accounts={**state.accounts, pool: Account(0, 0, {})})
    return replace(state, layers=layers) if layers != dict(state.layers) else state


def check_records(state: State, mech: Mechanism, markets: list[str]) -> None:
    """R-RUN-1 / R-STATE-6: a layer history names a balance key of a layer the mechanism keeps
    a drawdown window for (R-TIME-3) or a shared pool's record of a market (R-WF-14), a
    lifetime payout a layer with a lifetime cap (R-WF-9); anything else would be carried
    along unread (InvalidState naming the key)."""
    windowed = {k for s in mech.layers if s.kind == "balance" and s.drawdown_ppm > 0 for k in s.keys(markets)}
    windowed |= {k for s in mech.layers for k in s.market_records(markets)}
    for key in state.history:
        if key not in windowed:
            raise InvalidState(f"layer_history of {key!r}: {mech.id} keeps no drawdown window for that layer "
                               f"(R-TIME-3; windowed: {', '.join(sorted(windowed)) or 'none'})", layer=key)
    capped = {s.name for s in mech.layers if s.kind == "balance" and s.lifetime_cap > 0}
    for key in state.layer_paid:
        if key.rpartition(":")[0] not in capped:
            raise InvalidState(f"layer_paid of {key!r}: {mech.id} has no lifetime cap on that layer (R-WF-9)",
                               layer=key)


def run(scenario: Scenario, mech: Mechanism) -> list[StepResult]:
    """R-RUN-2: apply every operation in order; a refused one leaves the state as it was. A
    crash of the model (any other exception) ends the run with a step recording it: on a
    valid state that is itself a violation of I-VALID, kept as a finding, never a traceback."""
    try:
        state = prepare(scenario.state, mech)
    except InvalidState as e:  # a record the mechanism cannot read: the scenario's fault (R-RUN-1)
        raise ScenarioError(f"{scenario.path or scenario.name}: state under {mech.id}: {e}",
                            file=scenario.path, key="state") from None
    results = []
    for op in scenario.ops:
        try:
            post, events = step(state, op, mech)
            results.append(StepResult(op, state, post, events))
            state = post
        except WaterfallError as e:
            results.append(StepResult(op, state, state, [], e))
        except Exception as e:  # noqa: BLE001 - a crash of the model is the finding (I-VALID)
            results.append(StepResult(op, state, state, [], None, f"{type(e).__name__}: {e}"[:500]))
            break
    return results
