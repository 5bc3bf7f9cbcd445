"""Planted bugs judged by the checkers of an earlier commit (issue 18's "before" column).

Each bug of proofs/mutation/planted.py is planted in model/ of BASE (default: the commit this
branch started from) and judged by BASE's own prover, fuzzer, invariants and catalogue claims,
so "before" means the claims and predicates as they were, not this branch's rewritten ones.
BASE's files are exported with `git archive` to a temporary folder and imported from there
by a meta-path finder (waterfall.model from the planted copy, waterfall.spec and
waterfall.proofs from BASE); the judging is BASE's own `planted child` entry point.

    .venv/bin/python bench/planted_before.py [--base COMMIT] [--timeout 300] [--examples 200] [NAME ...]

Prints one JSON line per bug: {"bug", "prove": {"refuted", ...}, "fuzz": {"broken", ...}}.
"""
from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import io
import json
import runpy
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASE = "41d5aae"  # the main commit issue 18's branch started from


class TreeFinder(importlib.abc.MetaPathFinder):
    """Imports waterfall.<part> (and its subpackages) from folders of an exported tree."""

    def __init__(self, parts: dict[str, Path]) -> None:
        self.parts = parts

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        for prefix, folder in self.parts.items():
            if name == prefix or name.startswith(prefix + "."):
                where = folder.joinpath(*name[len(prefix):].split(".")[1:]) if name != prefix else folder
                if (where / "__init__.py").exists():
                    return importlib.util.spec_from_file_location(name, where / "__init__.py",
                                                                  submodule_search_locations=[str(where)])
                file = where.with_suffix(".py")
                return importlib.util.spec_from_file_location(name, file) if file.exists() else None
        return None


def child(base: Path, argv: list[str]) -> None:
    """In this process: BASE's spec and proofs, then BASE's `planted child` (which installs
    the planted model copy before importing the model)."""
    sys.meta_path.insert(0, TreeFinder({"waterfall.spec": base / "spec", "waterfall.proofs": base / "proofs"}))
    sys.argv = ["planted", "child", *argv]
    runpy.run_module("waterfall.proofs.mutation.planted", run_name="__main__")


def export(commit: str, into: Path) -> Path:
    """`git archive` of model/, spec/ and proofs/ at `commit` into `into`."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "model", "spec", "proofs"],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(into, filter="data")
    return into


def judge_before(bug: Any, base: Path, timeout: float, examples: int) -> dict[str, Any]:
    """Plant the bug in BASE's model/ and judge it with BASE's checkers in a child process."""
    from waterfall.proofs.mutation.planted import plant
    from waterfall.proofs.mutation import model_copy
    with tempfile.TemporaryDirectory() as d:
        saved = model_copy.MODEL_DIR
        try:  # plant into BASE's model/, not this checkout's
            import waterfall.proofs.mutation.planted as P
            P.MODEL_DIR = base / "model"
            tree = plant(bug, Path(d))
        finally:
            P.MODEL_DIR = saved
        spec = Path(d) / "bug.json"
        # the fields an earlier commit's Bug knows (issue 17 added samples, narrow, exact)
        spec.write_text(json.dumps({k: v for k, v in asdict(bug).items() if k not in ("samples", "narrow", "exact")}))
        argv = [sys.executable, __file__, "--child", str(base), str(tree), str(spec), str(timeout), str(examples)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout * 3 + 600)
    if p.returncode != 0:
        return {"bug": bug.name, "error": (p.stderr or p.stdout).strip()[-2000:]}
    return {"bug": bug.name, **json.loads(p.stdout.strip().splitlines()[-1])}


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--examples", type=int, default=200)
    args = ap.parse_args()
    from waterfall.proofs.mutation.planted import BUGS
    bugs = [b for b in BUGS if b.name in args.names] if args.names else list(BUGS)
    with tempfile.TemporaryDirectory() as d:
        base = export(args.base, Path(d))
        for bug in bugs:
            print(json.dumps(judge_before(bug, base, args.timeout, args.examples)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
