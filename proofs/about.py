"""What this installation is: versions of waterfall and of the engines it uses, and which
optional extras are missing (`waterfall --version`, the report's provenance block)."""
from __future__ import annotations

import importlib.util
import platform
from importlib.metadata import PackageNotFoundError, version

from waterfall import __version__

# distribution name -> what uses it (the heavy ones are extras of pyproject.toml)
ENGINES = {"z3-solver": "prove", "sympy": "prove (all N)", "hypothesis": "fuzz", "crosshair-tool": "crosshair",
           "matplotlib": "report plots", "jsonschema": "file validation"}
# subcommand -> (extra that provides it, modules it imports)
NEEDS = {"prove": ("prove", ("z3", "sympy")), "report": ("report", ("z3", "sympy", "matplotlib")),
         "crosshair": ("crosshair", ("crosshair", "z3")), "diff": ("crosshair", ("crosshair", "z3"))}


def installed(dist: str) -> str | None:
    """The installed version of a distribution, None if absent."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """waterfall, Python and every engine (None: not installed)."""
    return {"waterfall": __version__, "python": platform.python_version(),
            **{d: installed(d) for d in ENGINES}}


def version_text() -> str:
    """The `--version` line."""
    from .vectors import SPEC_VERSION
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
