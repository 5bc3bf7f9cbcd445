"""`waterfall fuzz`: run the state machines for a time or example budget (R-FUZZ-6).

Prints progress on stderr, then per mechanism the rule counts (ran, refused by error code,
no candidate), the documented properties seen (violations of invariants the mechanism does
not claim) and any claimed invariant violated, whose minimal sequence is saved as a
scenario and shown with the command that replays it. Exit 1 if a claim was violated.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import Phase, settings

from waterfall.model.loader import catalogue, resolve_mechanism
from waterfall.model.mechanism import Mechanism

from waterfall.cli.args import DAY, integer, out_dir, seconds
from waterfall.report.hints import replay_hint
from waterfall.proofs.fuzz.machines import DEFAULT_DATABASE, Tally, database_path, example_database, save_scenario, search
from waterfall.report.ledger import table

FOUND = Path(".waterfall") / "found"  # copy a fixed one into spec/regressions to keep it


def add_parser(sub: Any) -> None:
    """Register the `fuzz` subcommand."""
    f = sub.add_parser("fuzz", help="fuzz operation sequences against the invariants (Hypothesis)")
    f.add_argument("--mechanism", action="append", help="catalogue id or TOML file (repeatable; default: all)")
    f.add_argument("--steps", type=integer(1, 1_000), default=40, help="operations per sequence (default 40)")
    f.add_argument("--examples", type=integer(0, 10_000_000), default=0,
                   help="sequences per mechanism (default: until --seconds)")
    f.add_argument("--seconds", type=seconds(30 * DAY), default=20.0, help="time budget per mechanism (default 20)")
    f.add_argument("--save", type=out_dir, default=str(FOUND), help=f"where failing sequences are saved (default {FOUND})")
    f.add_argument("--database", metavar="DIR", type=out_dir, default=None,
                   help=f"Hypothesis example database: failures found before are replayed first (default "
                        f"$WATERFALL_FUZZ_DB or {DEFAULT_DATABASE}; a shared folder serves several machines)")
    f.add_argument("--no-database", action="store_true", help="keep no examples (each run starts afresh)")
    f.add_argument("--no-shrink", action="store_true", help="report the first failing sequence unshrunk (fast)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_fuzz)


def fuzz_one(mech: Mechanism, steps: int, examples: int, seconds: float,
             shrink: bool = True, database: Path | None = None) -> tuple[Tally, float]:
    """Batches of 25 random sequences until the example or time budget is spent or a
    claim fails (then Hypothesis shrinks it). With a database, examples that failed before
    are replayed first (R-FUZZ-7)."""
    tally = Tally()
    start = time.monotonic()
    db = example_database(database)
    while True:
        left = examples - tally.examples if examples else 25
        config = settings(settings.get_profile("fuzz"), max_examples=max(1, min(25, left)),
                          stateful_step_count=steps, derandomize=False, database=db,
                          phases=list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate])
        search(mech, frozenset(mech.claims), config, tally)
        spent = time.monotonic() - start
        progress(mech.id, tally, spent, seconds, examples)
        if tally.failure or (examples and tally.examples >= examples) or (not examples and spent >= seconds):
            print(file=sys.stderr)
            return tally, spent


def progress(name: str, tally: Tally, spent: float, seconds: float, examples: int) -> None:
    """One progress line on stderr, redrawn in place on a terminal."""
    done = tally.examples / examples if examples else min(1.0, spent / seconds)
    bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
    line = (f"{name:<32} [{bar}] {spent:6.1f}s  sequences {tally.examples:>6}  steps {sum(tally.ran.values()):>7}"
            f"  liquidations {tally.ran['liquidate']:>6}")
    end = "\r" if sys.stderr.isatty() else "\n"
    print(line, end=end, file=sys.stderr, flush=True)


def cmd_fuzz(args: argparse.Namespace) -> int:
    """`waterfall fuzz`."""
    mechs = [resolve_mechanism(n) for n in (args.mechanism or list(catalogue()))]
    database = None if args.no_database else Path(args.database) if args.database else database_path()
    report = []
    for mech in mechs:
        tally, spent = fuzz_one(mech, args.steps, args.examples, args.seconds, not args.no_shrink, database)
        entry: dict[str, Any] = {"mechanism": mech.id, "seconds": round(spent, 2), **tally.to_json(),
                                 "violated": None}
        if tally.failure:
            path = save_scenario(tally.failure["scenario"], Path(args.save))
            entry["violated"] = {"invariant": tally.failure["invariant"], "scenario": str(path),
                                 "replay": replay_hint(path, mech)}
        report.append(entry)
    failed = any(e["violated"] for e in report)
    if args.json:
        print(json.dumps({"database": str(database) if database else None, "mechanisms": report}, indent=2))
        return 1 if failed else 0
    print(f"example database: {database or 'none'} (failures found before are replayed first)")
    for e in report:
        print(f"\n{e['mechanism']}: {e['examples']} sequences in {e['seconds']} s")
        rules = sorted(set(e["ran"]) | {r.split(':')[0] for r in e["refused"]} | set(e["no_candidate"]))
        rows = [[r, str(e["ran"].get(r, 0)),
                 ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(e["refused"].items()) if k.startswith(r + ":"))
                 or "-", str(e["no_candidate"].get(r, 0))] for r in rules]
        print(table(rows, ["rule", "ran", "refused (error: count)", "no candidate"]))
        seen = ", ".join(f"{k} ({v})" for k, v in sorted(e["documented"].items())) or "none"
        print(f"  not-claimed properties violated (documented): {seen}")
        if e["violated"]:
            v = e["violated"]
            print(f"  CLAIM VIOLATED: {v['invariant']}; minimal sequence saved to {v['scenario']}; "
                  f"replay: {v['replay']}")
    return 1 if failed else 0
