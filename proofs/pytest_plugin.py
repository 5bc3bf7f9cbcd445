"""pytest plugin for implementers' CI (R-CONF-5): `pytest --waterfall-impl 'CMD'` runs every
conformance vector as a test item of its own, through the runner of proofs/conform.py.

Installed with this package (entry point `pytest11`); inactive unless --waterfall-impl is
given. Options: --waterfall-vectors DIR, --waterfall-mechanism ID (repeatable),
--waterfall-filter TEXT, --waterfall-timeout S.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conform import Implementation, Vector, load_vectors, run
from .vectors import VECTORS_DIR


def pytest_addoption(parser: Any) -> None:
    """The plugin's command-line options."""
    g = parser.getgroup("waterfall", "waterfall conformance vectors")
    g.addoption("--waterfall-impl", metavar="'CMD ARGS'", help="run the conformance vectors through this command")
    g.addoption("--waterfall-vectors", default=str(VECTORS_DIR), help="vector directory (default: the bundled set)")
    g.addoption("--waterfall-mechanism", action="append", help="only these mechanism ids")
    g.addoption("--waterfall-filter", help="only vectors whose MECHANISM/ID contains this text")
    g.addoption("--waterfall-timeout", type=float, default=10.0, help="seconds per step")


class VectorItem(pytest.Item):
    """One vector: passes when every step of it passes."""

    def __init__(self, *, vector: Vector, **kw: Any) -> None:
        super().__init__(**kw)
        self.vector = vector

    def runtest(self) -> None:
        impl = Implementation(self.config.getoption("waterfall_impl"), self.config.getoption("waterfall_timeout"))
        failed = [r for r in run([self.vector], impl) if r.status != "pass"]
        if failed:
            raise AssertionError("\n".join(f"step {r.step}: {r.reason}: {r.detail}" for r in failed))

    def reportinfo(self) -> tuple[Path, None, str]:
        return Path(self.config.getoption("waterfall_vectors")), None, f"vector {self.vector.key}"


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Add one item per selected vector when --waterfall-impl is given."""
    if not config.getoption("waterfall_impl"):
        return
    vectors, _ = load_vectors(Path(config.getoption("waterfall_vectors")), config.getoption("waterfall_mechanism"),
                              config.getoption("waterfall_filter"))
    items.extend(VectorItem.from_parent(session, name=v.key, vector=v) for v in vectors)
