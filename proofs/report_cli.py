"""`waterfall report [--out DIR]`: gather the evidence (Z3 matrix, all-N proofs, a short
derandomized fuzz run per mechanism) and write the audit report as Markdown and HTML
(R-REPORT-1). Exit codes as `waterfall prove` (0 / 1 finding / 2 bad input / 3 undecided);
a claimed invariant the fuzzer refutes is a finding too.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from waterfall.model.loader import catalogue, resolve_mechanism
from waterfall.spec import SCENARIOS_DIR

from .cli_args import integer, integer_list, out_dir
from .fuzz import Tally, search
from .prove_cli import EXIT_FINDING, INVARIANTS, add_query_args, exit_code, run_matrix
from .report import Evidence, build, time_against_n
from .ledger import table


def add_parser(sub: Any) -> None:
    """Register the `report` subcommand."""
    r = sub.add_parser("report", help="write the audit report (Markdown and HTML) from proofs, all-N and fuzzing")
    r.add_argument("--out", type=out_dir, default="build/report", help="directory (default build/report)")
    add_query_args(r)
    r.add_argument("--fuzz-examples", type=integer(1, 1_000_000), default=30, help="Hypothesis runs per mechanism (derandomized)")
    r.add_argument("--time-n", type=integer_list(2, 64), default="2,4,8,16", help="N values of the proof-time plot ('' to leave it out)")
    r.set_defaults(func=cmd_report)


def fuzz_evidence(mech: Any, examples: int) -> Tally:
    """A short derandomized fuzz run: examples, steps, violations seen."""
    tally = Tally()
    cfg = settings(max_examples=examples, stateful_step_count=25, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    return search(mech, frozenset(mech.claims), cfg, tally)


def cmd_report(args: Any) -> int:
    """Gather, write, print the matrix and the report's path."""
    from .alln import all_n_verdicts
    mechs = [resolve_mechanism(m) for m in (args.mechanism or sorted(catalogue()))]
    proofs = run_matrix(mechs, INVARIANTS, args.accounts, args.timeout, args.jobs, "lemmas")
    all_n = all_n_verdicts()
    fuzz = {}
    for m in mechs:
        print(f"fuzzing {m.id} ({args.fuzz_examples} runs)", file=sys.stderr, flush=True)
        fuzz[m.id] = fuzz_evidence(m, args.fuzz_examples)
    ns = [int(x) for x in args.time_n.split(",") if x.strip()]
    print(f"timing the core proofs at N = {ns}", file=sys.stderr, flush=True)
    ev = Evidence(mechs, INVARIANTS, proofs, all_n, fuzz, args.accounts, time_against_n(ns, args.timeout) if ns else {})
    out = Path(args.out)
    doc = build(ev, out, SCENARIOS_DIR)
    (out / "report.md").write_text(doc.markdown(), encoding="utf-8")
    (out / "index.html").write_text(doc.html("waterfall audit report"), encoding="utf-8")
    head, rows = next(p for k, p in doc.blocks if k == "table")
    print(table(rows, head))
    print(f"\nreport: {out / 'index.html'} (and {out / 'report.md'})")
    code = exit_code(proofs + all_n)
    return EXIT_FINDING if any(t.failure for t in fuzz.values()) else code
