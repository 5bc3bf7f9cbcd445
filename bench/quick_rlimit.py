"""The incremental solver's budget (R-PROVE-11's QUICK_RLIMIT) against solver work: for each
budget, the CPU seconds, paths and verdicts of one operation of a mechanism on venues of up to k
accounts, each budget in a fresh process (CPU time, not wall: the figure holds on a busy machine).

    .venv/bin/python bench/quick_rlimit.py --mechanism generic-socialized-loss --operation liquidate \
        --accounts 3 --max-paths 60 --budgets 300000,10000

A query the incremental solver gives up on is asked again of fresh solvers (the LADDER), so a
budget that is too large is solver work thrown away; one that is too small sends easy queries
to the slower fresh solvers. Verdicts must not change with the budget (the ladder decides).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, sys, time
from waterfall.proofs.prove import symexec, prover as P
from waterfall.proofs.prove.harness import Sizes
from waterfall.model.loader import load_mechanism, catalogue
from waterfall.spec.invariants import REGISTRY
mech_id, op, k, max_paths, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
symexec.QUICK_RLIMIT = budget
mech = load_mechanism(catalogue()[mech_id])
invs = [i for i in mech.claims if i in REGISTRY]
c0 = time.process_time()
ev = P.prove_operation(mech, invs, Sizes(k, 1), op, 86400, max_paths=max_paths)
print(json.dumps(dict(budget=budget, cpu_s=round(time.process_time() - c0, 1),
                      paths=sum(c.paths for c in ev.cases),
                      verdicts={v.invariant: v.kind for v in P.verdicts(mech, invs, Sizes(k, 1), ev)})))
"""


def main() -> int:
    """One line of JSON per budget."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mechanism", default="generic-socialized-loss")
    ap.add_argument("--operation", default="liquidate")
    ap.add_argument("--accounts", type=int, default=2)
    ap.add_argument("--max-paths", type=int, default=50_000, help="paths per case (a cap makes k = 3 affordable)")
    ap.add_argument("--budgets", default="300000,10000")
    a = ap.parse_args()
    rows = []
    for b in a.budgets.split(","):
        out = subprocess.run([sys.executable, "-c", CHILD, a.mechanism, a.operation, str(a.accounts),
                              str(a.max_paths), b], capture_output=True, text=True)
        line = out.stdout.strip() or json.dumps({"budget": int(b), "error": out.stderr[-500:]})
        print(line, flush=True)
        rows.append(json.loads(line))
    same = len({json.dumps(r.get("verdicts"), sort_keys=True) for r in rows}) == 1
    print(f"verdicts identical across budgets: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
