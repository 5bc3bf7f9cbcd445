"""Conformance throughput (issue 5 §6): vectors and steps per second through the pipe, for
the reference adapter (Python) and the independent Node.js implementation.

    .venv/bin/python bench/conform.py [--repeats 3]

Each run replays the committed vectors (spec/vectors) through `waterfall conform`'s runner:
one JSON line out, one back per step, response compared (schema-checked unless identical).
Throughput over the pipe is timed after the hello; the process start is reported apart. The Node.js
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

from waterfall.conformance.runner import Runner, load_vectors  # noqa: E402
from waterfall.conformance.engine import Engine  # noqa: E402
from waterfall.conformance.vectors import VECTORS_DIR  # noqa: E402

IMPLS = {"python-adapter": f"{sys.executable} -m waterfall.conformance.adapter",
         "node-generic": f"node {ROOT / 'docs/examples/node-generic/waterfall-node.mjs'}"}


def measure(command: str, mechanisms: list[str] | None, repeats: int) -> dict:
    """Median over `repeats` runs of: vectors/s and steps/s after the hello (the pipe), and
    the process start with its hello, timed apart."""
    vectors = load_vectors(VECTORS_DIR, mechanisms, None).vectors
    pipe, starts, passed, steps = [], [], 0, 0
    for _ in range(repeats):
        runner = Runner(Engine(command, 10.0))
        t0 = time.perf_counter()
        runner.start()
        t1 = time.perf_counter()
        results = [r for v in vectors for r in runner.run_vector(v)]
        t2 = time.perf_counter()
        runner.engine.stop()
        starts.append(t1 - t0)
        pipe.append(t2 - t1)
        steps, passed = len(results), sum(r.status == "pass" for r in results)
    t, t0 = statistics.median(pipe), statistics.median(starts)
    return {"vectors": len(vectors), "steps": steps, "passed": passed, "start_s": round(t0, 3),
            "seconds": round(t, 3), "vectors_per_s": round(len(vectors) / t, 1), "steps_per_s": round(steps / t, 1),
            "vectors_per_s_with_start": round(len(vectors) / (t + t0), 1)}


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
              f"{row['vectors_per_s']:>8} vectors/s {row['steps_per_s']:>8} steps/s over the pipe; start + hello "
              f"{row['start_s']:.3f} s; {row['vectors_per_s_with_start']} vectors/s with it ({row['passed']} passed)",
              flush=True)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "conform.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
