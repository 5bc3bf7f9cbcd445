"""The `waterfall` command: the parser and its dispatch, and the scenario commands (run,
mechanisms, verify); every other command has its module beside this one (prove, fuzz,
crosshair and diff, vectors and conform, report, replay, init, compare).

Exit codes: 0 success; 1 a finding (a claimed invariant violated, an expectation missed,
a crash); 2 bad input (file, key or argument), reported with its typed error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import (catalogue, check_named_mechanisms, load_mechanism, names_mechanism, resolve_mechanism, resolve_scenario,
                                   scenario_mechanism)
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import run

from waterfall.proofs.checks import ALL_IDS, CLAIMED_VIOLATED, DOCUMENTED_VIOLATION, HOLDS, check_steps, expectation_misses, stress_scenarios, verify_mechanism
from waterfall.cli.about import clash, missing_extra, version_text
from waterfall.cli.ids import resolve_invariants
from waterfall.report import categories as C
from waterfall.report import ci_outputs
from waterfall.cli import bundled, compare, conform, crosshair, fuzz, init, prove, replay, report
from waterfall.report.ledger import event_lines, ledger, table
from waterfall.cli.terminal import escaped_output
from waterfall.report.trace import describe_op

EXIT_OK, EXIT_FINDING, EXIT_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; terminal output escapes control characters (R-CLI-7)."""
    with escaped_output():
        return run_main(argv)


