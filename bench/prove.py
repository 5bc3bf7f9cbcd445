"""Proof-time benchmark (issue 10 §7, issue 17 item 6): seconds to prove every invariant of a
mechanism on model.step itself, per operation, against k = 2 .. 5 accounts and m = 1 .. 2
markets, in a single process and on a local Dask cluster (R-PROVE-13), with the largest k each
(mechanism, operation, m, executor) reaches within 60 s and within 600 s.

    .venv/bin/python bench/prove.py [--timeout 60] [--ks 2,3,4,5] [--ms 1,2]
        [--executor local --executor dask] [--workers 2]
        [--mechanism generic-socialized-loss ...] [--operation liquidate ...]
        [--markdown bench/results/prove.md] [--out bench/results/prove.json]

A cell is one operation, every case, on venues of exactly k accounts and m markets (no smaller
sizes, no small-scope search: the exhaustive path search alone, R-PROVE-2), every step
invariant of the registry (no relations). Its verdict is the worst kind among the claimed
invariants (COUNTEREXAMPLE, TIMEOUT, UNKNOWN, VACUOUS, ENCODING MISMATCH), else PROVED when every
path of every case was explored (a claim one operation alone never exercises is UNREACHED there
and does not count against the cell), else TIMEOUT. --timeout is the cell's budget in seconds:
the single process spends it on the whole operation; on Dask it bounds each unit (one case)
and a cell whose wall time exceeds the budget counts as TIMEOUT (OVER) too. Once a k does not
finish, larger k of that row are not tried (">").

"largest k in 60 s / 600 s" is the largest k whose cell was PROVED within that many seconds; a
row measured with a budget below 600 s only bounds the 600 s column from below ("≥ k").
Results: bench/results/prove.json (every cell) and a Markdown table (stdout, and --markdown).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from waterfall.model.loader import catalogue, load_mechanism  # noqa: E402
from waterfall.model.mechanism import Mechanism  # noqa: E402
from waterfall.proofs import verdict as V  # noqa: E402
from waterfall.proofs.prove.harness import OPERATIONS, Sizes, operations_for  # noqa: E402
from waterfall.proofs.prove.prover import prove_mechanism  # noqa: E402
from waterfall.spec.invariants import REGISTRY  # noqa: E402

CORE = ("generic-socialized-loss", "chitra-queue", "dydx-v4-deleveraging")  # haircut, queue haircut, ADL
BAD = (V.COUNTEREXAMPLE, V.TIMEOUT, V.UNKNOWN, V.VACUOUS, V.ENCODING_MISMATCH)
STOPS = (V.TIMEOUT, V.UNKNOWN)


def judged(verdicts: list[Any], complete: bool) -> str:
    """A cell's kind: the worst claimed verdict, else PROVED if every path was explored."""
    claimed = [v for v in verdicts if v.claimed and v.kind != V.NOT_APPLICABLE]
    worst = next((v.kind for v in claimed if v.kind in BAD), None)
    return str(worst) if worst is not None else (V.PROVED_UP_TO if complete else V.TIMEOUT)


def cell_local(mech: Mechanism, op: str, k: int, m: int, budget: float) -> dict[str, Any]:
    """Every invariant, every case of one operation, venues of exactly k accounts and m markets,
    in this process (the exhaustive search alone: samples=0)."""
    t0 = time.perf_counter()
    vs, cases = prove_mechanism(mech, list(REGISTRY), Sizes(k, m, smaller=False), [op], budget, samples=0)
    return {"kind": judged(vs, all(c.complete for c in cases)), "seconds": round(time.perf_counter() - t0, 2),
            "paths": sum(c.paths for c in cases), "cases": len(cases),
            "solver_calls": sum(c.solver_calls for c in cases)}


def cell_dask(client: Any, workers: int, mech: Mechanism, op: str, k: int, m: int, budget: float) -> dict[str, Any]:
    """The same cell through `--executor dask` (R-PROVE-13): one unit per case on the cluster,
    each bounded by `budget`; the small-scope search unit is switched off (as in cell_local)."""
    from waterfall.proofs.prove import distributed as D
    D.SAMPLES = 0  # the bench measures the exhaustive search; sample_unit then does nothing
    t0 = time.perf_counter()
    vs, per_op = D.run_distributed([mech], list(REGISTRY), Sizes(k, m, smaller=False), budget, workers, [op],
                                   progress=None, client=client)
    seconds = time.perf_counter() - t0
    d = per_op[mech.id][op]
    kind = V.UNKNOWN if "error" in d else judged(vs, d.get("complete", False))
    if kind == V.PROVED_UP_TO and seconds > budget:
        kind = "OVER"  # every unit finished within the budget, the cell as a whole did not
    return {"kind": str(kind), "seconds": round(seconds, 2), "paths": d.get("paths", 0), "cases": d.get("cases", 0),
            "error": d.get("error", "")}


