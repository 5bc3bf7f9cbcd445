"""The documentation, shipped in the package as `waterfall.docs` (R-CLI-8): the guides,
docs/proofs.md (what is proved, what is trusted) and the examples, read by `waterfall docs`
and copied out by `waterfall example`. Like spec/, it is data found with importlib.resources,
so a checkout and an installed wheel see the same files.
May import nothing of waterfall (it is data; docs/hooks.py is the site build's MkDocs hook).
"""
from importlib.resources import files
from pathlib import Path


def _data_root() -> Path:
    """The folder of the documentation (pip unpacks wheels, so it is a file-system path)."""
    root = files(__name__)
    if not isinstance(root, Path):
        raise ImportError(f"waterfall.docs is installed as {root!r}, not unpacked; reinstall it with pip")
    return root


DOCS_DIR = _data_root()
EXAMPLES_DIR = DOCS_DIR / "examples"
