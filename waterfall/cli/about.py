"""What this installation can do: the `--version` line, which optional extras a command is
missing, and whether another distribution shares the import name `waterfall` (R-PKG-3;
the versions themselves: waterfall/report/provenance.py)."""
from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, distribution

from waterfall import DISTRIBUTION
from waterfall.report.provenance import ENGINES, versions
from waterfall.spec import SPEC_VERSION

# subcommand -> (extra that provides it, modules it imports)
NEEDS = {"prove": ("prove", ("z3", "sympy")), "report": ("report", ("z3", "sympy", "matplotlib", "markdown")),
         "crosshair": ("crosshair", ("crosshair", "z3")), "diff": ("crosshair", ("crosshair", "z3"))}

# distributions known to install a top-level package named `waterfall` (PyPI's `waterfall`:
# text watermarking for LLMs, https://pypi.org/project/waterfall/; its wheel 0.3.4 ships
# waterfall/__init__.py, cli.py, watermark.py, ... and the command `waterfall_demo`)
CLASHING = ("waterfall",)
# this project was called `waterfall` before 0.1.0 was published: a checkout's stale
# waterfall.egg-info, or an old install of it, carries this summary and is not a clash
OUR_SUMMARY = "Formal specification and verification suite for the loss waterfall of leveraged derivatives venues"


def version_text() -> str:
    """The `--version` line: the distribution to install, its import name, spec and engines."""
    v = versions()
    engines = ", ".join(f"{d} {v[d] or 'not installed'}" for d in ENGINES)
    return (f"{DISTRIBUTION} {v['waterfall']} (import name waterfall; {SPEC_VERSION}; Python {v['python']}; "
            f"{engines})")


def clash() -> str | None:
    """R-PKG-3: a warning when another installed distribution also provides the import name
    `waterfall` (files of one overwrite the other's; docs/install.md), or None."""
    found = []
    for name in CLASHING:
        try:
            other = distribution(name)
        except PackageNotFoundError:
            continue
        if other.metadata["Summary"] != OUR_SUMMARY:  # not a leftover of this project's own old name
            found.append(f"{name} {other.version}")
    if not found:
        return None
    return (f"warning [W-CLASH]: {', '.join(found)} is also installed here and uses the import name "
            f"`waterfall`; its files and {DISTRIBUTION}'s overwrite each other. Fix: pip uninstall -y "
            f"{' '.join(n.split()[0] for n in found)} && pip install --force-reinstall --no-deps {DISTRIBUTION} "
            f"(docs/install.md; `waterfall docs` shows where it is)")


def missing_extra(command: str) -> str | None:
    """Why `command` cannot run here (an extra not installed), or None."""
    extra, modules = NEEDS.get(command, ("", ()))
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return (f"`waterfall {command}` needs {', '.join(absent)}, which the '{extra}' extra installs: "
            f"pip install '{DISTRIBUTION}[{extra}]'")
