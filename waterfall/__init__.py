"""waterfall: the one import name of this project.

Its parts, from the bottom up (imports run one way, downwards; tests/test_layout.py):
- `waterfall.model` = model/ (the reference model) and `waterfall.spec` = spec/ (the rules'
  data, the invariant registry), mapped in pyproject.toml (`[tool.setuptools.package-dir]`);
- `waterfall.proofs` = proofs/ (the provers and the fuzzer);
- `waterfall.conformance` and `waterfall.report` (the kit for implementers, the audit report);
- `waterfall.cli` (the `waterfall` command).
This file only names the package.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("waterfall")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
