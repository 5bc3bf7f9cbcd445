"""Proof-time benchmark (issue 4 §7): seconds per (mechanism, invariant) for N = 2 .. 64
with the allocation encodings compared (proofs/symbolic.py: 'lemmas' = shares constrained
by the all-N facts, 'named' = exact fresh quotients, 'div' = Z3's own division) and the
long/short case split switched off ('lemmas-nosplit').

    .venv/bin/python bench/prove.py [--timeout 60] [--ns 2,4,8,16,32,64] [--encodings lemmas,named]

Once an encoding times out at some N for an invariant, larger N are not tried (marked >).
Results: bench/results/prove.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from waterfall.model.loader import catalogue, load_mechanism  # noqa: E402
from waterfall.proofs.prove import prove  # noqa: E402

CORE = [("generic-socialized-loss", "I-CONS"), ("generic-socialized-loss", "I-NONNEG"),
        ("generic-socialized-loss", "I-PROP"), ("bitmex-adl", "I-ADL-BOUND"), ("bitmex-adl", "I-CONS"),
        ("drift-v2", "I-BUDGET")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--ns", default="2,4,8,16,32,64")
    ap.add_argument("--encodings", default="lemmas,named,lemmas-nosplit",
                    help="lemmas, named, div; '-nosplit' = without the long/short case split")
    args = ap.parse_args()
    ns = [int(x) for x in args.ns.split(",")]
    cat, rows = catalogue(), []
    print(f"{'mechanism':<24} {'invariant':<12} {'encoding':<14} " + " ".join(f"{'N=' + str(n):>8}" for n in ns))
    for mid, inv in CORE:
        mech = load_mechanism(cat[mid])
        for enc in args.encodings.split(","):
            cells, stop = [], False
            for n in ns:
                if stop:
                    cells.append(">")
                    continue
                v = prove(mech, inv, n, args.timeout, enc.split("-")[0], minimise=False, split="nosplit" not in enc)
                rows.append({"mechanism": mid, "invariant": inv, "encoding": enc, "accounts": n,
                             "kind": v.kind, "seconds": v.seconds})
                cells.append(f"{v.seconds:.2f}" if v.kind.startswith("PROVED") else v.kind[:7])
                stop = not v.kind.startswith("PROVED")
            print(f"{mid:<24} {inv:<12} {enc:<14} " + " ".join(f"{c:>8}" for c in cells), flush=True)
    dest = ROOT / "bench" / "results"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "prove.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
