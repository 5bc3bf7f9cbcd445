"""Proof-time benchmark (issue 10 §7): seconds to prove every invariant of a mechanism on
model.step itself, per operation, against k = 2 .. 6 accounts (one market), and the largest k
each reaches within the time limit; the path counts show where path explosion caps k.

    .venv/bin/python bench/prove.py [--timeout 60] [--ks 2,3,4,5,6] [--operation liquidate ...]
                                    [--mechanism generic-socialized-loss ...] [--markets 1]

A cell is the wall time of every case of that operation on venues of exactly k accounts (no
smaller sizes, no small-scope search) when every path was explored and no claim refuted (a
claim one operation alone never exercises is UNREACHED there and counts as explored), else
the worst kind; once a k times out, larger k are not tried (marked >).
Results: bench/results/prove.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from waterfall.model.loader import catalogue, load_mechanism  # noqa: E402
from waterfall.proofs import verdict as V  # noqa: E402
from waterfall.proofs.prove.harness import OPERATIONS, Sizes  # noqa: E402
from waterfall.proofs.prove.prover import prove_mechanism  # noqa: E402
from waterfall.spec.invariants import REGISTRY  # noqa: E402

CORE = ("generic-socialized-loss", "drift-v2", "bitmex-adl")  # haircut, levy, ADL with a ratio ranking


def cell(mech_id: str, op: str, k: int, m: int, timeout: float) -> dict[str, object]:
    """Every invariant, every case of one operation, venues of exactly k accounts and m markets."""
    mech = load_mechanism(catalogue()[mech_id])
    t0 = time.perf_counter()
    vs, cases = prove_mechanism(mech, list(REGISTRY), Sizes(k, m, smaller=False), [op], timeout, samples=0)
    # one operation alone need not exercise every claim (UNREACHED: its trigger fires in another
    # operation), so a cell is judged by the exploration: complete, and no claim refuted
    claimed = [v for v in vs if v.claimed and v.kind != V.NOT_APPLICABLE]
    bad = (V.COUNTEREXAMPLE, V.TIMEOUT, V.UNKNOWN, V.VACUOUS, V.ENCODING_MISMATCH)
    worst = next((v.kind for v in claimed if v.kind in bad), None)
    if worst is None:
        worst = V.PROVED_UP_TO if all(c.complete for c in cases) else V.TIMEOUT
    return {"mechanism": mech_id, "operation": op, "accounts": k, "markets": m, "kind": worst,
            "seconds": round(time.perf_counter() - t0, 2), "paths": sum(c.paths for c in cases),
            "solver_calls": sum(c.solver_calls for c in cases)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    ap.add_argument("--ks", default="2,3,4,5,6")
    ap.add_argument("--markets", type=int, default=1)
    ap.add_argument("--mechanism", action="append")
    ap.add_argument("--operation", action="append", choices=OPERATIONS)
    args = ap.parse_args()
    ks = [int(x) for x in args.ks.split(",")]
    rows = []
    print(f"{'mechanism':<24} {'operation':<10} " + " ".join(f"{'k=' + str(k):>18}" for k in ks) + "   largest k")
    for mid in args.mechanism or CORE:
        for op in args.operation or ["deposit", "trade", "liquidate"]:
            cells, best, stop = [], None, False
            for k in ks:
                if stop:
                    cells.append(">")
                    continue
                r = cell(mid, op, k, args.markets, args.timeout)
                rows.append(r)
                ok = r["kind"] == V.PROVED_UP_TO
                best = k if ok else best
                cells.append(f"{r['seconds']:.1f}s/{r['paths']}p" if ok else f"{str(r['kind'])[:7]}/{r['paths']}p")
                stop = r["kind"] in (V.TIMEOUT, V.UNKNOWN)
            print(f"{mid:<24} {op:<10} " + " ".join(f"{c:>18}" for c in cells) + f"   {best}", flush=True)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "prove.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
