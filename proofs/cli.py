"""The `waterfall` command: run scenarios, list mechanisms, verify the catalogue, fuzz,
prove (Z3 and all-N), crosshair, diff, vectors, conform, report, compare.

Exit codes: 0 success; 1 a finding (a claimed invariant violated, an expectation missed,
a crash); 2 bad input (file, key or argument), reported with its typed error.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import catalogue, load_mechanism, load_scenario, resolve_mechanism, scenario_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import run

from .checks import ALL_IDS, CLAIMED_VIOLATED, HOLDS, check_steps, expectation_misses, stress_scenarios, verify_mechanism
from . import compare_cli, conform_cli, crosshair_cli, fuzz_cli, prove_cli, report_cli
from .ledger import event_lines, ledger, table
from .terminal import escaped_output

EXIT_OK, EXIT_FINDING, EXIT_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; terminal output escapes control characters (R-CLI-2)."""
    with escaped_output():
        return run_main(argv)


def run_main(argv: Sequence[str] | None = None) -> int:
    """Parse and dispatch; a bad argument (argparse's usage error) or a typed error is exit 2."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # usage error (2), --help (0): returned, so callers get the code
        return e.code if isinstance(e.code, int) else EXIT_INPUT
    try:
        return args.func(args)
    except WaterfallError as e:
        if getattr(args, "json", False):
            print(json.dumps({"error": e.to_json()}, indent=2))
        else:
            print(f"waterfall: error [{e.code}]: {e}", file=sys.stderr)
        return EXIT_INPUT


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="waterfall", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="run a scenario and print the before/after ledger")
    r.add_argument("scenario")
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
    v.set_defaults(func=cmd_verify)
    fuzz_cli.add_parser(sub)
    prove_cli.add_parser(sub)
    crosshair_cli.add_parser(sub)
    conform_cli.add_parser(sub)
    report_cli.add_parser(sub)
    compare_cli.add_parser(sub)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    """`waterfall run SCENARIO`: steps, events, invariant checks and the ledger."""
    sc = load_scenario(args.scenario)
    mech = resolve_mechanism(args.mechanism) if args.mechanism else scenario_mechanism(sc)
    results = run(sc, mech)
    findings = check_steps(results, mech, sc.name)
    # the scenario's expectations apply when it is run under its own mechanism; a scenario
    # saved from a mechanism file names that file's id, which only --mechanism FILE resolves
    own = bool(sc.mechanism) and (not args.mechanism or sc.mechanism == mech.id
                                  or (sc.mechanism in catalogue() and scenario_mechanism(sc).id == mech.id))
    misses = expectation_misses(sc, results) if own else []
    bad = [f for f in findings if f.claimed]
    if args.json:
        print(json.dumps({
            "scenario": sc.name, "mechanism": mech.id,
            "steps": [{"op": op_to_json(r.op), "error": r.error.to_json() if r.error else None,
                       "events": [e.to_json() for e in r.events]} for r in results],
            "post_state": state_to_json(results[-1].post if results else sc.state),
            "invariants": [{"invariant": f.invariant, "step": f.step, "claimed": f.claimed} for f in findings],
            "expectation_misses": misses}, indent=2))
    else:
        print(f"scenario {sc.name} under {mech.id} ({len(results)} operations)")
        for n, r in enumerate(results, 1):
            status = f"refused [{r.error.code}]: {r.error}" if r.error else f"{len(r.events)} events"
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


def describe_op(op: Any) -> str:
    """One-line form of an operation."""
    doc = op_to_json(op)
    return doc.pop("op") + " " + " ".join(f"{k}={v}" for k, v in doc.items())


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
    outcomes = []
    for i, mech in enumerate(mechs, 1):
        if not args.json:
            print(f"[{i}/{len(mechs)}] {mech.id} ...", file=sys.stderr, flush=True)
        outcomes.append((mech, verify_mechanism(mech, scenarios)))
    ids = ALL_IDS
    failed = any(o.crashes or o.misses or any(o.verdict(i, i in m.claims) == CLAIMED_VIOLATED for i in ids)
                 for m, o in outcomes)
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


if __name__ == "__main__":
    raise SystemExit(main())
