"""`waterfall replay FILE`: re-run a saved counterexample (a scenario written by `prove
--save`, `fuzz`, `report` or by hand) through the reference model and show each violated
invariant as a failing sequence (waterfall/report/trace.py); `--emit-test PATH` writes it as a pytest
test, as Kani's concrete playback does: for a claimed invariant the test asserts it holds
(so it fails until the bug is fixed), for an unclaimed one that the documented violation
still shows.

Exit codes: 0 no claimed invariant violated (unclaimed ones are shown as properties of the
design); 1 a claimed invariant violated; 2 bad input.
"""
from __future__ import annotations

import json
import pprint
import re
from pathlib import Path
from typing import Any

from waterfall.model.errors import ScenarioError
from waterfall.model.loader import catalogue, check_named_mechanisms, resolve_mechanism, resolve_scenario, scenario_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import run

from waterfall.proofs.checks import first_violation
from waterfall.report import trace as T
from waterfall.cli.args import out_file
from waterfall.cli.ids import resolve_invariants
from waterfall.report.hints import is_catalogued


def add_parser(sub: Any) -> None:
    """Register the `replay` subcommand."""
    r = sub.add_parser("replay", help="re-run a saved counterexample and show it as a failing sequence")
    r.add_argument("scenario", metavar="FILE", help="scenario file (or the name of a bundled one)")
    r.add_argument("--mechanism", help="catalogue id or TOML file (default: the scenario's)")
    r.add_argument("--invariant", action="append", help="only this invariant (repeatable; default: every one)")
    r.add_argument("--emit-test", metavar="PATH", type=out_file, help="write the counterexample as a pytest test")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_replay)


def cmd_replay(args: Any) -> int:
    """Replay, show every violated invariant's trace, optionally emit a test."""
    sc = resolve_scenario(args.scenario)
    mech = resolve_mechanism(args.mechanism) if args.mechanism else scenario_mechanism(sc)
    check_named_mechanisms(sc, [mech])
    doc = json.loads(Path(sc.path).read_text(encoding="utf-8"))
    results = run(sc, mech)
    violated = [inv for inv in resolve_invariants(args.invariant) if first_violation(results, mech, inv)[0]]
    traces = sorted((T.build(doc, mech, inv) for inv in violated), key=lambda t: not t.claimed)
    claimed = [t.invariant for t in traces if t.claimed]
    if args.emit_test:
        if not traces:
            raise ScenarioError(f"{sc.path}: nothing to emit: no invariant is violated under {mech.id}", file=sc.path)
        emit_test(Path(args.emit_test), doc, mech, traces)
    if args.json:
        print(json.dumps({"scenario": sc.name, "mechanism": mech.id, "claimed_violated": claimed,
                          "violations": [t.to_json() for t in traces]}, indent=2))
    else:
        for t in traces:
            print(T.text(t) + "\n")
        if not traces:
            print(f"{sc.name} under {mech.id}: no invariant is violated at any of its {len(results)} steps "
                  f"(the counterexample no longer reproduces)")
        if args.emit_test:
            print(f"wrote {args.emit_test} (run it: pytest {args.emit_test})")
    return 1 if claimed else 0


def test_name(mech: Mechanism, invariants: list[str]) -> str:
    return "test_" + re.sub(r"\W+", "_", f"{mech.id}_{'_'.join(invariants)}").strip("_").lower()


def emit_test(path: Path, doc: dict[str, Any], mech: Mechanism, traces: list[T.Trace]) -> None:
    """A pytest file that replays `doc` under `mech` and asserts, per invariant, what a fix
    must change (claimed: holds) or what the design documents (not claimed: still violated)."""
    # R-REPLAY-3: a catalogue mechanism by its id; any other inlined (its TOML text), so the
    # test runs on another machine with no path of this one in it
    if is_catalogued(mech):
        load = f"resolve_mechanism({mech.id!r})"
        inline = ""
    else:
        load = 'mechanism_from_doc(tomllib.loads(MECHANISM_TOML), "<inlined mechanism>")'
        inline = f"MECHANISM_TOML = {Path(mech.path).read_text(encoding='utf-8')!r}\n"
    claimed = [t.invariant for t in traces if t.claimed]
    documented = [t.invariant for t in traces if not t.claimed]
    steps = "\n".join(f"#   {s.n}. {s.op}" for s in traces[0].steps)
    text = f'''"""Concrete playback of a counterexample under {mech.id} (written by `waterfall replay --emit-test`).

Claimed and violated: {", ".join(claimed) or "none"} (asserted to hold: this test fails until fixed).
Not claimed, violated (documented properties): {", ".join(documented) or "none"} (asserted to still show).
"""
# The sequence, as `waterfall replay` shows it:
{steps}
import tomllib

from waterfall.model.loader import mechanism_from_doc, resolve_mechanism, scenario_from_doc
from waterfall.model.replay import run
from waterfall.proofs.checks import check_steps

SCENARIO = {pprint.pformat(doc, width=100, sort_dicts=False)}
{inline}CLAIMED = {claimed!r}
DOCUMENTED = {documented!r}


def {test_name(mech, claimed + documented)}() -> None:
    mech = {load}
    sc = scenario_from_doc(SCENARIO, "<counterexample>")
    violated = {{f.invariant for f in check_steps(run(sc, mech), mech, sc.name)}}
    assert not violated & set(CLAIMED), f"claimed invariants still violated: {{sorted(violated & set(CLAIMED))}}"
    assert set(DOCUMENTED) <= violated, f"documented properties no longer shown: {{sorted(set(DOCUMENTED) - violated)}}"
'''
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
