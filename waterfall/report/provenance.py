"""What this installation is: the versions of waterfall and of the engines it uses (the
report's provenance block, `waterfall --version`), and which code exactly (R-REPORT-6): the
commit of a checkout, and in every case a SHA-256 over the files of the package itself."""
from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import Any

from waterfall import DISTRIBUTION, __version__
from waterfall.spec import SPEC_VERSION

# distribution name -> what uses it (the heavy ones are extras of pyproject.toml)
ENGINES = {"z3-solver": "prove", "sympy": "prove (all N)", "hypothesis": "fuzz", "crosshair-tool": "crosshair",
           "matplotlib": "report plots", "jsonschema": "file validation"}

# the import packages whose files are the tool (in a wheel all under waterfall/; in a
# checkout waterfall/, model/, proofs/ and spec/, mapped by pyproject.toml)
PARTS = ("waterfall.cli", "waterfall.conformance", "waterfall.report", "waterfall.model", "waterfall.proofs",
         "waterfall.spec")


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


def part_files() -> list[tuple[str, Path]]:
    """(name as PACKAGE/relative path, file) for every file of the tool's packages, sorted;
    caches and compiled files left out."""
    out = []
    for name in PARTS:
        root = Path(str(files(name)))
        for f in root.rglob("*"):
            rel = f.relative_to(root)
            if f.is_file() and "__pycache__" not in rel.parts and f.suffix not in (".pyc", ".pyo"):
                out.append((f"{name}/{rel.as_posix()}", f))
    return sorted(out)


def files_sha256() -> tuple[str, int]:
    """R-REPORT-6: one SHA-256 over the tool's files (each: its name, NUL, its length, NUL,
    its bytes), and how many there are; the same files give the same hash wherever installed."""
    h = hashlib.sha256()
    found = part_files()
    for name, f in found:
        data = f.read_bytes()
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest(), len(found)


def git_commit() -> str | None:
    """The commit of the checkout the tool runs from ('+ local changes' if its files differ
    from it), or None for an installed package or when git is unavailable."""
    root = Path(str(files("waterfall"))).parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def tool() -> dict[str, Any]:
    """R-REPORT-6: the tool that made a report: distribution, version, spec version, commit
    (None when installed from a wheel) and the hash of its files."""
    digest, count = files_sha256()
    return {"distribution": DISTRIBUTION, "version": __version__, "spec_version": SPEC_VERSION,
            "commit": git_commit(), "files_sha256": digest, "files": count}
