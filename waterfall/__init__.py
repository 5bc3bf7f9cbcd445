"""waterfall: the one import name of this project.

Its parts, from the bottom up (imports run one way, downwards; tests/test_layout.py):
- `waterfall.model` = model/ (the reference model) and `waterfall.spec` = spec/ (the rules'
  data, the invariant registry), mapped in pyproject.toml (`[tool.setuptools.package-dir]`);
- `waterfall.proofs` = proofs/ (the provers and the fuzzer);
- `waterfall.conformance` and `waterfall.report` (the kit for implementers, the audit report);
- `waterfall.cli` (the `waterfall` command).
This file only names the package and its distribution: `loss-waterfall` on PyPI (the
distribution `waterfall` is an unrelated project that installs the same import name;
docs/install.md says what happens when both are installed, `waterfall --version` warns).
Nothing else may live here: a clashing install can overwrite or remove this one file.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "loss-waterfall"
"""The name to `pip install` (R-PKG-3); the import name and the command are `waterfall`."""

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
