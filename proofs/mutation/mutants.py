"""Generated mutants of model/ judged by the prover and the fuzzer (R-PROVE-10, `make
mutate-proofs`): how many of the mutants that break a claimed invariant does `waterfall
prove` refute?

The planted bugs (proofs/mutation/planted.py) are the issue's hand-written list; these are mutmut's
own operators (the `mutate` extra: `mutmut.mutation.file_mutation.mutate_file_contents`) over
the loss waterfall's modules. mutmut writes every mutant of a function as a renamed copy
behind a trampoline; here each mutant becomes a plain one-function edit of the original file
(the copy renamed back), a `Bug` that planted.py plants in a copy of model/ and judges in a
child process: `waterfall prove` (liquidations, venues of 2 accounts and 1 market, the
small-scope search up to 4 accounts) and the fuzzer (derandomized), on the mechanisms of the
module's PANEL. A mutant *breaks* a claim when either checker shows a claimed invariant
violated (both replay through the mutated model); the score is the share of those that prove
refutes.

    python -m waterfall.proofs.mutation.mutants run [--count 30] [--seed 0] [--timeout 60] [--examples 60]
                                           [--semantic] [--out FILE]
"""
from __future__ import annotations

import ast
import json
import random
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Iterator

from waterfall.proofs.mutation.planted import MODEL_DIR, Bug, judge

# module -> the mechanisms whose claims its code serves (liquidations reach it on each)
PANEL: dict[str, tuple[str, ...]] = {
    "allocation.py": ("generic-socialized-loss", "drift-v2"),
    "haircut.py": ("generic-socialized-loss", "okx-2018-clawback", "chitra-queue"),
    "layers.py": ("generic-socialized-loss", "clearing-house-vmgh", "drift-v2"),
    "levy.py": ("drift-v2", "mango-v4"),
    "waterfall.py": ("generic-socialized-loss", "bitmex-adl", "dydx-v4-deleveraging"),
    "adl.py": ("bitmex-adl", "hyperliquid-adl", "dydx-v4-deleveraging"),
    "ranking.py": ("bitmex-adl", "hyperliquid-adl", "dydx-v4-deleveraging"),
}


def semantic(bug: "Bug") -> bool:
    """A mutant that changes what the code computes rather than making it crash: no None put
    in place of a value and no argument dropped (mutmut's commonest operators, which any
    run of the line catches as a TypeError)."""
    lines = diff(bug).splitlines()
    minus = " ".join(line[1:] for line in lines if line.startswith("-"))
    plus = " ".join(line[1:] for line in lines if line.startswith("+"))
    return plus.count("None") <= minus.count("None") and plus.count(",") == minus.count(",")


def functions(code: str) -> dict[str, ast.FunctionDef]:
    """Module-level functions of a source text, by name."""
    return {n.name: n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}


def generate(files: Iterator[str] | None = None) -> list[Bug]:
    """Every mutmut mutant of the module-level functions of `files` (PANEL's by default) as a
    one-function Bug: old = the function's source, new = the mutant's, renamed back."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    out = []
    for file in files or PANEL:
        code = (MODEL_DIR / file).read_text(encoding="utf-8")
        mutated = mutate_file_contents(file, code)
        originals, copies = functions(code), functions(mutated.code)
        for name in mutated.mutant_names:
            fn = name.partition("__mutmut_")[0].removeprefix("x_")
            if "ǁ" in name or fn not in originals:  # methods (Tx) are left to the planted list
                continue
            old = ast.get_source_segment(code, originals[fn]) or ""
            new = (ast.get_source_segment(mutated.code, copies[name]) or "").replace(f"def {name}(", f"def {fn}(", 1)
            if old and new and old != new and code.count(old) == 1:
                out.append(Bug(f"{file[:-3]}.{name.removeprefix('x_')}", file, old, new, PANEL.get(file, ("",))[0], ()))
    return out


def diff(bug: Bug) -> str:
    """The lines a mutant changes."""
    import difflib
    return "\n".join(d for d in difflib.unified_diff(bug.old.splitlines(), bug.new.splitlines(), lineterm="", n=0)
                     if d[:1] in "+-" and d[:3] not in ("+++", "---"))


def judge_mutant(bug: Bug, timeout: float, examples: int) -> dict[str, Any]:
    """Prove and fuzz the mutant on each mechanism of its module's panel (child processes)."""
    out: dict[str, Any] = {"mutant": bug.name, "diff": diff(bug), "prove": [], "fuzz": [], "errors": []}
    for mech in PANEL[bug.file]:
        r = judge(replace(bug, mechanism=mech), timeout, examples, fuzz=examples > 0)
        if "error" in r:
            out["errors"].append(f"{mech}: {r['error'][-300:]}")
            continue
        out["prove"] += [f"{mech} {i}" for i in r["prove"]["refuted"]]
        out["fuzz"] += [f"{mech} {i}" for i in r.get("fuzz", {}).get("broken", [])]
    out["breaks"] = bool(out["prove"] or out["fuzz"])
    return out


def run(count: int, seed: int, timeout: float, examples: int, progress: Any = sys.stderr,
        only_semantic: bool = False) -> dict[str, Any]:
    """A seeded sample of `count` mutants (only `semantic` ones if asked), each judged; the
    score and every miss."""
    every = [b for b in generate() if semantic(b) or not only_semantic]
    sample = random.Random(seed).sample(every, min(count, len(every)))
    t0, results = time.perf_counter(), []
    for n, bug in enumerate(sample, start=1):
        results.append(judge_mutant(bug, timeout, examples))
        r = results[-1]
        print(f"[{n}/{len(sample)} {time.perf_counter() - t0:6.0f}s] {bug.name}: prove {r['prove'] or '-'}, "
              f"fuzz {r['fuzz'] or '-'}{', errors' if r['errors'] else ''}", file=progress, flush=True)
    breaking = [r for r in results if r["breaks"]]
    return {"mutants": len(every), "sampled": len(sample), "seed": seed, "semantic_only": only_semantic,
            "breaking": len(breaking),
            "refuted_by_prove": sum(1 for r in breaking if r["prove"]),
            "found_by_fuzz": sum(1 for r in breaking if r["fuzz"]),
            "missed_by_prove": [r for r in breaking if not r["prove"]],
            "seconds": round(time.perf_counter() - t0), "results": results}


def main(argv: list[str] | None = None) -> int:
    """`run [--count N] [--seed S] [--timeout S] [--examples N] [--out FILE]`."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m waterfall.proofs.mutation.mutants")
    ap.add_argument("command", choices=["run", "list"])
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per mechanism for prove")
    ap.add_argument("--examples", type=int, default=60, help="fuzz examples per mechanism (0: no fuzzing)")
    ap.add_argument("--semantic", action="store_true", help="only mutants that change a value (no None, no dropped argument)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.command == "list":
        for bug in generate():
            print(bug.name)
        return 0
    doc = run(args.count, args.seed, args.timeout, args.examples, only_semantic=args.semantic)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{doc['breaking']} of {doc['sampled']} mutants break a claimed invariant; prove refutes "
          f"{doc['refuted_by_prove']}, the fuzzer finds {doc['found_by_fuzz']}; {doc['seconds']} s")
    for r in doc["missed_by_prove"]:
        print(f"missed by prove: {r['mutant']} (fuzz: {', '.join(r['fuzz'])})\n{r['diff']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["PANEL", "asdict", "generate", "judge_mutant", "run", "semantic"]
