"""Normative spec: rules (rules.md), mechanism catalogue, schemas, stress scenarios,
conformance vectors, documented findings and regression scenarios.

The data folders are package data of `waterfall.spec`, found with importlib.resources, so
they are the same files in a checkout, an editable install and an installed wheel.
May import the model (its data types and arithmetic); never a checker, the kit, the report or the command line.
"""
from importlib.resources import files
from pathlib import Path

SPEC_VERSION = "waterfall-spec/1"
"""The version of these rules that vectors, the conformance protocol and reports name."""


def _data_root() -> Path:
    """The folder of this package's data. pip unpacks wheels, so it is a file-system path;
    a zipped install (which the loaders' glob and open cannot read) is refused by name."""
    root = files(__name__)
    if not isinstance(root, Path):
        raise ImportError(f"waterfall.spec is installed as {root!r}, not unpacked; reinstall it with pip")
    return root


SPEC_DIR = _data_root()
MECHANISMS_DIR = SPEC_DIR / "mechanisms"
SCHEMAS_DIR = SPEC_DIR / "schemas"
SCENARIOS_DIR = SPEC_DIR / "scenarios"   # the bundled stress scenarios
FINDINGS_DIR = SPEC_DIR / "findings"     # minimal scenarios of documented properties
REGRESSIONS_DIR = SPEC_DIR / "regressions"  # minimal scenarios of fixed bugs (R-FUZZ-3)
VECTORS_DIR = SPEC_DIR / "vectors"       # the committed conformance vectors (R-CONF-1)
