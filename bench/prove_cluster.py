"""Distributed prover benchmark (R-PROVE-13, issue 17 item 3): `waterfall prove --executor dask`
on a local Dask cluster of 1 and 2 worker processes: wall seconds, paths explored and paths
per second per mechanism, and the units of work (cases) run, rerun on a wrong key included.

    .venv/bin/python bench/prove_cluster.py [--workers 1,2] [--accounts 2] [--markets 1]
        [--mechanism generic-socialized-loss ...] [--operation liquidate ...] [--timeout 600]
        [--address tcp://host:8786] [--local]

The issue's two figures: paths/second against workers (the defaults: k = 2, m = 1, the three
core mechanisms, every operation) and the k = 4, m = 2 time (`--accounts 4 --markets 2
--workers 2`, each unit bounded by --timeout, a unit that runs out is a TIMEOUT cell). With
--address the workers are the scheduler's (--workers is then only a label); with --local the
single-process executor (`--executor local --jobs W`) is timed too. Each mechanism runs on
its own, one after the other, on the same cluster. Results: bench/results/prove_cluster.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from waterfall.cli.prove import INVARIANTS  # noqa: E402
from waterfall.model.loader import resolve_mechanism  # noqa: E402
from waterfall.proofs.prove import distributed as D  # noqa: E402
from waterfall.proofs.prove.harness import OPERATIONS, Sizes  # noqa: E402
from waterfall.proofs.prove.matrix import run_matrix  # noqa: E402

CORE = ("generic-socialized-loss", "drift-v2", "bitmex-adl")  # haircut, levy, ADL with a ratio ranking


def row(executor: str, workers: int, mech_id: str, seconds: float, out: tuple, extra: dict) -> dict:
    """One measured run: paths, paths/second, verdict kinds, whether every exploration completed."""
    verdicts, per_op = out
    ops = per_op[mech_id]
    paths = sum(d.get("paths", 0) for d in ops.values())
    kinds = Counter(v.kind for v in verdicts if v.claimed)
    per = {op: {k: d.get(k) for k in ("paths", "complete", "seconds", "cases", "reason", "error") if k in d}
           for op, d in ops.items()}
    return {"executor": executor, "workers": workers, "mechanism": mech_id, "seconds": round(seconds, 1),
            "paths": paths, "paths_per_second": round(paths / seconds, 2) if seconds else None,
            "complete": all(d.get("complete", False) for d in ops.values()),
            "claimed_verdicts": dict(sorted(kinds.items())), "operations": per, **extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--accounts", type=int, default=2)
    ap.add_argument("--markets", type=int, default=1)
    ap.add_argument("--mechanism", action="append")
    ap.add_argument("--operation", action="append", choices=OPERATIONS)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per unit of work (default 600)")
    ap.add_argument("--address", help="a running Dask scheduler instead of a local cluster")
    ap.add_argument("--local", action="store_true", help="also time the single-process executor")
    ap.add_argument("--out", default=str(ROOT / "bench/results/prove_cluster.json"))
    args = ap.parse_args()
    mechs = [resolve_mechanism(m) for m in (args.mechanism or CORE)]
    sizes, ops = Sizes(args.accounts, args.markets), args.operation or list(OPERATIONS)
    rows = []
    print(f"k={args.accounts} m={args.markets}, operations: {', '.join(ops)}; unit timeout {args.timeout:g}s")
    print(f"{'executor':<8} {'workers':>7} {'mechanism':<24} {'seconds':>8} {'paths':>7} {'paths/s':>8} "
          f"{'units':>6} {'reruns':>6}  complete  claimed verdicts")
    for w in [int(x) for x in args.workers.split(",")]:
        if args.local:
            for m in mechs:
                t0 = time.perf_counter()
                out = run_matrix([m], INVARIANTS, sizes, args.timeout, w, ops, progress=None)
                rows.append(row("local", w, m.id, time.perf_counter() - t0, out, {}))
                show(rows[-1])
        client = D.connect(args.address, w)
        try:
            for m in mechs:
                seen: list[D.Speculation] = []
                t0 = time.perf_counter()
                out = D.run_distributed([m], INVARIANTS, sizes, args.timeout, w, ops, progress=None, client=client,
                                        on_event=lambda _c, s: seen.append(s) if not seen else None)
                spec = seen[0] if seen else None
                case_s = [c.seconds for r in (spec.runs if spec else []) for c in r.stats]
                extra = {"units": spec.done if spec else 0, "reruns": spec.rerun if spec else 0,
                         "case_seconds": round(sum(case_s), 1), "largest_case_seconds": round(max(case_s, default=0), 1),
                         # no number of workers finishes before its largest case: the speed-up's bound
                         "speedup_bound": round(sum(case_s) / max(case_s), 2) if case_s and max(case_s) else None}
                rows.append(row("dask", w, m.id, time.perf_counter() - t0, out, extra))
                show(rows[-1])
        finally:
            D.close(client)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"accounts": args.accounts, "markets": args.markets, "operations": ops,
                                          "timeout": args.timeout, "rows": rows}, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


def show(r: dict) -> None:
    """One table line."""
    print(f"{r['executor']:<8} {r['workers']:>7} {r['mechanism']:<24} {r['seconds']:>8.1f} {r['paths']:>7} "
          f"{r['paths_per_second']:>8} {r.get('units', '-'):>6} {r.get('reruns', '-'):>6}  "
          f"{'yes' if r['complete'] else 'NO':<8}  {r['claimed_verdicts']}"
          + (f"  largest case {r['largest_case_seconds']}s of {r['case_seconds']}s" if "case_seconds" in r else ""),
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
