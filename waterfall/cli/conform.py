"""`waterfall vectors` and `waterfall conform` (R-CONF-1..6, spec/conformance.md).

conform exit codes: 0 every step of the announced, selected vectors passed (and at least
one ran); 1 a step failed, the implementation was stopped (broken hello, repeated crashes)
or the deadline left steps unrun; 2 bad input (no vectors, an invalid or tampered vector,
an unknown mechanism id, a bad argument, an implementation that cannot start), found
before the implementation starts.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from waterfall.model.errors import closest
from waterfall.model.loader import catalogue, resolve_mechanism

from waterfall.cli.args import DAY, command, integer, out_dir, out_file, seconds
from waterfall.cli.terminal import ticking
from waterfall.conformance.rule_coverage import coverage, text as coverage_text
from waterfall.conformance.runner import Runner, StepResult, junit, load_vectors, report
from waterfall.report.hints import conform_hint
from waterfall.conformance.engine import ConformanceError, Engine, EngineStopped, killing_on_signals
from waterfall.conformance.vectors import VECTORS_DIR, generate


def add_parser(sub: Any) -> None:
    """Register the `vectors` and `conform` subcommands."""
    v = sub.add_parser("vectors", help="generate conformance vectors from the reference model")
    v.add_argument("--out", required=True, type=out_dir,
                   help="directory to write (DIR/MECHANISM/ID.json, DIR/manifest.json)")
    v.add_argument("--mechanism", action="append", help="catalogue id or TOML file (repeatable; default: all)")
    v.set_defaults(func=cmd_vectors)
    c = sub.add_parser("conform", help="run the vectors through an implementation (JSON lines on stdin/stdout)")
    c.add_argument("--impl", required=True, type=command, metavar="'CMD ARGS'", help="the implementation's command line")
    c.add_argument("--vectors", default=str(VECTORS_DIR), help="vector directory (default: the committed set)")
    c.add_argument("--mechanism", action="append", help="only these mechanism ids (repeatable)")
    c.add_argument("--filter", help="only vectors whose MECHANISM/ID contains this text")
    c.add_argument("--timeout", type=seconds(3_600), default=10.0, help="seconds per step (default 10)")
    c.add_argument("--deadline", type=seconds(30 * DAY), default=3_600.0,
                   help="seconds for the whole run (default 3600); steps left then are reported as not run")
    c.add_argument("--stop-after", type=integer(1, 1_000), default=5, metavar="N",
                   help="stop after N crashes, timeouts, garbage lines or protocol errors within any "
                   "max(20, 4N) steps (default 5)")
    c.add_argument("--junit", type=out_file, metavar="FILE", help="also write a JUnit XML report")
    c.add_argument("--json", action="store_true", help="print the JSON report instead of text")
    c.add_argument("--fuzz", type=integer(1, 10_000_000), metavar="N",
                   help="differential fuzzing: N generated scenarios instead of the vectors")
    c.add_argument("--seed", type=integer(0, 2**63 - 1), help="with --fuzz: the random seed (default: a random one, printed)")
    c.add_argument("--save", type=out_dir, default="conform-found",
                   help="with --fuzz: where a disagreement is saved as a vector (with a manifest)")
    c.set_defaults(func=cmd_conform)


def cmd_vectors(args: Any) -> int:
    """Write the vectors; print a summary."""
    mechs = [resolve_mechanism(m) for m in args.mechanism] if args.mechanism else None
    start = time.monotonic()

    def progress(i: int, n: int, mid: str) -> None:  # R-CLI-10
        print(f"[{i}/{n} {time.monotonic() - start:5.1f}s] {mid}", file=sys.stderr, flush=True)

    manifest = generate(Path(args.out), mechs, progress)
    steps = sum(e["steps"] for e in manifest["vectors"])
    print(f"wrote {len(manifest['vectors'])} vectors ({steps} steps) and manifest.json to {args.out} "
          f"({time.monotonic() - start:.1f} s)")
    return 0


def fuzz_mechanisms(names: list[str] | None) -> list[Any]:
    """--mechanism for --fuzz: catalogue or kit ids (closest match on a typo) or TOML files;
    default: the catalogue and the kit variants."""
    from waterfall.conformance.kit import kit_mechanisms
    kit = {m.id: m for m in kit_mechanisms()}
    known = sorted(catalogue()) + sorted(kit)
    for n in names or []:
        if n not in known and not n.endswith(".toml") and not Path(n).exists():
            raise ConformanceError(f"--mechanism {n!r}: not a catalogue or kit id nor a file{closest(n, known)}",
                                   argument="--mechanism", key=n)
    return [kit[m] if m in kit else resolve_mechanism(m) for m in (names or known)]


def cmd_fuzz(args: Any, started: float | None = None) -> int:
    """R-CONF-6: differential fuzzing; a disagreement is shrunk, printed and saved."""
    from waterfall.conformance.differential import differential, new_seed, save
    mechs = fuzz_mechanisms(args.mechanism)
    seed = new_seed() if args.seed is None else args.seed
    print(f"differential fuzzing: {args.fuzz} scenarios at most, seed {seed} "
          f"(repeat with --seed {seed})", file=sys.stderr, flush=True)
    with killing_on_signals():
        out = differential(args.impl, mechs, args.fuzz, args.timeout, seed, args.deadline, started=started)
    if out.model_crash is not None:  # a finding about the model, not the implementation (I-VALID)
        from waterfall.proofs.fuzz.machines import save_scenario
        path = save_scenario(out.model_crash, Path(args.save))
        print(f"waterfall: conform: {out.model_crash['description']}; scenario saved as {path} "
              f"(replay: waterfall run {path})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"seed": seed, "examples": out.examples, "seconds": round(out.seconds, 2),
                          "first_found": out.first_found or None, "first_seconds": round(out.first_seconds, 2),
                          "stopped": out.stopped or None, "deadline_reached": out.deadline_hit,
                          "failure": [vars(r) for r in out.failure],
                          "saved": str(save(out.vector, Path(args.save))) if out.vector else None}, indent=2))
        return 1 if out.stopped or out.failure else 0
    if out.stopped:
        print(f"waterfall: conform: {out.stopped}", file=sys.stderr)
        return 1
    if not out.failure:
        print(f"{out.examples} scenarios in {out.seconds:.1f} s, seed {seed}: no disagreement with the reference model"
              + (" (deadline reached)" if out.deadline_hit else ""))
        return 0
    assert out.vector is not None
    path = save(out.vector, Path(args.save))
    print(f"DISAGREE: first found after {out.first_found} scenarios ({out.first_seconds:.1f} s, seed {seed}); "
          f"{out.examples} scenarios in {out.seconds:.1f} s with shrinking, to {len(out.vector['steps'])} operation(s):")
    for r in out.failure:
        print(f"  step {r.step} ({r.reason}):\n    " + r.detail.replace("\n", "\n    "))
    print(f"minimal scenario saved as {path} (replay: {conform_hint(args.impl, args.save)})")
    return 1


def cmd_conform(args: Any) -> int:
    """Run, print per-step failures with diffs (or JSON), write JUnit; exit code. The
    deadline counts from here: loading and checking the vectors are part of it."""
    started = time.monotonic()
    engine = Engine(args.impl, args.timeout)
    engine.check_program()  # a missing program is found before the vectors load (exit 2)
    if args.fuzz:
        return cmd_fuzz(args, started)
    begin = time.perf_counter()
    if not args.json:
        print(f"checking the vectors of {args.vectors} (each file's SHA-256 against the manifest, its schema) ...",
              file=sys.stderr, flush=True)
    with ticking("checking the vectors"):
        selection = load_vectors(Path(args.vectors), args.mechanism, args.filter)  # exit 2 before any start
    checked = time.perf_counter() - begin
    runner = Runner(engine, args.deadline, args.stop_after, started)
    results: list[StepResult] = []
    start, last, stopped = time.perf_counter(), None, ""
    with killing_on_signals():
        try:
            for r in runner.run(selection.vectors):
                results.append(r)
                if not args.json and r.status == "fail":
                    print(f"FAIL {r.vector} step {r.step}: {r.reason}\n    " + r.detail.replace("\n", "\n    "))
                if r.vector != last:
                    print(f"[{len(results)} steps {time.perf_counter() - start:5.1f}s] {r.vector}", file=sys.stderr,
                          flush=True)
                    last = r.vector
        except EngineStopped as e:
            stopped = str(e)
    out = report(results, selection, runner, stopped)
    ran = {r.vector for r in results}
    cov = coverage([v.doc for v in selection.vectors if v.key in ran])  # R-KIT-1
    out["rule_coverage"] = cov
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_text(junit(results, out["skipped_vectors"]), encoding="utf-8")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(summary(out, len({r.vector for r in results}), time.perf_counter() - start, checked))
        print(coverage_text(cov, sorted({v.mechanism for v in selection.vectors if v.key in ran})))
    if stopped and not args.json:
        print(f"waterfall: conform: protocol error: {stopped}", file=sys.stderr)
    ok = out["steps"] and not out["failed"] and not stopped and not out["not_run_steps"]
    return 0 if ok else 1


def summary(out: dict[str, Any], vectors: int, seconds_: float, checked: float = 0.0) -> str:
    """The closing lines: passed / failed (with the wall-clock time of the check and of the
    run, R-CLI-10), what was skipped and why, what did not run."""
    lines = [f"{out['passed']} of {out['steps']} steps passed in {vectors} vectors, {out['failed']} failed "
             f"({checked + seconds_:.1f} s: {checked:.1f} s checking the vectors, {seconds_:.1f} s running them)"]
    if out["skipped_by_filter"]:
        lines.append(f"skipped: {out['skipped_by_filter']} vectors left out by --mechanism / --filter")
    if out["skipped_unannounced"]:
        named = ", ".join(f"{m} ({n})" for m, n in out["skipped_unannounced"].items())
        lines.append(f"skipped: {sum(out['skipped_unannounced'].values())} vectors of mechanisms the implementation "
                     f"does not announce: {named}")
    if out["not_run_steps"]:
        why = "the deadline was reached" if out["deadline_reached"] else "the run was stopped"
        lines.append(f"not run: {out['not_run_steps']} steps ({why})")
    if not out["steps"] and not out["stopped"]:
        lines.append("nothing ran: the implementation announces none of the selected mechanisms")
    return "\n".join(lines)
