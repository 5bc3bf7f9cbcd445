"""The layout (issue 16): every module sits in a part, and imports run one way, downwards:
the command line -> the report and the conformance kit -> the provers and the fuzzer ->
the model and the spec. The table is README.md's "Where things are"; this test is its check."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"waterfall.model": ROOT / "model", "waterfall.spec": ROOT / "spec", "waterfall.proofs": ROOT / "proofs",
           "waterfall": ROOT / "waterfall"}

# part -> the parts it may import (a part may always import itself and the top `waterfall`);
# "docs" is docs/ as data (waterfall.docs: DOCS_DIR, EXAMPLES_DIR), read by the command line
ALLOWED: dict[str, set[str]] = {
    "model": {"spec"},  # the data folders and the registry's ids (model.loader), nothing that checks it
    "spec": {"model"},
    "proofs": {"model", "spec"},  # the shared modules of proofs/: verdict, checks, alln, crosshair, final_forms
    "proofs.prove": {"proofs", "model", "spec"},
    "proofs.fuzz": {"proofs", "model", "spec"},
    "proofs.mutation": {"proofs.prove", "proofs.fuzz", "proofs", "model", "spec"},
    "conformance": {"proofs.mutation", "proofs.prove", "proofs.fuzz", "proofs", "model", "spec"},
    "report": {"docs", "proofs.prove", "proofs.fuzz", "proofs", "model", "spec"},
    "cli": {"docs", "report", "conformance", "proofs.mutation", "proofs.prove", "proofs.fuzz", "proofs", "model", "spec"},
}


def part(module: str) -> str:
    """The part a module belongs to: `waterfall.proofs.prove.harness` -> 'proofs.prove'."""
    names = module.split(".")[1:]
    if not names:
        return ""
    if names[0] == "proofs" and len(names) > 2:
        return f"proofs.{names[1]}"
    return names[0]


def modules() -> dict[str, Path]:
    """Every module of the package, by its import name."""
    out = {}
    for package, folder in FOLDERS.items():
        for f in folder.rglob("*.py"):
            rel = f.relative_to(folder).with_suffix("")
            if package == "waterfall" and rel.parts[0] not in ("cli", "conformance", "report", "__init__"):
                continue
            names = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *names])] = f
    return out


def imported(module: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """Every waterfall module `source` imports, at any depth (function-level imports too):
    `from pkg import mod` is the module, `from pkg.mod import name` the module."""
    out = set()
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            stem = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (stem, node.module or "") if p)
            out |= {f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names}
    return {m for m in out if m == "waterfall" or m.startswith("waterfall.")}


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Imports against the direction: 'importer -> imported (part -> part)'."""
    known = set(sources)
    bad = []
    for module, (source, is_package) in sorted(sources.items()):
        mine = part(module)
        for target in sorted(imported(module, source, is_package, known)):
            theirs = part(target)
            if theirs in ("", mine) or theirs in ALLOWED[mine]:
                continue
            bad.append(f"{module} -> {target} ({mine} -> {theirs})")
    return bad


def sources() -> dict[str, tuple[str, bool]]:
    return {m: (f.read_text(encoding="utf-8"), f.name == "__init__.py") for m, f in modules().items()}


def test_every_module_is_in_a_part() -> None:
    parts = {part(m) for m in modules()} - {""}
    assert parts == set(ALLOWED), parts ^ set(ALLOWED)


def test_imports_run_one_way() -> None:
    assert violations(sources()) == []


@pytest.mark.parametrize("importer, statement", [
    ("waterfall.model.step", "from waterfall.proofs.prove.symexec import Sym"),
    ("waterfall.proofs.prove.prover", "from waterfall.proofs.fuzz.machines import search"),
    ("waterfall.proofs.fuzz.shrink", "from waterfall.report.trace import first_violation"),
    ("waterfall.report.document", "from waterfall.cli.about import version_text"),
    ("waterfall.conformance.vectors", "from ..report import ledger"),
    ("waterfall.proofs.crosshair", "from waterfall.cli import args"),
])
def test_a_planted_upward_import_fails(importer: str, statement: str) -> None:
    """The check can fail: one import against the direction, planted in a module's source,
    is reported (relative imports resolved from the importer's package)."""
    src = sources()
    text, is_package = src[importer]
    src[importer] = (text + "\n\ndef _planted():\n    " + statement + "\n", is_package)
    assert len(violations(src)) == 1


def test_proofs_folder_stays_small() -> None:
    """proofs/ has about a dozen entries; each module sits in a named part."""
    entries = [p for p in (ROOT / "proofs").iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 12, sorted(p.name for p in entries)


def test_every_part_says_what_it_is_and_may_import() -> None:
    """Each part's __init__.py: what it is, then what it may import."""
    for m, f in modules().items():
        if f.name == "__init__.py" and part(m) in ALLOWED and m.count(".") <= 2:
            doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
            assert "may import" in doc.lower(), m
