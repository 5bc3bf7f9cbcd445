"""What this installation can do: the `--version` line, and which optional extras a
command is missing (the versions themselves: waterfall/report/provenance.py)."""
from __future__ import annotations

import importlib.util

from waterfall.report.provenance import ENGINES, versions
from waterfall.spec import SPEC_VERSION

# subcommand -> (extra that provides it, modules it imports)
NEEDS = {"prove": ("prove", ("z3", "sympy")), "report": ("report", ("z3", "sympy", "matplotlib")),
         "crosshair": ("crosshair", ("crosshair", "z3")), "diff": ("crosshair", ("crosshair", "z3"))}


def version_text() -> str:
    """The `--version` line."""
    v = versions()
    engines = ", ".join(f"{d} {v[d] or 'not installed'}" for d in ENGINES)
    return f"waterfall {v['waterfall']} ({SPEC_VERSION}; Python {v['python']}; {engines})"


def missing_extra(command: str) -> str | None:
    """Why `command` cannot run here (an extra not installed), or None."""
    extra, modules = NEEDS.get(command, ("", ()))
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return (f"`waterfall {command}` needs {', '.join(absent)}, which the '{extra}' extra installs: "
            f"pip install 'waterfall[{extra}]'")
