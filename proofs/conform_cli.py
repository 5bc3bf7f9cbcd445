"""`waterfall vectors` and `waterfall conform` (R-CONF-1..4, spec/conformance.md).

conform exit codes: 0 every selected step passed (and at least one ran); 1 a step failed;
2 bad input (no vectors, an invalid vector, an implementation that cannot start).
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
import time
from pathlib import Path
from typing import Any

from waterfall.model.loader import catalogue, resolve_mechanism

from .conform import Implementation, StepResult, junit, load_vectors, report, run
from .vectors import VECTORS_DIR, generate


def add_parser(sub: Any) -> None:
    """Register the `vectors` and `conform` subcommands."""
    v = sub.add_parser("vectors", help="generate conformance vectors from the reference model")
    v.add_argument("--out", required=True, help="directory to write (DIR/MECHANISM/ID.json, DIR/manifest.json)")
    v.add_argument("--mechanism", action="append", help="catalogue id or TOML file (repeatable; default: all)")
    v.set_defaults(func=cmd_vectors)
    c = sub.add_parser("conform", help="run the vectors through an implementation (JSON lines on stdin/stdout)")
    c.add_argument("--impl", required=True, metavar="'CMD ARGS'", help="the implementation's command line")
    c.add_argument("--vectors", default=str(VECTORS_DIR), help="vector directory (default: the committed set)")
    c.add_argument("--mechanism", action="append", help="only these mechanism ids (repeatable)")
    c.add_argument("--filter", help="only vectors whose MECHANISM/ID contains this text")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds per step (default 10)")
    c.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    c.add_argument("--json", action="store_true", help="print the JSON report instead of text")
    c.add_argument("--fuzz", type=int, metavar="N", help="differential fuzzing: N generated scenarios instead of the vectors")
    c.add_argument("--seed", type=int, help="with --fuzz: derandomized (repeatable) generation")
    c.add_argument("--save", default="conform-found", help="with --fuzz: where a disagreement is saved as a vector")
    c.set_defaults(func=cmd_conform)


def cmd_vectors(args: Any) -> int:
    """Write the vectors; print a summary."""
    mechs = [resolve_mechanism(m) for m in args.mechanism] if args.mechanism else None
    manifest = generate(Path(args.out), mechs)
    steps = sum(e["steps"] for e in manifest["vectors"])
    print(f"wrote {len(manifest['vectors'])} vectors ({steps} steps) and manifest.json to {args.out}")
    return 0


def cmd_fuzz(args: Any) -> int:
    """R-CONF-6: differential fuzzing; a disagreement is shrunk, printed and saved."""
    from .conform_fuzz import differential, save
    names = args.mechanism or sorted(catalogue())
    out = differential(args.impl, [resolve_mechanism(m) for m in names], args.fuzz, args.timeout, args.seed)
    path = save(out.vector, Path(args.save)) if out.failure else None
    if args.json:  # --json is JSON here too (R-CLI-5)
        print(json.dumps({"scenarios": out.examples, "disagreements": [asdict(r) for r in out.failure],
                          "saved": str(path) if path else None}, indent=2))
        return 1 if out.failure else 0
    if not out.failure:
        print(f"{out.examples} scenarios, no disagreement with the reference model")
        return 0
    for r in out.failure:
        print(f"DISAGREE step {r.step}: {r.reason}\n    " + r.detail.replace("\n", "\n    "))
    print(f"minimal scenario saved as {path} (replay: waterfall conform --impl ... --vectors {args.save})")
    return 1


def cmd_conform(args: Any) -> int:
    """Run, print per-vector verdicts with diffs (or JSON), write JUnit; exit code."""
    if args.fuzz:
        return cmd_fuzz(args)
    vectors, skipped = load_vectors(Path(args.vectors), args.mechanism, args.filter)
    impl = Implementation(args.impl, args.timeout)
    results: list[StepResult] = []
    start, last = time.perf_counter(), None
    for r in run(vectors, impl):
        results.append(r)
        if not args.json and r.status == "fail":
            print(f"FAIL {r.vector} step {r.step}: {r.reason}\n    " + r.detail.replace("\n", "\n    "))
        if r.vector != last:
            print(f"[{len(results)} steps {time.perf_counter() - start:5.1f}s] {r.vector}", file=sys.stderr, flush=True)
            last = r.vector
    out = report(results, skipped, impl)
    if args.junit:
        Path(args.junit).write_text(junit(results, skipped), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['passed']} of {out['steps']} steps passed in {len(vectors)} vectors, "
              f"{out['failed']} failed, {skipped} vectors skipped by filter "
              f"({time.perf_counter() - start:.1f} s)")
    return 0 if out["steps"] and not out["failed"] else 1
