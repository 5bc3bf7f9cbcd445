"""`waterfall crosshair` and `waterfall diff`: the command line of the CrossHair engine
(proofs/crosshair.py): options, progress on stderr, the verdicts in words or as JSON.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any, Sequence

from waterfall.cli.args import DAY, integer, seconds
from waterfall.cli.terminal import ticking
from waterfall.proofs.crosshair import CONTRACTED, check_function, conditions, diff_mechanisms, resolve_function
from waterfall.proofs.verdict import COUNTEREXAMPLE, NO_COUNTEREXAMPLE_IN, Verdict

EXIT_OK, EXIT_FINDING, EXIT_INPUT = 0, 1, 2


def add_parser(sub: Any) -> None:
    """Register the `crosshair` and `diff` subcommands."""
    c = sub.add_parser("crosshair", help="search the model's contracts for counterexamples (CrossHair)")
    c.add_argument("--function", action="append", metavar="MODULE.FUNCTION",
                   help=f"contracted function to check (repeatable; default: all {len(CONTRACTED)})")
    c.add_argument("--per-condition-timeout", type=seconds(3_600), default=5.0, metavar="S",
                   help="CPU seconds CrossHair spends on each post-condition (default 5)")
    c.add_argument("--max-uninteresting-iterations", "--max-uncovered-iterations", type=integer(1, 10**9),
                   dest="max_uninteresting_iterations", metavar="N",
                   help="stop a condition after N iterations without new coverage (CrossHair option)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_crosshair)
    d = sub.add_parser("diff", help="inputs on which two mechanisms' final-resort allocations differ "
                                    "(a bounded CrossHair search)")
    d.add_argument("a", metavar="A", help="catalogue id or TOML file")
    d.add_argument("b", metavar="B", help="catalogue id or TOML file")
    d.add_argument("--seconds", type=seconds(DAY), default=10.0, help="seconds of search CrossHair spends per condition (default 10); starting CrossHair and Z3 adds to the wall-clock time")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_diff)


def describe(v: Verdict) -> str:
    """One line: where, which condition, and the verdict in its honest words."""
    line, text = v.stats.get("line", "?"), v.stats.get("condition", "")
    if v.kind == NO_COUNTEREXAMPLE_IN:
        what = f"no counterexample in {v.stats['per_condition_timeout']:g} s"
        what += f" [{v.reason}]" if v.reason else ""
    elif v.kind == COUNTEREXAMPLE:
        what = f"COUNTEREXAMPLE: {v.reason}"
    else:
        what = f"{v.kind}: {v.reason}"
    return f"  line {line}: {text or '(function body)'}\n    -> {what}"


def cmd_crosshair(args: argparse.Namespace) -> int:
    """`waterfall crosshair`."""
    names = args.function or list(CONTRACTED)
    for name in names:
        resolve_function(name)  # every name checked before any search starts
    report = []
    for i, name in enumerate(names, 1):
        n = sum(c.kind == "post" for c in conditions(resolve_function(name)))
        print(f"[{i}/{len(names)}] {name}: {n} post-conditions, {args.per_condition_timeout:g} s CPU each ...",
              file=sys.stderr, flush=True)
        verdicts = check_function(name, args.per_condition_timeout, args.max_uninteresting_iterations)
        bad = sum(v.kind == COUNTEREXAMPLE for v in verdicts)
        print(f"[{i}/{len(names)}] {name}: {bad} counterexample(s), {verdicts[0].seconds:.1f} s",
              file=sys.stderr, flush=True)
        report.append((name, verdicts))
    failed = any(v.kind == COUNTEREXAMPLE for _, vs in report for v in vs)
    if args.json:
        print(json.dumps({"per_condition_timeout": args.per_condition_timeout, "functions": [
            {"function": n, "verdicts": [v.to_json() for v in vs]} for n, vs in report]}, indent=2))
        return EXIT_FINDING if failed else EXIT_OK
    for name, verdicts in report:
        print(name)
        for v in verdicts:
            print(describe(v))
    print(f"\n'no counterexample in T s' means CrossHair's bounded search (inputs limited by the "
          f"'pre:' lines) found none within T CPU seconds: it is not a proof.")
    return EXIT_FINDING if failed else EXIT_OK


FORM_FIELDS = {"haircut": ("rounding", "cap_ppm"), "levy": ("rate_scale", "rate_rounding", "payment_rounding"),
               "withdrawal_haircut": ("base",), "pool": ("max_pnl_factor_ppm",)}


def form_text(form: Sequence[Any]) -> str:
    """A final-resort form in words: `haircut (rounding largest_remainder, cap_ppm 500000)`."""
    kind, *values = form
    named = ", ".join(f"{k} {v}" for k, v in zip(FORM_FIELDS.get(kind, ()), values))
    return f"{kind} ({named})" if named else str(kind)


def outcome_text(text: str) -> str:
    """CrossHair's `returns [0, 0, 1]` as `shares 0, 0, 1 (w0, w1, w2 in order)`."""
    m = re.fullmatch(r"returns \[(.*)\]", text.strip())
    return f"shares {m.group(1)} (one per weight, in order)" if m else text


def cmd_diff(args: argparse.Namespace) -> int:
    """`waterfall diff A B`: exit 1 when a differing input is found, 0 when none is."""
    print(f"searching for inputs where {args.a} and {args.b} allocate differently (CrossHair diffbehavior): "
          f"{args.seconds:g} s of search per condition, plus the start of CrossHair and Z3 ...",
          file=sys.stderr, flush=True)
    start = time.monotonic()
    with ticking("diff"):
        v = diff_mechanisms(args.a, args.b, args.seconds)
    v.stats["wall_seconds"] = round(time.monotonic() - start, 2)
    differ = v.kind == COUNTEREXAMPLE
    if args.json:
        print(json.dumps(v.to_json(), indent=2))
        return EXIT_FINDING if differ else EXIT_OK
    for side in ("a", "b"):
        s = v.stats[side]
        print(f"{side.upper()} = {s['id']}: final resort {form_text(s['form'])}" + (f"\n    {s['note']}" if s["note"] else ""))
    print(f"inputs: total (the deficit) and weights w_i (haircut base / levy lots / ADL size in "
          f"ranking order), {v.stats['domain']}")
    if differ:
        for d in v.counterexample["diffs"]:  # type: ignore[index]
            print(f"  differ on ({d['input']}):\n    A: {outcome_text(d.get('a', '?'))}\n    B: {outcome_text(d.get('b', '?'))}")
    elif v.kind == NO_COUNTEREXAMPLE_IN:
        print(f"  no difference found in {args.seconds:g} s of search ({v.stats['wall_seconds']:.0f} s in all; a bounded "
              f"search, not a proof of equivalence)")
    else:
        print(f"  {v.kind}: {v.reason}")
    return EXIT_FINDING if differ else EXIT_OK
