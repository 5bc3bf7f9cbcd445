"""`waterfall prove`: the Z3 matrix over mechanisms x invariants, plus the all-N proofs
(R-PROVE-7).

One query per (mechanism, invariant) at N accounts, run in parallel (--jobs), with a
progress line per finished query on stderr. The matrix cell is the verdict (PROVED N<=k,
COUNTEREXAMPLE, UNKNOWN, TIMEOUT, VACUOUS, ENCODING MISMATCH, n/a) and its time; claimed
invariants are marked `*`. Counterexamples are printed as before/after ledgers (claimed
ones in full) and saved as scenarios with --save. Exit codes: 0 every claimed invariant
proved or not applicable; 1 a claimed invariant refuted, vacuous or mis-encoded; 2 bad
input; 3 inconclusive (a claimed invariant UNKNOWN or TIMEOUT, nothing refuted).
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import catalogue, load_mechanism, resolve_mechanism, scenario_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.step import step
from waterfall.spec.invariants import REGISTRY, RELATIONS

from . import verdict as V
from .cli_args import DAY, integer, out_dir, seconds
from .ledger import ledger, table
from .verdict import Verdict

EXIT_OK, EXIT_FINDING, EXIT_INPUT, EXIT_INCONCLUSIVE = 0, 1, 2, 3
INVARIANTS = list(REGISTRY) + list(RELATIONS)
MAX_ACCOUNTS = 64  # R-CLI-1: a larger symbolic venue would not finish (`--accounts 100000` hung)


def add_parser(sub: Any) -> None:
    """Register the `prove` subcommand."""
    p = sub.add_parser("prove", help="prove the invariants with Z3 (N accounts) and for all N (sympy / induction)")
    add_query_args(p)
    p.add_argument("--invariant", action="append", help="invariant ID (repeatable; default: all)")
    p.add_argument("--encoding", choices=("lemmas", "named", "div"), default="lemmas",
                   help="allocation encoding (default lemmas; see proofs/symbolic.py)")
    p.add_argument("--no-all-n", action="store_true", help="skip the all-N proofs")
    p.add_argument("--save", metavar="DIR", type=out_dir, help="save every counterexample as a scenario file in DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prove)


def add_query_args(p: Any) -> None:
    """The options of a Z3 matrix run, shared by `prove` and `report`."""
    p.add_argument("--mechanism", action="append", help="catalogue id or TOML file (repeatable; default: all)")
    p.add_argument("--accounts", type=integer(2, MAX_ACCOUNTS), default=8,
                   help=f"N, accounts in the symbolic venue, 2 to {MAX_ACCOUNTS} (default 8)")
    p.add_argument("--timeout", type=seconds(DAY), default=60.0, help="seconds per Z3 query (default 60)")
    p.add_argument("--jobs", type=integer(1, 256), default=os.cpu_count() or 1, help="parallel queries (default: cores)")


def _job(path: str, invariant: str, n: int, timeout: float, encoding: str) -> dict[str, Any]:
    """One query in a worker process (mechanisms are reloaded from their file)."""
    from .prove import prove
    return prove(load_mechanism(path), invariant, n, timeout, encoding).to_json()


def run_matrix(mechs: list[Mechanism], invariants: list[str], n: int, timeout: float, jobs: int,
               encoding: str, progress: Any = sys.stderr) -> list[Verdict]:
    """Every (mechanism, invariant) query, in parallel, with a progress line each."""
    tasks = [(str(m.path), i) for m in mechs for i in invariants]
    out: list[Verdict] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_job, path, inv, n, timeout, encoding): (path, inv) for path, inv in tasks}
        by_path = {str(m.path): m for m in mechs}
        for k, fut in enumerate(as_completed(futures), start=1):
            try:
                v = Verdict(**fut.result())
            except Exception as e:  # a crash of the prover is a finding about the prover (exit 1)
                path, inv = futures[fut]
                m = by_path[path]
                v = Verdict(m.id, inv, V.UNKNOWN, n, reason=f"prover error: {type(e).__name__}: {e}",
                            stats={"error": True}, claimed=inv in m.claims)
            out.append(v)
            print(f"[{k}/{len(tasks)} {time.perf_counter() - start:6.1f}s] {v.mechanism} {v.invariant}: "
                  f"{v.short()}", file=progress, flush=True)
    order = {(str(m.path), i): k for k, (m, i) in enumerate((m, i) for m in mechs for i in invariants)}
    ids = {m.id: str(m.path) for m in mechs}
    return sorted(out, key=lambda v: order[(ids[v.mechanism], v.invariant)])


def exit_code(verdicts: list[Verdict]) -> int:
    """1 if a claimed invariant is refuted / vacuous / mis-encoded, else 3 if one is
    undecided, else 0 (unclaimed counterexamples are documented properties)."""
    claimed = [v for v in verdicts if v.claimed]
    if any(v.kind in V.FINDINGS for v in claimed) or any(v.kind == V.ENCODING_MISMATCH for v in verdicts) \
            or any(v.stats.get("error") for v in verdicts):
        return EXIT_FINDING
    if any(v.kind in (V.UNKNOWN, V.TIMEOUT) for v in claimed):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def matrix_text(mechs: list[Mechanism], invariants: list[str], verdicts: list[Verdict]) -> str:
    """Mechanisms down, invariants across; `*` marks a claimed invariant."""
    cell = {(v.mechanism, v.invariant): v for v in verdicts}
    rows = []
    for m in mechs:
        row = [m.id]
        for i in invariants:
            v = cell[(m.id, i)]
            short = {"PROVED N<=k": "PROVED", V.ENCODING_MISMATCH: "MISMATCH", V.COUNTEREXAMPLE: "CEX"}.get(v.kind, v.kind)
            row.append(("*" if v.claimed else " ") + short + ("" if v.kind == V.NOT_APPLICABLE else f" {v.seconds:.1f}s"))
        rows.append(row)
    return table(rows, ["mechanism"] + invariants)


def counterexample_text(v: Verdict, mech: Mechanism | None = None) -> str:
    """The counterexample replayed as a before/after ledger (`mech`: the mechanism proved, which
    a file given with --mechanism is; its id alone does not resolve outside the catalogue)."""
    head = f"{v.invariant} {'(claimed) ' if v.claimed else '(not claimed: documented property) '}" \
           f"refuted for {v.mechanism}: {v.reason}"
    return head + "\n" + counterexample_ledger(v, mech)


def counterexample_ledger(v: Verdict, mech: Mechanism | None = None) -> str:
    """The counterexample's operation replayed through the model, as a before/after ledger."""
    sc = scenario_from_doc(v.counterexample, f"<{v.mechanism} {v.invariant}>")
    post, _ = step(sc.state, sc.ops[0], mech or resolve_mechanism(v.mechanism))
    return ledger(sc.state, post)


