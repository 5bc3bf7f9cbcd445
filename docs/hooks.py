"""MkDocs hook: lay the site out like the repository, and generate the invariant registry.

The site mirrors the repository's paths, so a relative link that works when the Markdown is
read on disk (docs/proofs.md -> ../spec/rules.md) works in the built site too:

- README.md            -> index.html (home page)
- docs/*.md, docs/examples/**/*.md -> docs/...
- spec/*.md            -> spec/...   (read in place: code reads these files, they do not move)
- bench/README.md      -> bench/index.html
- docs/invariant-registry.md is generated at build time from spec/invariants.py (REGISTRY,
  RELATIONS) and the catalogue (model.loader.catalogue / load_mechanism);
- docs/cli.md, the command-line reference, from the argument parser (waterfall/cli/reference.py).

Non-Markdown files the pages link to (spec/invariants.py, proofs/alln.py, the scenario
schema, the findings) are copied as plain files so `mkdocs build --strict` can check those
links too. Nothing here fetches anything: the build is offline.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

ROOT = Path(__file__).resolve().parent.parent

# what the site contains, as globs relative to the repository root
PAGES = ["README.md", "docs/*.md", "docs/examples/*/*.md", "spec/*.md", "bench/README.md"]
ASSETS = ["spec/invariants.py", "proofs/alln.py", "spec/schemas/*.json", "spec/findings/*.json"]
REGISTRY_PAGE = "docs/invariant-registry.md"
CLI_PAGE = "docs/cli.md"


def _file(rel: str, config) -> File:
    return File(rel, str(ROOT), config["site_dir"], config["use_directory_urls"])


def on_files(files: Files, config) -> Files:
    """Replace what MkDocs found under docs_dir by the repository-shaped set above."""
    out = Files([])
    seen: set[str] = set()
    for pattern in PAGES + ASSETS:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in seen:
                seen.add(rel)
                out.append(_file(rel, config))
    # a directory link (spec/invariants.md -> findings) needs an index to land on
    out.append(File.generated(config, "spec/findings/index.md", content=findings_page()))
    out.append(File.generated(config, REGISTRY_PAGE, content=registry_page()))
    out.append(File.generated(config, CLI_PAGE, content=cli_page()))
    # keep what the theme and plugins added (CSS, JS, icons); drop what MkDocs found in docs_dir
    docs_dir = Path(config["docs_dir"]).resolve()
    for f in files:
        if f.abs_src_path is None or not Path(f.abs_src_path).resolve().is_relative_to(docs_dir):
            out.append(f)
    return out


def findings_page() -> str:
    rows = [f"- [`{p.name}`]({p.name})" for p in sorted((ROOT / "spec/findings").glob("*.json"))]
    return ("# Findings\n\nMinimal scenarios of documented findings (a mechanism violating an "
            "invariant it does not claim), replayed by the tests. Replay one with "
            "`.venv/bin/waterfall run spec/findings/FILE`.\n\n" + "\n".join(rows) + "\n")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def cli_page() -> str:
    """The command-line reference, from the argument parser (waterfall/cli/reference.py)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from waterfall.cli.reference import markdown
    return markdown()


def registry_page() -> str:
    """The invariant registry as a table, from the code the checkers use."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.spec.invariants import REGISTRY, RELATIONS

    mechs = {mid: load_mechanism(path) for mid, path in catalogue().items()}
    lines = [
        "# Invariant registry (generated)",
        "",
        "Generated at build time from `spec/invariants.py` (`REGISTRY`, `RELATIONS`) and the "
        f"catalogue `spec/mechanisms/*.toml` ({len(mechs)} mechanisms). The prose, the all-N "
        "arguments and the documented findings are in [the registry text](../spec/invariants.md).",
        "",
        "**Evidence.** A claim is backed by one verdict per mechanism and invariant from "
        "`waterfall prove` (`PROVED all N`: sympy identity, Z3 induction or per-account lemma; "
        "`PROVED N<=k`: Z3 over venues of up to k accounts; or a `COUNTEREXAMPLE` replayed "
        "through the model), by CrossHair over the model's contracts (`waterfall crosshair`, "
        "never a proof: [CrossHair](crosshair.md)), and by the stress scenarios and the "
        "Hypothesis fuzzer (`waterfall verify`, `waterfall fuzz`; the relational invariants are "
        "fuzzed only). What each verdict means and what is trusted: "
        "[What is proved](proofs.md).",
        "",
        "| ID | name | statement | why users care | claimed by |",
        "|---|---|---|---|---|",
    ]
    entries = [(i.id, i.name, i.statement, i.why) for i in REGISTRY.values()]
    entries += [(r.id, r.name + " (relational)", r.statement, r.why) for r in RELATIONS.values()]
    for iid, name, statement, why in entries:
        claimers = [mid for mid, m in mechs.items() if iid in m.claims]
        who = "all" if len(claimers) == len(mechs) else (", ".join(f"`{c}`" for c in claimers) or "none")
        lines.append(f"| `{iid}` | {_cell(name)} | {_cell(statement)} | {_cell(why)} | "
                     f"{who} ({len(claimers)}/{len(mechs)}) |")
    lines += ["", "A mechanism that violates an invariant it does not claim shows a documented "
              "property of its design, not a bug (R-VERIFY-2).", ""]
    return "\n".join(lines)


_LINK = re.compile(r"\]\(([^)\s#:]+?)/?\)")


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    """A link to a repository directory (`[findings/](findings)`) lands on its index page."""
    here = (ROOT / page.file.src_uri).parent

    def fix(m: re.Match) -> str:
        target = m.group(1)
        if not (here / target).is_dir():
            return m.group(0)
        for index in ("index.md", "README.md"):
            rel = (here / target / index).resolve().relative_to(ROOT).as_posix()
            if files.get_file_from_path(rel) is not None:
                return f"]({target}/{index})"
        return m.group(0)

    return _LINK.sub(fix, markdown)
