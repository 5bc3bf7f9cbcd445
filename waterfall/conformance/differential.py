"""Differential fuzzing of an implementation against the reference model (R-CONF-6).

Hypothesis draws scenarios with the vectors' own generator (waterfall/conformance/venues.py: several
markets, 2-14 accounts, funded layers with reserves and caps, default funds, ties, and
magnitudes up to balances near 10^36), the model computes the expected result of each step,
the implementation answers over the conformance protocol (one process group for the run,
restarted after a crash, stopped after repeated crashes), and the first disagreement is
shrunk by Hypothesis to a minimal scenario, which is saved as a vector with a manifest.
The seed is honoured (the same seed draws the same scenarios) and reported.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from waterfall.model.errors import WaterfallError
from waterfall.model.mechanism import Mechanism

from waterfall.conformance.runner import Runner, StepResult, Vector
from waterfall.conformance.engine import Engine, EngineStopped
from waterfall.conformance.vectors import Case, canonical, vector
from waterfall.conformance.venues import HypothesisDraw, scenario


SHRINK_EXAMPLES = 200  # scenarios tried while shrinking a disagreement


class Abort(BaseException):
    """Ends the Hypothesis run at once (deadline, a stopped implementation): not a failure
    of the test, so Hypothesis does not shrink it."""


@dataclass
class Outcome:
    """What a differential run found: examples tried, and the minimal disagreement."""

    examples: int = 0
    first_found: int = 0  # examples tried when the first disagreement was seen
    first_seconds: float = 0.0  # and the seconds it had taken
    seconds: float = 0.0
    failure: list[StepResult] = field(default_factory=list)
    vector: dict[str, Any] | None = None
    stopped: str = ""
    deadline_hit: bool = False
    model_crash: dict[str, Any] | None = None  # the reference model crashed (I-VALID): a scenario document


def new_seed() -> int:
    """A random seed, printed so the run can be repeated."""
    return random.SystemRandom().randrange(2**32)


def differential(command: str, mechanisms: list[Mechanism], examples: int, timeout: float,
                 seed: int, deadline: float | None = None, shrink_examples: int | None = None,
                 started: float | None = None) -> Outcome:
    """R-CONF-6: up to `examples` scenarios through the implementation and the model; a
    disagreement is shrunk (for at most `shrink_examples` further scenarios, so the same
    seed gives the same result) and kept in the outcome (the last failing call is the
    smallest one found)."""
    out, start = Outcome(), time.monotonic()
    budget = SHRINK_EXAMPLES if shrink_examples is None else shrink_examples
    runner = Runner(Engine(command, timeout), deadline, started=started)
    try:
        runner.start()
    except EngineStopped as e:
        out.stopped = str(e)
        return out
    usable = [m for m in mechanisms if runner.engine.announces(m.id)]
    if not usable:
        runner.engine.stop()
        out.stopped = (f"the implementation announces none of the mechanisms to fuzz "
                       f"({', '.join(m.id for m in mechanisms)})")
        return out

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: Any) -> None:
        mech = data.draw(st.sampled_from(usable))
        try:
            state, ops = scenario(HypothesisDraw(data), mech)
        except WaterfallError:
            return  # a drawn venue out of bounds: nothing to compare
        # stop only after drawing (Hypothesis requires the same draws for the same choices)
        left = runner.left()
        if left is not None and left <= 0:
            out.deadline_hit = True
            raise Abort
        if out.first_found and out.examples - out.first_found >= budget:
            raise Abort  # shrunk long enough: keep the smallest failure so far
        out.examples += 1
        try:
            doc = vector(mech, Case("fuzz", "differential fuzzing case", state, ops))
        except Exception as e:  # noqa: BLE001 - the model itself crashed: an I-VALID finding, kept
            from waterfall.proofs.fuzz.machines import scenario_doc
            out.model_crash = scenario_doc(mech, state, list(ops), f"{mech.id}-I-VALID",
                                           f"the reference model crashed on this drawn scenario "
                                           f"({type(e).__name__}: {str(e)[:200]}): I-VALID")
            raise Abort from None
        try:
            failed = [r for r in runner.run_vector(Vector(f"{mech.id}/fuzz", doc)) if r.status != "pass"]
        except EngineStopped as e:
            out.stopped = str(e)
            raise Abort from None
        if runner.deadline_hit:
            out.deadline_hit = True
            raise Abort
        if failed:
            out.failure, out.vector = failed, doc
            if not out.first_found:
                out.first_found, out.first_seconds = out.examples, time.monotonic() - start
            raise AssertionError(failed[0].reason)

    try:
        check()
    except (AssertionError, Abort):
        pass
    finally:
        runner.engine.stop()
        out.seconds = time.monotonic() - start
    return out


def save(doc: dict[str, Any], directory: Path) -> Path:
    """Write a found disagreement as a vector DIR/MECHANISM/fuzz-HASH.json and list it in
    DIR/manifest.json (so `conform --vectors DIR` replays it); returns its path."""
    vid = "fuzz-" + hashlib.sha256(canonical(doc).encode()).hexdigest()[:10]
    text = canonical({**doc, "id": vid})
    rel = f"{doc['mechanism']['id']}/{vid}.json"
    path = Path(directory) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    manifest_path = Path(directory) / "manifest.json"
    manifest = {"format": "waterfall-vectors", "vectors": []}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            pass
    entries = [e for e in manifest.get("vectors", []) if isinstance(e, dict) and e.get("path") != rel]
    entries.append({"mechanism": doc["mechanism"]["id"], "id": vid, "path": rel, "steps": len(doc["steps"]),
                    "sha256": hashlib.sha256(text.encode()).hexdigest()})
    manifest_path.write_text(canonical({**manifest, "format": "waterfall-vectors", "vectors": entries}),
                             encoding="utf-8", newline="\n")
    return path
