"""waterfall: the one import name of this project.

Its parts are the folders of the repository's fixed layout, mapped in pyproject.toml
(`[tool.setuptools.package-dir]`): `waterfall.model` is model/ (the reference model),
`waterfall.proofs` is proofs/ (the engines and the CLI), `waterfall.spec` is spec/ (the
invariant registry and the normative data). This file only names the package.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("waterfall")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
