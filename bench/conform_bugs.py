"""Issue 13: the realistic engine bugs of tests/engine_bugs.py against the conformance kit.

    .venv/bin/python bench/conform_bugs.py [--seconds 60] [--seed 1] [--only NAME]

For each engine (the reference adapter with one bug, a subprocess): does `waterfall conform`
over the committed vectors fail it (and on which step first), and how long does
`waterfall conform --fuzz` (every catalogue and kit mechanism, the given seed, a deadline of
--seconds) take to find a disagreement? Results: bench/results/conform-bugs.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import engine_bugs  # noqa: E402

WATERFALL = [sys.executable, "-m", "waterfall.cli.main"]


def vectors_verdict(name: str) -> dict:
    """`conform` over the committed vectors: failed steps and the first one."""
    t0 = time.monotonic()
    p = subprocess.run([*WATERFALL, "conform", "--impl", engine_bugs.command(name), "--json"], capture_output=True,
                       text=True)
    out = json.loads(p.stdout)
    first = next((f"{r['vector']}#{r['step']} {r['reason']}" for r in out["results"] if r["status"] == "fail"), None)
    return {"exit": p.returncode, "failed_steps": out["failed"], "steps": out["steps"], "first": first,
            "seconds": round(time.monotonic() - t0, 1)}


def fuzz_verdict(name: str, seconds: float, seed: int) -> dict:
    """`conform --fuzz` until the deadline: when the first disagreement was found."""
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([*WATERFALL, "conform", "--impl", engine_bugs.command(name), "--fuzz", "1000000",
                            "--deadline", str(seconds), "--seed", str(seed), "--save", tmp, "--json"],
                           capture_output=True, text=True)
    out = json.loads(p.stdout)
    return {"exit": p.returncode, "found": bool(out["failure"]), "first_found": out["first_found"],
            "first_seconds": out["first_seconds"] if out["failure"] else None, "examples": out["examples"],
            "reason": out["failure"][0]["reason"] if out["failure"] else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    rows = []
    for bug in engine_bugs.ENGINE_BUGS:
        if args.only and bug.name not in args.only:
            continue
        v = vectors_verdict(bug.name)
        f = fuzz_verdict(bug.name, args.seconds, args.seed)
        rows.append({"bug": bug.name, "what": bug.what, "vectors": v, "fuzz": f})
        found = f"found in {f['first_seconds']:.1f} s ({f['first_found']} scenarios)" if f["found"] else \
            f"not found in {args.seconds:g} s ({f['examples']} scenarios)"
        print(f"{bug.name:36} vectors: {'CAUGHT' if v['exit'] == 1 and v['failed_steps'] else 'MISSED'} "
              f"({v['failed_steps']} steps failed; first {v['first']})  fuzz: {found}", flush=True)
    caught = sum(r["vectors"]["exit"] == 1 and r["vectors"]["failed_steps"] > 0 for r in rows)
    fuzzed = sum(r["fuzz"]["found"] for r in rows)
    print(f"\n{len(rows)} engines: vectors caught {caught}; fuzz found {fuzzed} within {args.seconds:g} s (seed {args.seed})")
    out = ROOT / "bench" / "results" / "conform-bugs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seconds": args.seconds, "seed": args.seed, "engines": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
