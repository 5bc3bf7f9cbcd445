"""`waterfall prove`: the registry's invariants proved on `model.step` itself, over every
operation and every valid venue of up to k accounts and m markets (R-PROVE-1..9).

One task per (mechanism, operation kind), run in parallel (--jobs), each exploring every
path of the model's code over unknowns (proofs/prove/prover.py) within --timeout seconds, with a
progress line per finished case on stderr. The evidence of a mechanism's operations is
merged into one verdict per invariant: PROVED N<=k M<=m, COUNTEREXAMPLE (replayed through
the model), UNKNOWN / TIMEOUT, or a sanity failure (VACUOUS, UNREACHED, TRIVIAL), never
shown as proved. Claimed invariants are marked `*`. A table per operation shows the paths
explored. Counterexamples are printed as failing sequences and saved with --save. The
all-N results (proofs/alln.py) are statements about the rules, not about the code, and are
listed apart. Exit codes: 0 every claimed invariant proved or not applicable; 1 a claimed
invariant refuted, vacuous or mis-encoded, or a prover crash; 2 bad input; 3 a claimed
invariant undecided (UNKNOWN, TIMEOUT) or not honestly proved (UNREACHED, TRIVIAL).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import catalogue, resolve_mechanism, scenario_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.step import step
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.report import ci_outputs
from waterfall.proofs import verdict as V
from waterfall.cli.args import DAY, integer, out_dir, out_file, seconds
from waterfall.proofs.prove.harness import OPERATIONS, Sizes
from waterfall.proofs.prove.matrix import run_matrix
from waterfall.report.hints import replay_hint
from waterfall.proofs.prove.budgets import DEFAULT_MEMORY_MB, DEFAULT_RLIMIT
from waterfall.report.ledger import ledger, table
from waterfall.proofs.verdict import Verdict

EXIT_OK, EXIT_FINDING, EXIT_INPUT, EXIT_INCONCLUSIVE = 0, 1, 2, 3
INVARIANTS = list(REGISTRY) + list(RELATIONS)
DEFAULT_SIZES = Sizes(2, 1)  # what completes for the whole catalogue in minutes (docs/proofs.md, Speed)
DEFAULT_TIMEOUT = 600.0
MAX_ACCOUNTS, MAX_MARKETS = 8, 4  # beyond these the path count is out of reach (docs/proofs.md)
EXECUTORS = ("local", "dask")  # R-PROVE-13


def add_parser(sub: Any) -> None:
    """Register the `prove` subcommand."""
    p = sub.add_parser("prove", help="prove the invariants on model.step itself (every path, up to k accounts, m markets)")
    add_query_args(p)
    p.add_argument("--invariant", action="append", help="invariant ID (repeatable; default: all)")
    p.add_argument("--no-all-n", action="store_true", help="skip the all-N statements about the rules")
    p.add_argument("--save", metavar="DIR", type=out_dir, help="save every counterexample as a scenario file in DIR")
    p.add_argument("--json", action="store_true")
    p.add_argument("--junit", metavar="FILE", type=out_file,
                   help="also write JUnit XML (a testcase per mechanism and invariant)")
    p.add_argument("--sarif", metavar="FILE", type=out_file, help="also write SARIF 2.1.0 (claimed invariants refuted)")
    p.set_defaults(func=cmd_prove)


def add_query_args(p: Any) -> None:
    """The options of a proof run, shared by `prove` and `report`."""
    p.add_argument("--mechanism", action="append", help="catalogue id or TOML file (repeatable; default: all)")
    p.add_argument("--accounts", type=int, default=DEFAULT_SIZES.accounts,
                   help=f"k: prove every venue of 2..k accounts, k at most {MAX_ACCOUNTS} (default {DEFAULT_SIZES.accounts})")
    p.add_argument("--markets", type=int, default=DEFAULT_SIZES.markets,
                   help=f"m: and of 1..m markets, m at most {MAX_MARKETS} (default {DEFAULT_SIZES.markets})")
    p.add_argument("--operation", action="append", choices=OPERATIONS,
                   help="operation kind (repeatable; default: all)")
    p.add_argument("--timeout", type=seconds(DAY), default=DEFAULT_TIMEOUT,
                   help=f"seconds per mechanism and operation (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--max-paths", type=integer(1, 10**9), default=50_000,
                   help="paths per case before UNKNOWN (default 50000)")
    p.add_argument("--rlimit", type=integer(10**6, 10**12), default=DEFAULT_RLIMIT,
                   help=f"solver work per query, in Z3's resource units, before the branch is UNKNOWN: "
                        f"the same verdict on any machine, whatever its load (R-PROVE-11; default {DEFAULT_RLIMIT})")
    p.add_argument("--memory-mb", type=integer(0, 10**7), default=DEFAULT_MEMORY_MB,
                   help=f"address space of each (mechanism, operation) task's worker process, in MB; a task that "
                        f"needs more ends UNKNOWN ('memory budget of N MB exceeded'), never PROVED; 0: no cap "
                        f"(R-PROVE-14; default {DEFAULT_MEMORY_MB}; with --executor dask, each unit's process)")
    p.add_argument("--jobs", type=integer(1, 256), default=os.cpu_count() or 1,
                   help="parallel tasks; with --executor dask and no --address, local worker processes (default: cores)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: a process per (mechanism, operation) on this machine; dask: units of work (a case "
                        "each) on a Dask cluster, same verdicts (extra 'cluster'; default local)")
    p.add_argument("--address", metavar="SCHEDULER",
                   help="with --executor dask: the scheduler to use, e.g. tcp://host:8786 (default: start a local "
                        "cluster of --jobs workers)")


def exit_code(verdicts: list[Verdict]) -> int:
    """1 if a claimed invariant is refuted / vacuous / mis-encoded (or the prover crashed),
    else 3 if one is undecided or not honestly proved (UNREACHED, TRIVIAL), else 0
    (unclaimed counterexamples are documented properties)."""
    claimed = [v for v in verdicts if v.claimed]
    if any(v.kind in V.FINDINGS for v in claimed) or any(v.kind == V.ENCODING_MISMATCH for v in verdicts) \
            or any(v.stats.get("error") for v in verdicts):
        return EXIT_FINDING
    if any(v.kind in V.UNDECIDED for v in claimed):
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
            short = {V.PROVED_UP_TO: "PROVED", V.ENCODING_MISMATCH: "MISMATCH", V.COUNTEREXAMPLE: "CEX"}.get(v.kind, v.kind)
            row.append(("*" if v.claimed else " ") + short)
        rows.append(row)
    return table(rows, ["mechanism"] + invariants)


def operations_text(mechs: list[Mechanism], per_op: dict[str, Any]) -> str:
    """Mechanisms down, operations across: paths explored and whether every path was."""
    ops = list(dict.fromkeys(op for m in mechs for op in per_op[m.id]))
    rows = []
    for m in mechs:
        row = [m.id]
        for op in ops:
            d = per_op[m.id].get(op)
            if d is None:
                row.append("-")  # an operation the mechanism does not have
            elif "error" in d:
                row.append("ERROR")
            else:
                row.append(f"{d['paths']}{'' if d['complete'] else '+ INCOMPLETE'} {d['seconds']:.0f}s")
        rows.append(row)
    return table(rows, ["paths explored"] + ops)


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
    """Run the proofs and the all-N statements; print or emit JSON."""
    names = args.mechanism or sorted(catalogue())
    mechs = [resolve_mechanism(n) for n in names]
    invariants = args.invariant or INVARIANTS
    unknown = [i for i in invariants if i not in INVARIANTS]
    if unknown:
        raise WaterfallError(f"unknown invariant {unknown[0]!r} (known: {', '.join(INVARIANTS)})", invariant=unknown[0])
    sizes = sizes_from(args)
    verdicts, per_op = run_proofs(args, mechs, invariants, sizes)
    all_n: list[Verdict] = []
    if not args.no_all_n:
        from waterfall.proofs.alln import all_n_verdicts
        all_n = [v for i in dict.fromkeys(invariants) for v in all_n_verdicts(i)]
    saved_by = [(str(save(v, args.save)), v.mechanism) for v in verdicts if v.counterexample and args.save]
    saved = [p for p, _ in saved_by]
    code = exit_code(verdicts)
    ci_outputs.write(args, ci_outputs.verdict_cells(verdicts), mechs, "waterfall prove")  # --junit, --sarif
    if args.json:
        print(json.dumps({"accounts": sizes.accounts, "markets": sizes.markets, "exit": code, "saved": saved,
                          "verdicts": [v.to_json() for v in verdicts], "operations": per_op,
                          "all_n_rules": [v.to_json() for v in all_n]}, indent=2))
        return code
    print(f"model.step over every valid venue of up to {sizes.accounts} accounts and {sizes.markets} markets, "
          f"every operation; * = claimed by the mechanism")
    print(matrix_text(mechs, invariants, verdicts))
    print()
    print(operations_text(mechs, per_op))
    by_id = {m.id: m for m in mechs}
    for v in verdicts:
        if v.kind in (V.COUNTEREXAMPLE,) and v.claimed:
            print("\n" + counterexample_text(v, by_id.get(v.mechanism)))
        elif v.kind not in (V.PROVED_UP_TO, V.NOT_APPLICABLE, V.COUNTEREXAMPLE) and v.claimed:
            print(f"\n{v.mechanism} {v.invariant}: {v.kind}: {v.reason}")
    documented = [v for v in verdicts if v.kind == V.COUNTEREXAMPLE and not v.claimed]
    if documented:
        print("\nDocumented properties (not claimed, refuted by a replayed counterexample): "
              + ", ".join(f"{v.mechanism} {v.invariant}" for v in documented))
    if all_n:
        print("\nStatements about the rules for every N (proofs/alln.py: sympy and Z3 over abstract transfers, "
              "not about model.step; not the matrix's evidence):")
        print(table([[v.invariant, v.mechanism, v.kind, f"{v.seconds:.2f}s", v.reason[:90]] for v in all_n],
                    ["invariant", "family", "verdict", "time", "argument"]))
    for p, mid in saved_by:
        print(f"saved {p} (replay: {replay_hint(p, by_id[mid])})")
    return code


def run_proofs(args: Any, mechs: list[Mechanism], invariants: list[str], sizes: Sizes) -> tuple[list[Verdict], dict[str, Any]]:
    """The proof matrix on the chosen executor (R-PROVE-7 locally, R-PROVE-13 on Dask)."""
    relations = "all" if getattr(args, "invariant", None) else "claimed"  # R-PROVE-12
    if args.address and args.executor != "dask":
        raise WaterfallError("--address names a Dask scheduler: give it with --executor dask", argument="--address")
    if args.executor == "dask":
        from waterfall.proofs.prove.distributed import run_distributed
        return run_distributed(mechs, invariants, sizes, args.timeout, args.jobs, args.operation, args.max_paths,
                               address=args.address, rlimit=args.rlimit, relations=relations,
                               memory_mb=args.memory_mb or None)
    return run_matrix(mechs, invariants, sizes, args.timeout, args.jobs, args.operation, args.max_paths,
                      rlimit=args.rlimit, relations=relations, memory_mb=args.memory_mb or None)


def sizes_from(args: Any) -> Sizes:
    """k and m from the command line, checked."""
    if not 2 <= args.accounts <= MAX_ACCOUNTS:
        raise WaterfallError(f"--accounts must be between 2 and {MAX_ACCOUNTS}, got {args.accounts}", argument="--accounts")
    if not 1 <= args.markets <= MAX_MARKETS:
        raise WaterfallError(f"--markets must be between 1 and {MAX_MARKETS}, got {args.markets}", argument="--markets")
    return Sizes(args.accounts, args.markets)
