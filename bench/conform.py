"""Conformance throughput (issue 5 §6): vectors and steps per second through the pipe, for
the reference adapter (Python) and the independent Node.js implementation.

    .venv/bin/python bench/conform.py [--repeats 3]

Each run replays the committed vectors (spec/vectors) through `waterfall conform`'s runner:
one JSON line out, one back per step, response schema-checked and compared. The Node.js
implementation covers one mechanism, so it gets that mechanism's vectors; the adapter gets
both that subset and every vector. Results: bench/results/conform.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proofs.conform import Implementation, load_vectors, run  # noqa: E402
from proofs.vectors import VECTORS_DIR  # noqa: E402

IMPLS = {"python-adapter": f"{sys.executable} -m proofs.adapter",
         "node-generic": f"node {ROOT / 'docs/examples/node-generic/waterfall-node.mjs'}"}


def measure(command: str, mechanisms: list[str] | None, repeats: int) -> dict:
    """Median vectors/s and steps/s over `repeats` runs (process start included)."""
    vectors, _ = load_vectors(VECTORS_DIR, mechanisms, None)
    times, passed, steps = [], 0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        results = list(run(vectors, Implementation(command, 10.0)))
        times.append(time.perf_counter() - start)
        steps, passed = len(results), sum(r.status == "pass" for r in results)
    t = statistics.median(times)
    return {"vectors": len(vectors), "steps": steps, "passed": passed, "seconds": round(t, 3),
            "vectors_per_s": round(len(vectors) / t, 1), "steps_per_s": round(steps / t, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for name, mechs in (("python-adapter", None), ("python-adapter", ["generic-socialized-loss"]),
                        ("node-generic", ["generic-socialized-loss"])):
        row = {"implementation": name, "mechanisms": mechs or "all", **measure(IMPLS[name], mechs, args.repeats)}
        rows.append(row)
        print(f"{name:<15} {str(row['mechanisms']):<28} {row['vectors']:>4} vectors {row['steps']:>4} steps "
              f"{row['vectors_per_s']:>8} vectors/s {row['steps_per_s']:>8} steps/s ({row['passed']} passed)", flush=True)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "conform.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