def largest(cells: dict[int, dict[str, Any]], within: float) -> int | None:
    """The largest k whose cell was PROVED within `within` seconds."""
    ok = [k for k, c in cells.items() if c["kind"] == V.PROVED_UP_TO and c["seconds"] <= within]
    return max(ok) if ok else None


def show(c: dict[str, Any] | None) -> str:
    """One Markdown cell: seconds / paths, or the kind / paths, or '>' (not tried)."""
    if c is None:
        return ">"
    if c["kind"] == V.PROVED_UP_TO:
        return f"{c['seconds']:.1f} s / {c['paths']:,}"
    name = {V.TIMEOUT: "TIMEOUT", V.COUNTEREXAMPLE: "CEX", V.UNKNOWN: "UNKNOWN"}.get(c["kind"], str(c["kind"]))
    return f"{name} ({c['seconds']:.0f} s / {c['paths']:,})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    ap.add_argument("--ks", default="2,3,4,5")
    ap.add_argument("--ms", default="1,2")
    ap.add_argument("--mechanism", action="append", choices=sorted(catalogue()))
    ap.add_argument("--operation", action="append", choices=OPERATIONS)
    ap.add_argument("--executor", action="append", choices=("local", "dask"))
    ap.add_argument("--workers", type=int, default=2, help="Dask local cluster workers (default 2)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/prove.json"))
    ap.add_argument("--markdown", help="also write the Markdown table here")
    args = ap.parse_args()
    ks, ms = [int(x) for x in args.ks.split(",")], [int(x) for x in args.ms.split(",")]
    rows: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M")
    for ex in args.executor or ["local", "dask"]:
        client = None
        if ex == "dask":
            from waterfall.proofs.prove import distributed as D
            client = D.connect(None, args.workers)
        try:
            for mid in args.mechanism or CORE:
                mech = load_mechanism(catalogue()[mid])
                for op in [o for o in (args.operation or OPERATIONS) if o in operations_for(mech)]:
                    for m in ms:
                        cells: dict[int, dict[str, Any]] = {}
                        for k in ks:
                            c = (cell_local(mech, op, k, m, args.timeout) if client is None
                                 else cell_dask(client, args.workers, mech, op, k, m, args.timeout))
                            cells[k] = {"accounts": k, **c}
                            print(f"{ex:<5} {mid:<24} {op:<12} m={m} k={k}: {show(cells[k])}", file=sys.stderr, flush=True)
                            if c["kind"] in STOPS or c["kind"] == "OVER":
                                break
                        rows.append({"executor": ex, "workers": args.workers if client else 1, "mechanism": mid,
                                     "operation": op, "markets": m, "cells": cells,
                                     "largest_60": largest(cells, 60.0), "largest_600": largest(cells, 600.0),
                                     "budget": args.timeout})
        finally:
            if client is not None:
                D.close(client)
    table = markdown(rows, ks, args.timeout)
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"started": started, "argv": sys.argv[1:], "cpus": os.cpu_count(),
                                          "rows": rows}, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    return 0


def markdown(rows: list[dict[str, Any]], ks: list[int], budget: float) -> str:
    """The table: one row per (mechanism, operation, m, executor)."""
    head = ("| mechanism | operation | m | executor | " + " | ".join(f"k={k}" for k in ks)
            + " | largest k in 60 s | largest k in 600 s |")
    lines = [head, "|" + "---|" * (len(ks) + 6)]
    for r in rows:
        best = largest(r["cells"], budget)
        long = r["largest_600"] if budget >= 600 else (f"≥ {best}" if best is not None else "?")
        ex = r["executor"] if r["executor"] == "local" else f"dask ×{r['workers']}"
        lines.append(f"| {r['mechanism']} | {r['operation']} | {r['markets']} | {ex} | "
                     + " | ".join(show(r["cells"].get(k)) for k in ks)
                     + f" | {r['largest_60'] if r['largest_60'] is not None else '–'} | {long} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
