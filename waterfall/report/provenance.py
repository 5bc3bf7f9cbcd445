"""What this installation is: the versions of waterfall and of the engines it uses (the
report's provenance block, `waterfall --version`)."""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from waterfall import __version__

# distribution name -> what uses it (the heavy ones are extras of pyproject.toml)
ENGINES = {"z3-solver": "prove", "sympy": "prove (all N)", "hypothesis": "fuzz", "crosshair-tool": "crosshair",
           "matplotlib": "report plots", "jsonschema": "file validation"}


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
