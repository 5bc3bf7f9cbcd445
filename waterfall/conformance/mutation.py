"""How strong the conformance vectors are (R-CONF-7): mutants of model/ served through the
reference adapter, each replayed against the vectors. `make kit-mutate` runs

    python -m waterfall.conformance.mutation run [--vectors DIR] [--jobs 2] [--out build/kit-mutation.json]

1. Coverage (coverage.py) of model/ while the reference adapter answers every step of the
   vectors in this process: the uncovered lines are reported, and only covered lines are mutated.
2. mutmut's own operators (mutmut.mutation.file_mutation, the `mutate` extra) write ONE
   mutated copy of model/ with mutmut's trampolines into build/kit-mutants/model; model/ is
   never touched. mutmut's usual layout (a mutants/ copy of the source tree run in place)
   does not fit the package-dir mapping (waterfall.model = model/), so the copy is imported
   as waterfall.model by a meta-path finder in a worker process (`serve`, below).
3. Each worker is the reference adapter over the mutated copy, with one extra request,
   {"type": "mutant", "name": ...}, that switches the active mutant (mutmut's trampolines
   read it at every call), so a worker serves many mutants without restarting.
4. This process (the unmutated model) replays the vectors through a worker and judges every
   answer with the runner's judge (waterfall/conformance/runner.py) until a step fails: killed (mismatch,
   wrong error code, crash, timeout) or, after every step passed, survived.
5. Survivors are listed with their diff; a survivor that changes only the text of an error
   message or the location fields of an error is marked "message" (the protocol carries the
   error code only); the others are explained in docs/conformance.md.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import queue
import random
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from waterfall.proofs.mutation.model_copy import MODEL_DIR, use_model

ROOT = MODEL_DIR.parent  # the repository (build/, docs/); parent.parent was the package since the layout move


def serve(tree: Path) -> None:
    """The reference adapter over the mutated copy at `tree`, switching mutants on request."""
    use_model(tree)
    from mutmut.mutation.trampoline import set_mutant_under_test

    from waterfall.conformance import adapter
    set_mutant_under_test("")
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("type") == "mutant":
            set_mutant_under_test(req["name"])
            adapter._MECHS.clear()
            out: dict[str, Any] = {"type": "mutant", "name": req["name"],
                                   "model": sys.modules["waterfall.model"].__file__}
        else:
            out = adapter.answer(req)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


# ------------------------------------------------------------------ coverage and mutants


def steps(vectors: list[Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(request id, request, expectation) of every step of every vector."""
    out = []
    for v in vectors:
        state = v.doc["state"]
        for k, st in enumerate(v.doc["steps"]):
            rid = f"{v.key}#{k}"
            out.append((rid, {"type": "step", "id": rid, "mechanism": v.doc["mechanism"], "state": state,
                              "op": st["op"]}, st["expect"]))
            if st["expect"]["ok"]:
                state = st["expect"]["state"]
    return out


