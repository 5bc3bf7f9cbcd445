"""`waterfall compare`: one scenario (or every bundled stress scenario) under several
mechanisms: per-account outcomes, loss borne by each layer, fairness figures (waterfall/report/compare.py).

Bad input (unknown mechanism, unreadable or invalid file) raises the loader's typed error
(model.errors.WaterfallError); the `waterfall` main turns it into exit 2.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from waterfall.model.errors import MechanismError, ScenarioError
from waterfall.model.loader import catalogue, check_named_mechanisms, resolve_mechanism, resolve_scenario
from waterfall.model.mechanism import Mechanism

from waterfall.proofs.checks import stress_scenarios
from waterfall.report.compare import ACCOUNT_HEADER, DEFINITIONS, SUMMARY_HEADER, Comparison, account_rows, compare, loss_rows, summary_row, to_json
from waterfall.report.ledger import table


def add_parser(sub: Any) -> None:
    """Register the `compare` subcommand."""
    c = sub.add_parser("compare", help="run one scenario under several mechanisms and compare who bears the loss")
    c.add_argument("scenario", nargs="?", help="scenario JSON file or bundled scenario name (omit with --all-scenarios)")
    c.add_argument("--mechanisms", help="comma-separated catalogue ids or TOML files (default: the whole catalogue)")
    c.add_argument("--all-scenarios", action="store_true",
                   help="every bundled stress scenario (spec/scenarios) as one summary table")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)


def mechanisms_arg(text: str | None) -> list[Mechanism]:
    """Resolve the --mechanisms list (R-MECH-1); the whole catalogue if omitted."""
    if text is None:
        return [resolve_mechanism(n) for n in catalogue()]
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise MechanismError(f"--mechanisms {text!r}: no mechanism named", key="--mechanisms")
    return [resolve_mechanism(n) for n in names]


def cmd_compare(args: argparse.Namespace) -> int:
    """`waterfall compare SCENARIO --mechanisms A,B` or `waterfall compare --all-scenarios`."""
    if args.all_scenarios == (args.scenario is not None):
        raise ScenarioError("give either a SCENARIO file or --all-scenarios", key="scenario")
    mechs = mechanisms_arg(args.mechanisms)
    scenarios = stress_scenarios() if args.all_scenarios else [resolve_scenario(args.scenario)]
    for sc in scenarios:
        check_named_mechanisms(sc, mechs)
    results = [c for sc in scenarios for c in compare(sc, mechs)]
    if args.json:
        print(json.dumps({"scenarios": [s.name for s in scenarios], "mechanisms": [m.id for m in mechs],
                          "comparisons": [to_json(c) for c in results]}, indent=2))
        return 0
    if args.all_scenarios:
        print(table([summary_row(c) for c in results], SUMMARY_HEADER))
    else:
        print_one(results)
    print()
    print(DEFINITIONS)
    return 0


def print_one(results: list[Comparison]) -> None:
    """Text output for one scenario: per-mechanism account and loss tables, then the summary."""
    for c in results:
        print(f"{c.scenario} under {c.mechanism}" + (f" ({c.refused} step(s) refused)" if c.refused else ""))
        print(table(account_rows(c), ACCOUNT_HEADER))
        print()
        print(table(loss_rows(c), ["loss borne by", "amount"]))
        print()
    print(table([summary_row(c) for c in results], SUMMARY_HEADER))