def save(v: Verdict, directory: str) -> Path:
    """Write a counterexample scenario; returns its path."""
    path = Path(directory) / f"{v.mechanism}-{v.invariant}-z3.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(v.counterexample, indent=2) + "\n")
    return path


def cmd_prove(args: Any) -> int:
    """Run the matrix and the all-N proofs; print or emit JSON."""
    names = args.mechanism or sorted(catalogue())
    mechs = [resolve_mechanism(n) for n in names]
    invariants = args.invariant or INVARIANTS
    unknown = [i for i in invariants if i not in INVARIANTS]
    if unknown:
        raise WaterfallError(f"unknown invariant {unknown[0]!r} (known: {', '.join(INVARIANTS)})", invariant=unknown[0])
    if args.accounts < 2:
        raise WaterfallError(f"--accounts must be >= 2, got {args.accounts}", argument="--accounts")
    verdicts = run_matrix(mechs, invariants, args.accounts, args.timeout, args.jobs, args.encoding)
    all_n: list[Verdict] = []
    if not args.no_all_n:
        from .alln import all_n_verdicts
        all_n = [v for i in dict.fromkeys(invariants) for v in all_n_verdicts(i)]
    saved_by = [(str(save(v, args.save)), v.mechanism) for v in verdicts if v.counterexample and args.save]
    saved = [p for p, _ in saved_by]
    code = exit_code(verdicts + all_n)
    if args.json:
        print(json.dumps({"accounts": args.accounts, "encoding": args.encoding, "exit": code, "saved": saved,
                          "verdicts": [v.to_json() for v in verdicts],
                          "all_n": [v.to_json() for v in all_n]}, indent=2))
        return code
    print(f"Z3, {args.accounts} accounts, one market ({args.encoding} encoding); * = claimed by the mechanism")
    print(matrix_text(mechs, invariants, verdicts))
    by_id = {m.id: m for m in mechs}
    for v in verdicts:
        if v.kind in (V.COUNTEREXAMPLE,) and v.claimed:
            print("\n" + counterexample_text(v, by_id.get(v.mechanism)))
        elif v.kind in (V.UNKNOWN, V.TIMEOUT, V.VACUOUS, V.ENCODING_MISMATCH) and v.claimed:
            print(f"\n{v.mechanism} {v.invariant}: {v.kind}: {v.reason}")
    documented = [v for v in verdicts if v.kind == V.COUNTEREXAMPLE and not v.claimed]
    if documented:
        print("\nDocumented properties (not claimed, refuted by a replayed counterexample): "
              + ", ".join(f"{v.mechanism} {v.invariant}" for v in documented))
    if all_n:
        print("\nFor all N:")
        print(table([[v.invariant, v.mechanism, v.kind, f"{v.seconds:.2f}s", v.reason[:90]] for v in all_n],
                    ["invariant", "family", "verdict", "time", "argument"]))
    cat = catalogue()
    for p, mid in saved_by:
        own = "" if mid in cat else f" --mechanism {by_id[mid].path}"  # a file: its id names no mechanism
        print(f"saved {p} (replay: waterfall run {p}{own})")
    return code