def covered_lines(requests: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> tuple[dict[str, set[int]], dict[str, list[int]]]:
    """Lines of model/*.py executed while the adapter answers every request, and the
    executable lines that were not."""
    import coverage

    from waterfall.conformance.adapter import answer
    cov = coverage.Coverage(data_file=None, include=[str(MODEL_DIR / "*.py")], config_file=False)
    cov.start()
    try:
        for _, req, _ in requests:
            answer(req)
    finally:
        cov.stop()
    covered, missing = {}, {}
    for path in sorted(MODEL_DIR.glob("*.py")):
        _, statements, _, miss, _ = cov.analysis2(str(path))
        covered[path.name] = set(statements) - set(miss)
        missing[path.name] = sorted(miss)
    return covered, missing


def build_tree(covered: dict[str, set[int]], tree: Path) -> dict[str, str]:
    """The mutated copy of model/ (covered lines only); returns mutant name -> diff."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    diffs: dict[str, str] = {}
    for path in sorted(MODEL_DIR.glob("*.py")):
        code = path.read_text(encoding="utf-8")
        mutated = mutate_file_contents(str(path), code, covered_lines=covered.get(path.name, set()))
        (tree / path.name).write_text(mutated.code if mutated.mutant_names else code, encoding="utf-8")
        module = f"waterfall.model.{path.stem}"
        functions = {n.name: ast.get_source_segment(mutated.code, n) or "" for n in ast.walk(ast.parse(mutated.code))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for name in mutated.mutant_names:
            diffs[f"{module}.{name}"] = mutant_diff(functions, name.rpartition(".")[2])
    return diffs


def mutant_diff(functions: dict[str, str], name: str) -> str:
    """The changed lines between a mutant and its original function (mutmut's copies)."""
    base = name.partition("__mutmut_")[0]
    orig = functions.get(f"{base}__mutmut_orig", "").splitlines()
    new = functions.get(name, "").splitlines()
    lines = [d for d in difflib.unified_diff(orig[1:], new[1:], lineterm="", n=0) if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    return "\n".join(lines)


MESSAGE_CALLS = ("check_input(", "check_balance(", "require_initial_margin(", "raise ", "Error(", "_at(",
                 "Exceeded(", "Amount(", "Account(", "Market(", "Layer(", "Trade(", "Margin(", "State(", "Counterparty(")
LOCATION = re.compile(r",?\s*(\b(field|account|market|layer|function|file|key)=[^,()]*(\([^()]*\))?|\*\*where)")
STRING = re.compile(r"""[rbf]*("([^"\\]|\\.)*"|'([^'\\]|\\.)*')""")


def _normal(line: str) -> str:
    """A line with its string literals (and a None that replaced one) and its location
    keywords taken out."""
    line = STRING.sub("S", line.strip())
    line = LOCATION.sub("", line)
    line = re.sub(r"\bNone\b", "S", line).replace(" ", "").replace(",)", ")")
    return re.sub(r"S(S)+", "S", line)  # adjacent literals (one message over two lines) are one


def message_only(diff: str) -> bool:
    """A mutant that changes only the text of an error message, a field name used in one,
    or its location keywords (account=, market=, layer=, field=): the protocol carries the
    error code alone, so no engine answer can show it."""
    minus = [d[1:] for d in diff.splitlines() if d.startswith("-")]
    plus = [d[1:] for d in diff.splitlines() if d.startswith("+")]
    if not minus or not plus:
        return False
    joined_a, joined_b = " ".join(minus), " ".join(plus)
    if not any(c in joined_a for c in MESSAGE_CALLS) and not joined_a.strip().startswith(("f\"", "\"", "f'")):
        return False
    return _normal(joined_a) == _normal(joined_b)


CATEGORIES = (
    # mechanism_from_doc also builds the Mechanism every vector runs on: its survivors are triaged one by one
    ("validation", lambda n: (".loader." in n and ".x_mechanism_from_doc_" not in n) or ".x_validate_state" in n
     or ".codec.x_state_from_json" in n,
     "input validation: the vectors carry valid mechanisms and states only, so a weakened check is never "
     "exercised through the protocol (the loader's own tests cover it)"),
    ("symbolic", lambda n: ".arith." in n, "the Z3 / symbolic-integer path: the protocol carries concrete integers"),
)


def category(name: str, res: dict[str, Any]) -> str:
    """'message', a CATEGORIES name, or '' (a survivor to explain by hand)."""
    if message_only(res.get("diff", "")) or ".units.x__at_" in name or "WaterfallErrorǁ__init__" in name:
        return "message"  # _at formats a message's location; an error's message and location are not sent
    return next((c for c, test, _ in CATEGORIES if test(name)), "")


# ------------------------------------------------------------------ running the mutants


def judge_mutant(engine: Any, name: str, requests: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Replay the requests through a worker with mutant `name` until a step fails."""
    from waterfall.conformance.runner import judge
    kind, resp = engine.ask({"type": "mutant", "name": name})
    if kind != "ok" or resp.get("name") != name:
        return {"status": "error", "detail": f"switch: {kind}: {resp}"}
    for rid, req, expect in requests:
        kind, resp = engine.ask(req)
        if kind != "ok":
            return {"status": "timeout" if kind == "timeout" else "killed", "by": rid, "reason": kind}
        reason, _ = judge(expect, resp, rid)
        if reason:
            return {"status": "killed", "by": rid, "reason": reason}
    return {"status": "survived"}


def run_mutants(names: list[str], tree: Path, requests: list[Any], jobs: int, timeout: float,
                progress: Any = sys.stderr, checkpoint: Any = None) -> dict[str, dict[str, Any]]:
    """Every mutant through `jobs` workers, in the order given; a worker that crashes or hangs
    is restarted. `checkpoint(results)` is called every 25 mutants (a partial report)."""
    from waterfall.conformance.engine import Engine
    todo: queue.Queue[str] = queue.Queue()
    for n in names:
        todo.put(n)
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    start = time.monotonic()
    command = f"{sys.executable} -m waterfall.conformance.mutation serve {tree}"

    def work() -> None:
        engine = Engine(command, timeout)
        engine.handshake()
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                break
            res = judge_mutant(engine, name, requests)
            if res["status"] != "survived":
                engine.handshake()  # a fresh worker after any kill: a crash or hang leaves it unusable
            with lock:
                results[name] = res
                if len(results) % 25 == 0 or len(results) == len(names):
                    survived = sum(r["status"] == "survived" for r in results.values())
                    print(f"[{len(results)}/{len(names)} {time.monotonic() - start:6.0f}s] survived {survived}",
                          file=progress, flush=True)
                    if checkpoint:
                        checkpoint(dict(results))
        engine.stop()

    threads = [threading.Thread(target=work) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def replay(directory: Path) -> int:
    """Answer every step of the committed vectors with the reference adapter, reading the
    files directly (no validation): run under `coverage run` this measures what the vectors
    make model/ execute (`make kit-coverage`)."""
    from waterfall.conformance.adapter import answer
    from waterfall.conformance.runner import Vector
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    vectors = [Vector(f"{e['mechanism']}/{e['id']}", json.loads((directory / e["path"]).read_text(encoding="utf-8")))
               for e in manifest["vectors"]]
    for _, req, _ in steps(vectors):
        answer(req)
    print(f"{len(vectors)} vectors replayed through the reference adapter", file=sys.stderr)
    return 0


def survivors(results_path: Path, reasons_path: Path) -> int:
    """Write `reasons_path`: every surviving mutant with its reason, keeping a reason already
    in that file only when it was written for the same diff (mutmut numbers a function's
    mutants afresh when its code changes, so a name alone may now be another mutant), and
    marking the rest UNEXPLAINED. Returns how many are unexplained."""
    doc = json.loads(results_path.read_text(encoding="utf-8"))
    mine = _reasons(reasons_path) if reasons_path.exists() else {}
    lines, unexplained = [], 0
    labels = {"message": "MESSAGE: changes only an error message's text, a field name shown in it, or its location "
                         "keywords; the protocol carries the error code alone"}
    labels.update({c: c.upper() + ": " + why for c, _, why in CATEGORIES})
    for name, res in doc["results"].items():
        if res["status"] not in ("survived", "message", *labels):
            continue
        short = name.removeprefix("waterfall.")
        first = res["diff"].replace("\n", " | ")[:160]
        kept, diff = mine.get(short, (None, None))
        if diff != first or kept == "UNEXPLAINED":  # another mutant under this name, or never explained
            kept = None
        reason = labels.get(category(name, res)) or kept  # the category as the code says now
        if reason is None:
            reason = "UNEXPLAINED"
            unexplained += 1
        lines.append(f"{short}  {reason}\n    {first}")
    head = ("# Mutants of model/ that survive the conformance vectors (docs/conformance.md), each with its reason.\n"
            "# Written by `python -m waterfall.conformance.mutation survivors`; a reason is kept on a rerun when "
            "its mutant's diff is unchanged.\n\n")
    reasons_path.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    return unexplained


def _reasons(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (reason, the diff line written under it) of a reasons file."""
    out: dict[str, tuple[str, str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for k, line in enumerate(lines):
        m = re.match(r"^(model\.\S+)\s+(.+)$", line)
        if m:
            below = lines[k + 1] if k + 1 < len(lines) and lines[k + 1].startswith("    ") else ""
            out[m.group(1)] = (m.group(2), below[4:])
    return out


def main(argv: list[str] | None = None) -> int:
    """`serve TREE` (a worker), `replay` (for coverage), `run` (the whole measurement) or
    `survivors` (the reasons file)."""
    ap = argparse.ArgumentParser(prog="python -m waterfall.conformance.mutation", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("tree", type=Path)
    sv = sub.add_parser("survivors")
    sv.add_argument("--results", default=str(ROOT / "build" / "kit-mutation.json"))
    sv.add_argument("--reasons", default=str(ROOT / "docs" / "conformance-survivors.txt"))
    rp = sub.add_parser("replay")
    rp.add_argument("--vectors", default=None)
    r = sub.add_parser("run")
    r.add_argument("--vectors", default=None)
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--timeout", type=float, default=10.0)
    r.add_argument("--out", default=str(ROOT / "build" / "kit-mutation.json"))
    r.add_argument("--tree", default=str(ROOT / "build" / "kit-mutants" / "model"),
                   help="where the mutated copy of model/ is written (a second run at the same time needs its own)")
    r.add_argument("--only", action="append", help="only mutants whose name contains this text")
    r.add_argument("--sample", type=int, default=0,
                   help="only N mutants: the first N of the names shuffled by --seed (deterministic)")
    r.add_argument("--seed", type=int, default=0, help="the shuffle of --sample")
    r.add_argument("--rerun-survivors", action="store_true",
                   help="only the mutants that survived in --out, merged into it (after the vectors grew)")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args.tree)
        return 0
    if args.cmd == "survivors":
        left = survivors(Path(args.results), Path(args.reasons))
        print(f"{left} survivors without a reason in {args.reasons}")
        return 1 if left else 0
    from waterfall.conformance.runner import load_vectors
    from waterfall.conformance.vectors import VECTORS_DIR
    if args.cmd == "replay":
        return replay(Path(args.vectors or VECTORS_DIR))
    t0 = time.monotonic()
    requests = steps(load_vectors(Path(args.vectors or VECTORS_DIR)).vectors)
    covered, missing = covered_lines(requests)
    tree = Path(args.tree)
    diffs = build_tree(covered, tree)
    names = sorted(n for n in diffs if not args.only or any(o in n for o in args.only))
    previous: dict[str, Any] = {}
    if args.rerun_survivors:
        previous = json.loads(Path(args.out).read_text(encoding="utf-8"))["results"]
        names = [n for n in names if previous.get(n, {}).get("status") not in ("killed", "timeout")]
    total = len(names)
    if args.sample:
        random.Random(args.seed).shuffle(names)  # a prefix of the shuffle is a sample too (a stopped run)
        names = names[:args.sample]
    print(f"{len(requests)} steps, {total} mutants on covered lines"
          + (f", a sample of {len(names)} (seed {args.seed})" if args.sample else ""), file=sys.stderr, flush=True)

    def report(results: dict[str, dict[str, Any]], partial: bool) -> dict[str, int]:
        for n, res in results.items():
            res["diff"] = diffs[n]
            if res["status"] == "survived":
                res["status"] = category(n, res) or "survived"
        results = {**{n: r for n, r in previous.items() if n in diffs}, **results}
        counts: dict[str, int] = {}
        for res in results.values():
            counts[res["status"]] = counts.get(res["status"], 0) + 1
        doc = {"steps": len(requests), "mutants_on_covered_lines": total, "mutants": len(results),
               "sample": {"size": args.sample, "seed": args.seed} if args.sample else None, "partial": partial,
               "counts": counts, "seconds": round(time.monotonic() - t0),
               "uncovered_lines": {f: lines for f, lines in missing.items() if lines},
               "results": dict(sorted(results.items()))}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return counts

    results = run_mutants(names, tree, requests, args.jobs, args.timeout, checkpoint=lambda r: report(r, True))
    counts = report(results, False)
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    print(f"{len(names)} mutants: {counts}; killed + timeout {killed}; survivors other than message-only "
          f"{counts.get('survived', 0)}; report {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
