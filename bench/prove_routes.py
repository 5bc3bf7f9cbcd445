"""The two routes of issue 10 compared on the same question: does model.step keep an invariant
on every valid venue of k accounts and one market? (docs/proofs.md, "Choosing the route")

Route 1, CrossHair: a harness per (mechanism, invariant, k) builds the venue from plain int
arguments with the prover's own harness (proofs/prove/harness.py), assumes R-STATE-5 with a leading
assert (CrossHair's precondition), calls model.step and asserts the registry's predicate;
`crosshair check --analysis_kind asserts --report_all` says "Confirmed over all paths" only when
it exhausted every path. Route 2, waterfall prove: proofs/prove/symexec.py's path exploration.

    .venv/bin/python bench/prove_routes.py [--seconds 300] [--mechanism generic-socialized-loss ...]

Prints a table: per case, each route's result and wall time.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = '''
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import resolve_mechanism
from waterfall.model.state import validate_state
from waterfall.model.step import step
from waterfall.proofs.prove.harness import Case, build
from waterfall.spec.invariants import REGISTRY

MECH = resolve_mechanism({mech!r})
CASE = Case("liquidate", {k}, 1, ("M0",), True)
NAMES = {names!r}


def valid(values):
    state, _ = build(MECH, CASE, lambda n: values[n])
    try:
        validate_state(state)
    except WaterfallError:
        return False
    return True


def check({params}) -> None:
    assert valid(dict(zip(NAMES, [{args}])))
    values = dict(zip(NAMES, [{args}]))
    state, op = build(MECH, CASE, lambda n: values[n])
    try:
        post, events = step(state, op, MECH)
    except WaterfallError:
        return
    assert REGISTRY[{inv!r}].holds(state, op, post, events, MECH)
'''


def names_of(mech_id: str, k: int) -> list[str]:
    """The harness's unknowns for a liquidation case (in build order)."""
    from waterfall.model.loader import resolve_mechanism
    from waterfall.proofs.prove.harness import Case, build
    names: list[str] = []
    build(resolve_mechanism(mech_id), Case("liquidate", k, 1, ("M0",), True), lambda n: names.append(n) or 1)
    return names


def crosshair(mech_id: str, inv: str, k: int, seconds: float) -> tuple[str, float]:
    """Route 1: CrossHair on the harness; its last line and the wall time."""
    names = names_of(mech_id, k)
    params = ", ".join(f"v{i}: int" for i in range(len(names)))
    src = HARNESS.format(mech=mech_id, k=k, names=names, inv=inv, params=params,
                         args=", ".join(f"v{i}" for i in range(len(names))))
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "route_harness.py").write_text(src)
        t0 = time.perf_counter()
        try:
            p = subprocess.run([sys.executable, "-m", "crosshair", "check", "--analysis_kind", "asserts", "--report_all",
                                "--per_condition_timeout", str(seconds), "route_harness.check"],
                               cwd=d, capture_output=True, text=True, timeout=seconds * 2 + 60)
        except subprocess.TimeoutExpired:
            return f"no verdict: killed after {seconds * 2 + 60:.0f} s wall", time.perf_counter() - t0
        wall = time.perf_counter() - t0
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
    return (lines[-1].split(": ", 2)[-1] if lines else f"exit {p.returncode}"), wall


def waterfall(mech_id: str, inv: str, k: int, seconds: float) -> tuple[str, float]:
    """Route 2: waterfall prove's engine on the same case (no small-scope search)."""
    from waterfall.model.loader import resolve_mechanism
    from waterfall.proofs.prove.harness import Sizes
    from waterfall.proofs.prove.prover import prove_mechanism
    t0 = time.perf_counter()
    vs, cases = prove_mechanism(resolve_mechanism(mech_id), [inv], Sizes(k, 1, smaller=False), ["liquidate"],
                                seconds, samples=0)
    return f"{vs[0].kind} ({sum(c.paths for c in cases)} paths)", time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--mechanism", action="append")
    ap.add_argument("--invariant", action="append")
    ap.add_argument("--accounts", type=int, action="append")
    args = ap.parse_args()
    rows = []
    for mech_id in args.mechanism or ["generic-socialized-loss", "drift-v2", "bitmex-adl"]:
        for inv in args.invariant or ["I-CONS", "I-NOLOSS"]:
            for k in args.accounts or [2]:
                ch, ch_s = crosshair(mech_id, inv, k, args.seconds)
                wf, wf_s = waterfall(mech_id, inv, k, args.seconds)
                rows.append((mech_id, inv, k, ch, ch_s, wf, wf_s))
                print(f"| {mech_id} | {inv} | {k} | {ch} | {ch_s:.0f} s | {wf} | {wf_s:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
