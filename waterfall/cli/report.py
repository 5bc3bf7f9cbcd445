"""`waterfall report [--out DIR]`: gather the evidence (Z3 matrix, all-N proofs, a short
derandomized fuzz run per mechanism) and write the audit report as JSON (report.json,
spec/schemas/report.schema.json), Markdown and HTML (R-REPORT-1), with every counterexample
saved as a scenario under DIR/counterexamples; --junit and --sarif for CI. Exit codes as
`waterfall prove` (0 / 1 finding / 2 bad input / 3 undecided); a claimed invariant the
fuzzer refutes is a finding too.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from waterfall.model.loader import catalogue, resolve_mechanism
from waterfall.spec import SCENARIOS_DIR

from waterfall.report import ci_outputs
from waterfall.cli.args import integer, integer_list, out_dir, out_file, seconds
from waterfall.proofs.fuzz.machines import Tally, search
from waterfall.report.ledger import table
from waterfall.cli.prove import EXIT_FINDING, INVARIANTS, MAX_ACCOUNTS, add_query_args, exit_code, run_proofs, sizes_from
from waterfall.report.document import Evidence, build, ci_cells, command_line
from waterfall.report.plots import time_against_n
from waterfall.report.render import MATRIX_KEY, head_id, markdown, page, short

FUZZ_STEPS = 25


def add_parser(sub: Any) -> None:
    """Register the `report` subcommand."""
    r = sub.add_parser("report", help="write the audit report (JSON, Markdown, HTML) from proofs, all-N and fuzzing")
    r.add_argument("--out", type=out_dir, default="build/report", help="directory (default build/report)")
    add_query_args(r)
    r.add_argument("--fuzz-examples", type=integer(1, 1_000_000), default=30,
                   help="Hypothesis runs per mechanism (derandomized)")
    r.add_argument("--shrink-seconds", type=seconds(3_600), default=5.0,
                   help="time budget to shrink each counterexample the fuzzer found (default 5)")
    r.add_argument("--time-n", type=integer_list(2, MAX_ACCOUNTS), default="",
                   help="k values of the proof-time plot, e.g. 2,3 (default: left out; bench/prove.py)")
    r.add_argument("--junit", metavar="FILE", type=out_file,
                   help="also write JUnit XML (a testcase per mechanism and invariant)")
    r.add_argument("--sarif", metavar="FILE", type=out_file, help="also write SARIF 2.1.0 (claimed invariants refuted)")
    r.set_defaults(func=cmd_report)


def fuzz_evidence(mech: Any, examples: int) -> Tally:
    """A short derandomized fuzz run: examples, steps, violations seen."""
    tally = Tally()
    cfg = settings(max_examples=examples, stateful_step_count=FUZZ_STEPS, derandomize=True, database=None,
                   deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    return search(mech, frozenset(mech.claims), cfg, tally)


def cmd_report(args: Any) -> int:
    """Gather, write, print the matrix and the report's path."""
    from waterfall.proofs.alln import all_n_verdicts
    mechs = [resolve_mechanism(m) for m in (args.mechanism or sorted(catalogue()))]
    sizes = sizes_from(args)
    proofs, per_op = run_proofs(args, mechs, INVARIANTS, sizes)
    all_n = all_n_verdicts()
    fuzz = {}
    for m in mechs:
        print(f"fuzzing {m.id} ({args.fuzz_examples} runs)", file=sys.stderr, flush=True)
        fuzz[m.id] = fuzz_evidence(m, args.fuzz_examples)
    ns = [int(x) for x in args.time_n.split(",") if x.strip()]
    if ns:
        print(f"timing the liquidation proofs at k = {ns}", file=sys.stderr, flush=True)
    code = exit_code(proofs)
    code = EXIT_FINDING if any(t.failure for t in fuzz.values()) else code
    fuzz_seed = f"derandomized (Hypothesis derandomize=True: a fixed seed per mechanism), max_examples=" \
                f"{args.fuzz_examples} valid runs per mechanism of up to {FUZZ_STEPS} steps, no example database " \
                f"(the cells count the runs started: the report's 'Fuzz counts' says why they differ)"
    ev = Evidence(mechs, INVARIANTS, proofs, all_n, fuzz, sizes.accounts, sizes.markets,
                  time_against_n(ns, args.timeout) if ns else {},
                  {"prove_timeout_seconds": args.timeout, "operations": args.operation or "all", "fuzz": fuzz_seed,
                   "fuzz_examples": args.fuzz_examples},
                  args.shrink_seconds, per_op)
    out = Path(args.out)
    command = command_line()
    doc = build(ev, out, SCENARIOS_DIR, command, code)
    (out / "report.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(doc), encoding="utf-8")
    (out / "index.html").write_text(page(doc), encoding="utf-8")
    ci_outputs.write(args, ci_cells(doc), mechs, command)
    invs = [i["id"] for i in doc["invariants"]]
    rows = [[m.id] + [short(c["text"]) for c in doc["cells"] if c["mechanism"] == m.id] for m in mechs]
    print(table(rows, ["mechanism"] + [head_id(i) for i in invs]))
    print(f"\nKey: {MATRIX_KEY}")
    print(f"\n{doc['verdict']['text']}\n{doc['summary']['text']}")
    print(f"report: {out / 'index.html'} (and {out / 'report.md'}, {out / 'report.json'})")
    return code
