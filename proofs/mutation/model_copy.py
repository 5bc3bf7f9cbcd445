"""Running `waterfall.model` from a copy of model/: where model/ is, and a meta-path finder
placed before the installed package so that `import waterfall.model` loads the copy and
nothing else changes. Used for planted bugs (proofs/mutation/planted.py, R-PROVE-10) and for
the mutants that measure the conformance vectors (waterfall/conformance/mutation.py,
R-CONF-7), each in a process of its own.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any


def _model_dir() -> Path:
    """The folder `waterfall.model` is imported from, found without importing it."""
    spec = importlib.util.find_spec("waterfall.model")
    assert spec is not None and spec.origin is not None, "waterfall.model is not installed"
    return Path(spec.origin).resolve().parent


MODEL_DIR = _model_dir()


class ModelFinder(importlib.abc.MetaPathFinder):
    """Imports waterfall.model and its modules from another directory."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "waterfall.model":
            return importlib.util.spec_from_file_location(name, self.tree / "__init__.py",
                                                          submodule_search_locations=[str(self.tree)])
        if name.startswith("waterfall.model."):
            file = self.tree / (name.rsplit(".", 1)[1] + ".py")
            return importlib.util.spec_from_file_location(name, file) if file.exists() else None
        return None


def use_model(tree: Path) -> None:
    """From now on, this process imports waterfall.model from `tree` (call before any import of it)."""
    if any(m == "waterfall.model" or m.startswith("waterfall.model.") for m in sys.modules):
        raise RuntimeError("waterfall.model is already imported: use_model must come first")
    sys.meta_path.insert(0, ModelFinder(tree))
