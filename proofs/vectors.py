"""Conformance vectors from the reference model (R-CONF-1, spec/conformance.md).

For every catalogue mechanism: single operations on a small venue (each kind, the largest
allowed values, refused operations with their error codes), every stress scenario as a
multi-step sequence, and the regression and finding scenarios under their own mechanism.
Expected outcomes come from model.step; files are canonical JSON so regenerating gives
identical bytes.
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterator

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import catalogue, load_mechanism, load_scenario, scenario_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.replay import prepare
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.step import step
from waterfall.model.units import MAX_INPUT
from waterfall.spec import FINDINGS_DIR, REGRESSIONS_DIR, SCENARIOS_DIR, VECTORS_DIR

SPEC_VERSION = "waterfall-spec/1"
SOURCES = (SCENARIOS_DIR, FINDINGS_DIR, REGRESSIONS_DIR)  # package data (waterfall.spec)


@dataclass(frozen=True)
class Case:
    """One vector before its expectations are computed."""

    id: str
    description: str
    state: State
    ops: tuple[Op, ...]


def canonical(doc: Any) -> str:
    """R-CONF-1: sorted keys, two-space indent, LF, final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outcome(state: State, op: Op, mech: Mechanism) -> tuple[State, dict[str, Any]]:
    """One step's expectation: post-state and events, or the error code (state unchanged)."""
    try:
        post, events = step(state, op, mech)
    except WaterfallError as e:
        return state, {"ok": False, "error": e.code}
    return post, {"ok": True, "state": state_to_json(post), "events": [e.to_json() for e in events]}


def vector(mech: Mechanism, case: Case) -> dict[str, Any]:
    """A vector document: the case's operations chained through the model."""
    state = prepare(case.state, mech)
    start, steps = state, []
    for op in case.ops:
        state, expect = outcome(state, op, mech)
        steps.append({"op": op_to_json(op), "expect": expect})
    return {"format": "waterfall-vector", "version": 1, "id": case.id, "description": case.description,
            "mechanism": mechanism_doc(mech), "state": state_to_json(start), "steps": steps}


PROSE = ("description", "source", "claims", "family")


def mechanism_doc(mech: Mechanism) -> dict[str, Any]:
    """The mechanism file as JSON (its TOML keys), without its prose and references."""
    doc = tomllib.loads(Path(mech.path).read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k not in PROSE}


def small_venue() -> State:
    """Two accounts long/short 10 lots at mark 1,000, 10,000 collateral each."""
    m = Market("M0", 1_000, 100_000, 50_000)
    return State({"M0": m}, {"a": Account(10_000, 10_000, {"M0": Position(10, 10_000)}),
                             "b": Account(10_000, 10_000, {"M0": Position(-10, -10_000)})})


SINGLE_OPS: tuple[tuple[str, str, Op], ...] = (
    ("deposit", "a deposit", Deposit("a", 1)),
    ("deposit-max", "the largest allowed deposit (MAX_INPUT)", Deposit("a", MAX_INPUT)),
    ("deposit-zero", "a zero deposit is refused (E-INVALID-AMOUNT)", Deposit("a", 0)),
    ("deposit-unknown", "a deposit to an unknown account (E-UNKNOWN-ACCOUNT)", Deposit("z", 1)),
    ("withdraw", "a withdrawal within initial margin", Withdraw("a", 1)),
    ("withdraw-too-much", "a withdrawal below initial margin (E-MARGIN)", Withdraw("a", 9_500)),
    ("trade", "a trade adding to both positions", Trade("a", "b", "M0", 1, 1_000)),
    ("trade-self", "a self-trade (E-SELF-TRADE)", Trade("a", "a", "M0", 1, 1_000)),
    ("trade-unknown-market", "a trade in an unknown market (E-UNKNOWN-MARKET)", Trade("a", "b", "M9", 1, 1)),
    ("set-mark", "a mark price move", SetMark("M0", 990)),
    ("set-mark-max", "the largest allowed mark (MAX_INPUT)", SetMark("M0", MAX_INPUT)),
    ("funding", "funding paid by longs to shorts", Funding("M0", 3)),
    ("liquidate-healthy", "liquidating a healthy account (E-HEALTHY)", Liquidate("a", "b", {"M0": 1_000}, "0")),
)


def single_cases() -> Iterator[Case]:
    """R-CONF-1: each operation kind once on the small venue, and edge values."""
    for vid, text, op in SINGLE_OPS:
        yield Case(f"op-{vid}", text, small_venue(), (op,))
    crash = (SetMark("M0", 400), Liquidate("a", "b", {"M0": 400}, "0"))
    yield Case("op-liquidate-deficit", "a gap to 400 bankrupts the long; closed to the short at 400",
               small_venue(), crash)


def scenario_cases(mech: Mechanism) -> Iterator[Case]:
    """Stress scenarios under every mechanism; findings and regressions under their own."""
    for directory in SOURCES:
        for path in sorted(directory.glob("*.json")):
            sc = load_scenario(path)
            own = directory == SOURCES[0] or scenario_mechanism(sc).id == mech.id
            if own:
                yield Case(f"{directory.name}-{path.stem}", sc.description.split("\n")[0][:200], sc.state, sc.ops)


def generate(out: Path, mechanisms: list[Mechanism] | None = None) -> dict[str, Any]:
    """Write every vector and the manifest under `out`; returns the manifest."""
    mechs = mechanisms or [load_mechanism(p) for _, p in sorted(catalogue().items())]
    entries = []
    for mech in mechs:
        for case in [*single_cases(), *scenario_cases(mech)]:
            text = canonical(vector(mech, case))
            rel = Path(mech.id) / f"{case.id}.json"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text, encoding="utf-8", newline="\n")
            entries.append({"mechanism": mech.id, "id": case.id, "path": rel.as_posix(),
                            "steps": len(case.ops), "sha256": hashlib.sha256(text.encode()).hexdigest()})
    manifest = {"format": "waterfall-vectors", "spec_version": SPEC_VERSION,
                "model_version": version("waterfall"), "vectors": entries}
    (out / "manifest.json").write_text(canonical(manifest), encoding="utf-8", newline="\n")
    return manifest
