"""The commands the tools print for a reader to run next (R-CLI-9): one definition, used by
fuzz, prove, conform and report, so every hint works as printed from any folder: paths are
absolute and shell-quoted, and a mechanism that is not the catalogue's own file is passed
by its file (`--mechanism FILE`), since its id names nothing outside that file."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from waterfall.model.loader import catalogue
from waterfall.model.mechanism import Mechanism


def quoted(path: str | Path) -> str:
    """An absolute, normalised, shell-quoted path."""
    return shlex.quote(os.path.abspath(path))


def is_catalogued(mech: Mechanism) -> bool:
    """Whether `mech` is the catalogue's own file of its id (a user's copy with the same id is not)."""
    cat = catalogue()
    return mech.id in cat and Path(mech.path).resolve() == Path(cat[mech.id]).resolve()


def mechanism_arg(mech: Mechanism) -> str:
    """How a command names `mech`: its catalogue id, or its file's absolute path."""
    return mech.id if is_catalogued(mech) else quoted(mech.path)


def replay_hint(scenario: str | Path, mech: Mechanism) -> str:
    """R-CLI-9: the command that replays a saved scenario under `mech` as a failing sequence."""
    own = "" if is_catalogued(mech) else f" --mechanism {quoted(mech.path)}"
    return f"waterfall replay {quoted(scenario)}{own}"


def conform_hint(impl: str, vectors: str | Path) -> str:
    """R-CLI-9: the command that runs an implementation on a folder of vectors again."""
    return f"waterfall conform --impl {shlex.quote(impl)} --vectors {quoted(vectors)}"
