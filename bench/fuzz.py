"""Fuzzer benchmark: state-machine steps per second at 10, 100 and 1,000 accounts, and the
time the fuzzer takes to find each seeded bug (tests/seeded_bugs.py).

    .venv/bin/python bench/fuzz.py [--bugs-only] [--repeats 3] [--budget 60]

Steps are every rule call (applied, refused or without candidate), each followed by all 12
step invariants, and by the 3 relational ones after a liquidation. Time-to-find: random
(not derandomized) generation without shrinking, until the bug's invariant fails or the
budget runs out; median over --repeats runs. Results: bench/results/fuzz.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, Phase, settings  # noqa: E402

from waterfall.model.loader import catalogue, load_mechanism  # noqa: E402
from waterfall.proofs.fuzz.machines import Tally, search  # noqa: E402
from seeded_bugs import SEEDED_BUGS, apply  # noqa: E402


class Patch:
    """A minimal monkeypatch that can be undone."""

    def __init__(self) -> None:
        self.undo_list: list = []

    def setattr(self, target, name, value) -> None:
        self.undo_list.append((setattr, target, name, getattr(target, name)))
        setattr(target, name, value)

    def setitem(self, target, name, value) -> None:
        self.undo_list.append((dict.__setitem__, target, name, target[name]))
        target[name] = value

    def undo(self) -> None:
        for fn, target, name, old in reversed(self.undo_list):
            fn(target, name, old)
        self.undo_list.clear()


def throughput(n: int, seconds: float, length: int) -> dict:
    """Steps per second of the generic mechanism's machine with n accounts per venue and
    sequences of up to `length` steps (25 = the CI profile, 60 = the fuzz profile). One
    search per 50 sequences, so Hypothesis' per-search set-up is amortised as in a campaign."""
    mech = load_mechanism(catalogue()["generic-socialized-loss"])
    tally, start = Tally(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        cfg = settings(max_examples=50, stateful_step_count=length, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck),
                       phases=[Phase.generate], derandomize=False)
        search(mech, frozenset(mech.claims), cfg, tally, accounts=(n, n))
    spent = time.perf_counter() - start
    steps = sum(tally.ran.values()) + sum(tally.refused.values()) + sum(tally.no_candidate.values())
    return {"accounts": n, "length": length, "seconds": round(spent, 2), "sequences": tally.examples,
            "steps": steps, "steps_per_s": round(steps / spent, 1), "liquidations": tally.ran["liquidate"]}


def time_to_find(bug, budget: float) -> float | None:
    """Seconds until a random search refutes the bug, or None within the budget."""
    mech = bug.adapt(load_mechanism(catalogue()[bug.mechanism]))
    patch = Patch()
    apply(bug, patch)
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < budget:
            cfg = settings(max_examples=20, stateful_step_count=25, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck),
                           phases=[Phase.generate], derandomize=False)
            if search(mech, bug.catches, cfg).failure:
                return time.perf_counter() - start
        return None
    finally:
        patch.undo()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=10.0, help="per throughput cell")
    ap.add_argument("--bugs-only", action="store_true")
    args = ap.parse_args()
    out: dict = {"throughput": [], "bugs": []}
    if not args.bugs_only:
        print(f"{'accounts':>8} {'length':>6} {'steps/s':>9} {'steps':>7} {'liquidations':>12}")
        for n in (10, 100, 1000):
            for length in (25, 60):
                row = throughput(n, args.seconds, length)
                out["throughput"].append(row)
                print(f"{n:>8} {length:>6} {row['steps_per_s']:>9} {row['steps']:>7} {row['liquidations']:>12}",
                      flush=True)
    print(f"\n{'seeded bug':<34} {'median s':>9}  runs (s; - = not found in {args.budget:.0f} s)")
    for bug in SEEDED_BUGS:
        runs = [time_to_find(bug, args.budget) for _ in range(args.repeats)]
        found = [r for r in runs if r is not None]
        med = statistics.median(found) if len(found) == len(runs) else None
        out["bugs"].append({"bug": bug.name, "runs_s": runs, "median_s": med})
        shown = ", ".join("-" if r is None else f"{r:.2f}" for r in runs)
        print(f"{bug.name:<34} {'-' if med is None else f'{med:9.2f}':>9}  {shown}", flush=True)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "fuzz.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0 if all(b["median_s"] is not None and b["median_s"] < 60 for b in out["bugs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