def run_main(argv: Sequence[str] | None = None) -> int:
    """Parse and dispatch; a bad argument (argparse's usage error) or a typed error is exit 2."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # usage error (2), --help and --version (0): returned, so callers get the code
        return e.code if isinstance(e.code, int) else EXIT_INPUT
    warning = clash()
    if warning:  # R-PKG-3: another distribution shares the import name; said on every command
        print(f"waterfall: {warning}", file=sys.stderr)
    why = missing_extra(getattr(args, "command", ""))
    if why:
        print(f"waterfall: error [E-EXTRA]: {why}", file=sys.stderr)
        return EXIT_INPUT
    try:
        if getattr(args, "invariant", None):  # ids are case-insensitive; an unknown one gets the closest
            args.invariant = resolve_invariants(args.invariant)
        return args.func(args)
    except BrokenPipeError:  # `waterfall ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except WaterfallError as e:
        if getattr(args, "json", False):
            print(json.dumps({"error": e.to_json()}, indent=2))
        else:
            print(f"waterfall: error [{e.code}]: {e}", file=sys.stderr)
        return EXIT_INPUT


class VersionAction(argparse.Action):
    """`--version`: one unwrapped line on stdout, exit 0."""

    def __init__(self, option_strings: list[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(version_text())
        warning = clash()
        if warning:
            print(f"waterfall: {warning}", file=sys.stderr)
        parser.exit()


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="waterfall", description=__doc__.splitlines()[0])
    p.add_argument("--version", action=VersionAction, help="print the distribution (loss-waterfall), its version, spec version and engines, and exit")
    sub = p.add_subparsers(required=True, metavar="COMMAND", dest="command")
    r = sub.add_parser("run", help="run a scenario and print the before/after ledger")
    r.add_argument("scenario", help="scenario JSON file, or the name of a bundled one (fund-empty)")
    r.add_argument("--mechanism", help="catalogue id or TOML file (default: the scenario's)")
    r.add_argument("--json", action="store_true", help="print post-state and events as JSON")
    r.set_defaults(func=cmd_run)
    m = sub.add_parser("mechanisms", help="list the catalogue, or show one mechanism")
    m.add_argument("show", nargs="?", metavar="ID|FILE", help="show one mechanism in full")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_mechanisms)
    v = sub.add_parser("verify", help="run every mechanism through the stress scenarios and check invariants")
    v.add_argument("--mechanism", action="append", help="restrict to these (repeatable)")
    v.add_argument("--scenarios", metavar="DIR", help="run the scenarios of DIR instead of the bundled ones")
    v.add_argument("--json", action="store_true")
    v.add_argument("--junit", metavar="FILE", help="also write JUnit XML (a testcase per mechanism and invariant)")
    v.add_argument("--sarif", metavar="FILE", help="also write SARIF 2.1.0 (claimed invariants violated)")
    v.set_defaults(func=cmd_verify)
    fuzz.add_parser(sub)
    prove.add_parser(sub)
    crosshair.add_parser(sub)
    conform.add_parser(sub)
    report.add_parser(sub)
    replay.add_parser(sub)
    init.add_parser(sub)
    compare.add_parser(sub)
    bundled.add_parser(sub)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    """`waterfall run SCENARIO`: steps, events, invariant checks and the ledger."""
    sc = resolve_scenario(args.scenario)
    mech = resolve_mechanism(args.mechanism) if args.mechanism else scenario_mechanism(sc)
    check_named_mechanisms(sc, [mech])
    results = run(sc, mech)
    findings = check_steps(results, mech, sc.name)
    # the scenario's expectations apply when it is run under its own mechanism
    misses = expectation_misses(sc, results) if names_mechanism(sc, mech) else []
    bad = [f for f in findings if f.claimed]
    if args.json:
        print(json.dumps({
            "scenario": sc.name, "mechanism": mech.id,
            "steps": [{"op": op_to_json(r.op), "error": r.error.to_json() if r.error else None,
                       "events": [e.to_json() for e in r.events], **({"crash": r.crash} if r.crash else {})}
                      for r in results],
            "post_state": state_to_json(results[-1].post if results else sc.state),
            "invariants": [{"invariant": f.invariant, "step": f.step, "claimed": f.claimed} for f in findings],
            "expectation_misses": misses}, indent=2))
    else:
        print(f"scenario {sc.name} under {mech.id} ({len(results)} operations)")
        for n, r in enumerate(results, 1):
            status = f"refused [{r.error.code}]: {r.error}" if r.error else \
                f"the model crashed ({r.crash}): I-VALID" if r.crash else f"{len(r.events)} events"
            print(f"  step {n}: {describe_op(r.op)}: {status}")
            if r.events:
                print(event_lines(r.events))
        first = results[0].pre if results else sc.state
        print()
        print(ledger(first, results[-1].post if results else sc.state))
        print()
        for f in findings:
            kind = "VIOLATED (claimed)" if f.claimed else "violated (not claimed: a property of this design)"
            print(f"  {f.invariant} {kind} at step {f.step}")
        for miss in misses:
            print(f"  expectation missed: {miss}")
        if not findings and not misses:
            print(f"  all {len(ALL_IDS)} invariants hold at every step")
    return EXIT_FINDING if bad or misses else EXIT_OK


def mechanism_summary(mech: Mechanism) -> dict[str, Any]:
    """The facts `waterfall mechanisms` shows about one mechanism."""
    final = dict(vars(mech.final))
    return {"id": mech.id, "name": mech.name, "file": mech.path,
            "final": {"policy": type(mech.final).__name__.lower(), **final},
            "liquidation": vars(mech.liquidation), "layers": [vars(s) for s in mech.layers],
            "claims": list(mech.claims), "source": mech.source}


def cmd_mechanisms(args: argparse.Namespace) -> int:
    """`waterfall mechanisms [ID|FILE]`."""
    if args.show:
        info = mechanism_summary(resolve_mechanism(args.show))
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            for k, v in info.items():
                print(f"{k}: {json.dumps(v, indent=2) if isinstance(v, (dict, list)) else v}")
        return EXIT_OK
    mechs = [load_mechanism(p) for p in catalogue().values()]
    if args.json:
        print(json.dumps([mechanism_summary(m) for m in mechs], indent=2))
        return EXIT_OK
    rows = [[m.id, type(m.final).__name__.lower(), " > ".join(s.name for s in m.layers) or "-",
             str(len(m.claims))] for m in mechs]
    print(table(rows, ["mechanism", "final resort", "layers", "claims"]))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """`waterfall verify`: every mechanism x every stress scenario x every invariant."""
    names = args.mechanism or list(catalogue())
    mechs = [resolve_mechanism(n) for n in names]
    scenarios = stress_scenarios(args.scenarios) if args.scenarios else stress_scenarios()
    for sc in scenarios:
        check_named_mechanisms(sc, mechs)
    outcomes = []
    for i, mech in enumerate(mechs, 1):
        if not args.json:
            print(f"[{i}/{len(mechs)}] {mech.id} ...", file=sys.stderr, flush=True)
        outcomes.append((mech, verify_mechanism(mech, scenarios)))
    ids = ALL_IDS
    failed = any(o.crashes or o.misses or any(o.verdict(i, i in m.claims) == CLAIMED_VIOLATED for i in ids)
                 for m, o in outcomes)
    ci_outputs.write(args, verify_cells(outcomes), mechs, "waterfall verify",
                     [(m.id, "crash", c) for m, o in outcomes for c in o.crashes]
                     + [(m.id, "expectation", x) for m, o in outcomes for x in o.misses])
    if args.json:
        print(json.dumps({"scenarios": [s.name for s in scenarios], "mechanisms": [
            {"id": m.id, "steps": o.steps, "refused": o.refused, "crashes": o.crashes, "misses": o.misses,
             "verdicts": {i: o.verdict(i, i in m.claims) for i in ids},
             "findings": [vars(f) for f in o.findings]} for m, o in outcomes]}, indent=2))
        return EXIT_FINDING if failed else EXIT_OK
    mark = {HOLDS: "ok", CLAIMED_VIOLATED: "FAIL", "not-claimed-and-violated": "x"}
    rows = [[m.id] + [mark[o.verdict(i, i in m.claims)] + ("" if i in m.claims else "*") for i in ids]
            + [str(o.steps), str(len(o.crashes))] for m, o in outcomes]
    print(table(rows, ["mechanism"] + ids + ["steps", "crashes"]))
    print(f"\n{len(scenarios)} scenarios. ok = holds at every step; FAIL = claimed and violated "
          f"(a bug); x = violated, not claimed (a property of the design); * = not claimed.")
    for m, o in outcomes:
        for f in o.findings:
            if not f.claimed:
                continue
            print(f"  FAIL {m.id} {f.invariant}: scenario {f.scenario} step {f.step}")
        for c in o.crashes:
            print(f"  CRASH {m.id}: {c}")
        for miss in o.misses:
            print(f"  EXPECTATION MISSED {m.id}: {miss}")
    return EXIT_FINDING if failed else EXIT_OK


def verify_cells(outcomes: list[tuple[Mechanism, Any]]) -> list[ci_outputs.Cell]:
    """verify's verdicts for JUnit and SARIF: held on every step checked, claimed and violated
    (with the first scenario and step), or an unclaimed property."""
    cat = {HOLDS: C.CHECKED, CLAIMED_VIOLATED: C.BROKEN, DOCUMENTED_VIOLATION: C.PROPERTY}
    cells = []
    for m, o in outcomes:
        for i in ALL_IDS:
            verdict = o.verdict(i, i in m.claims)
            first = next((f for f in o.findings if f.invariant == i), None)
            where = f"scenario {first.scenario} step {first.step}" if first else f"{o.steps} steps checked"
            cells.append(ci_outputs.Cell(m.id, i, i in m.claims, cat[verdict], verdict, where))
    return cells


if __name__ == "__main__":
    raise SystemExit(main())
