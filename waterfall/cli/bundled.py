"""What ships in the package, by name (R-CLI-8): `waterfall docs [PAGE]` (where the bundled
documentation is, or one page) and `waterfall example NAME DIR` (a self-contained copy of an
example implementation, with the scenarios its tests read and its conformance figures
computed from this installation's vectors).

Exit codes: 0 done; 2 bad input (an unknown page or example, a DIR that is not empty).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from waterfall.docs import DOCS_DIR, EXAMPLES_DIR
from waterfall.model.errors import WaterfallError, closest
from waterfall.model.loader import load_scenario
from waterfall.spec import SCENARIOS_DIR, SPEC_DIR, VECTORS_DIR
from waterfall.cli.args import out_dir

# the pages `waterfall docs` lists first: (name, what it answers)
MAIN_PAGES = [("install", "the name loss-waterfall, extras, and a clashing 'waterfall' install"),
              ("concepts", "the loss waterfall, its layers and words, start here"),
              ("proofs", "what is proved about which code, what is trusted, what is not proved"),
              ("guide-designer", "writing and checking your own mechanism file"),
              ("guide-auditor", "reading the audit report"),
              ("implementers", "running the conformance vectors against your engine"),
              ("rules", "the normative rules, R-IDs (spec)"),
              ("invariants", "the invariants, I-IDs (spec)")]

# example name -> the mechanism it implements (the vectors counted for its figures)
EXAMPLES = {"node-generic": "generic-socialized-loss"}


class BundledError(WaterfallError):
    """An unknown bundled page or example, or a destination that would be overwritten."""

    code = "E-BUNDLED"


def add_parser(sub: Any) -> None:
    """Register `docs` and `example`."""
    d = sub.add_parser("docs", help="where the bundled documentation is; with PAGE, print that page")
    d.add_argument("page", nargs="?", help="a page name (proofs, concepts, install, rules, ...)")
    d.set_defaults(func=cmd_docs)
    e = sub.add_parser("example", help="copy a bundled example implementation into DIR (self-contained)")
    e.add_argument("name", help=f"the example: {', '.join(EXAMPLES)}")
    e.add_argument("dir", type=out_dir, help="a new or empty folder")
    e.set_defaults(func=cmd_example)


def pages() -> dict[str, Path]:
    """Every bundled Markdown page by name (file stem): docs/ first, then spec/."""
    found: dict[str, Path] = {}
    for folder in (DOCS_DIR, SPEC_DIR):
        for p in sorted(folder.glob("*.md")):
            found.setdefault(p.stem, p)
    return found


def cmd_docs(args: Any) -> int:
    """`waterfall docs [PAGE]`: the folder and the main pages, or one page's text."""
    known = pages()
    if args.page:
        name = args.page.removesuffix(".md")
        if name not in known:
            raise BundledError(f"no bundled page {args.page!r}{closest(name, list(known))}", key=args.page)
        print(known[name].read_text(encoding="utf-8"), end="")
        return 0
    print(f"The documentation of this installation is in {DOCS_DIR}")
    print(f"(the spec's pages in {SPEC_DIR}); print one with `waterfall docs PAGE`:\n")
    for name, what in MAIN_PAGES:
        print(f"  {name:<15} {known[name]}\n  {'':<15} {what}")
    rest = sorted(set(known) - {n for n, _ in MAIN_PAGES})
    print(f"\nOther pages: {', '.join(rest)}")
    print(f"Examples (`waterfall example NAME DIR`): {', '.join(EXAMPLES)}")
    return 0


def cmd_example(args: Any) -> int:
    """`waterfall example NAME DIR`: copy the example, the scenarios its tests read, and
    write its conformance figures from this installation's vectors."""
    if args.name not in EXAMPLES:
        raise BundledError(f"no bundled example {args.name!r}{closest(args.name, list(EXAMPLES))}", key=args.name)
    dest = Path(args.dir)
    if dest.is_dir() and any(dest.iterdir()):
        raise BundledError(f"{dest}: not empty; give a new or empty folder", file=dest)
    source = EXAMPLES_DIR / args.name
    files = [p for p in sorted(source.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    mechanism = EXAMPLES[args.name]
    try:
        for p in files:
            target = dest / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
        scenarios = copy_scenarios(dest / "scenarios", mechanism)
        vectors, steps = vector_figures(mechanism)
        with open(dest / "README.md", "a", encoding="utf-8") as readme:
            readme.write(figures_section(mechanism, vectors, steps, scenarios))
    except OSError as e:  # a symlink loop, a full disk, a parent that turned into a file
        raise BundledError(f"{dest}: cannot write the example: {e.strerror or e}", file=dest) from None
    print(f"wrote {args.name} to {dest} ({len(files)} files, {scenarios} scenarios in scenarios/)")
    print(f"  its tests:        node --test {dest / 'test'}/")
    print(f"  the vectors:      waterfall conform --impl 'node {dest / 'waterfall-node.mjs'}' --mechanism {mechanism}")
    print(f"  expected there:   {steps} of {steps} steps passed in {vectors} vectors")
    return 0


def copy_scenarios(dest: Path, mechanism: str) -> int:
    """The bundled stress scenarios written for `mechanism` (the example's tests replay them;
    the protocol test reads fund-short-by-one), copied into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for p in sorted(SCENARIOS_DIR.glob("*.json")):
        sc = load_scenario(p)
        if sc.mechanism == mechanism or mechanism in sc.mechanisms:
            shutil.copyfile(p, dest / p.name)
            count += 1
    return count


def vector_figures(mechanism: str) -> tuple[int, int]:
    """(vectors, steps) of the committed vectors of `mechanism` (spec/vectors/manifest.json)."""
    entries = json.loads((VECTORS_DIR / "manifest.json").read_text(encoding="utf-8"))["vectors"]
    mine = [e for e in entries if e["mechanism"] == mechanism]
    return len(mine), sum(e["steps"] for e in mine)


def figures_section(mechanism: str, vectors: int, steps: int, scenarios: int) -> str:
    """The README section `waterfall example` writes: figures computed, not typed."""
    return (f"\n## Figures of this copy (written by `waterfall example` from the installed vectors)\n\n"
            f"- The vectors of `{mechanism}` in this installation: {vectors} vectors, {steps} steps "
            f"(`waterfall conform --impl 'node waterfall-node.mjs' --mechanism {mechanism}` from this folder).\n"
            f"- `scenarios/`: the {scenarios} bundled stress scenarios written for `{mechanism}`, which "
            f"`test/scenarios.test.mjs` and `test/protocol.test.mjs` replay (`node --test test/`).\n")
