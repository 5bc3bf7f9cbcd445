"""Argument types shared by every subcommand (R-CLI-6): every number is finite and within
stated bounds, every output path is checked before any work starts, an implementation's
command line parses. A bad value is an argparse error: usage, the option, why; exit 2.
"""
from __future__ import annotations

import argparse
import math
import os
import shlex
from pathlib import Path
from typing import Callable

DAY = 86_400.0


def integer(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in [lo, hi] (decimal digits, optional sign)."""
    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({lo} to {hi})")
        return value
    parse.__name__ = "integer"
    return parse


def seconds(hi: float = DAY) -> Callable[[str], float]:
    """A finite number of seconds in (0, hi]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or not 0 < value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is not a number of seconds in (0, {hi:.0f}]")
        return value
    parse.__name__ = "seconds"
    return parse


def integer_list(lo: int, hi: int, most: int = 16) -> Callable[[str], str]:
    """Comma-separated integers in [lo, hi], at most `most` of them ('' for none); the text
    is returned as given once it is known to be good."""
    one = integer(lo, hi)

    def parse(text: str) -> str:
        values = [one(x) for x in text.split(",") if x.strip()]
        if len(values) > most:
            raise argparse.ArgumentTypeError(f"{len(values)} values, at most {most}")
        return text
    parse.__name__ = "integer list"
    return parse


NAME_MAX = 255  # bytes in one path component (Linux, macOS)


def _nearest_existing(p: Path) -> Path:
    q = p.absolute()
    while not (q.exists() or q.is_symlink()) and q != q.parent:
        q = q.parent
    return q


def _fits(text: str, p: Path) -> None:
    """Every component of the path fits a file name (checked before the path is touched)."""
    for part in p.parts:
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise argparse.ArgumentTypeError(f"{text}: a path component is longer than {NAME_MAX} bytes")


def _check_chain(text: str, p: Path) -> None:
    """R-CLI-6: every component fits a file name, no symlink loop on the way, the nearest
    existing ancestor is a writable directory, and the missing parents can really be created
    (tried, then removed again: /proc/x or a read-only mount fails here, before any work)."""
    _fits(text, p)
    try:
        os.path.realpath(p, strict=False)
        base = _nearest_existing(p)
        if base.is_symlink() and not base.exists():
            raise argparse.ArgumentTypeError(f"{text}: {base} is a dangling symbolic link or a symbolic link loop")
    except (OSError, RuntimeError) as e:
        raise argparse.ArgumentTypeError(f"{text}: {getattr(e, 'strerror', None) or e}") from None
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {base} is not writable")
    missing = []
    q = p.absolute()
    while q != base and q != q.parent:
        missing.append(q)
        q = q.parent
    made = []
    try:
        for d in reversed(missing):
            d.mkdir()
            made.append(d)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text}: cannot create {d}: {e.strerror or e}") from None
    finally:
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass


def out_dir(text: str) -> str:
    """A directory to write into: an existing writable directory, or a path whose missing
    parts can be created under a writable directory (created when the results are written)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    p = Path(text)
    _fits(text, p)
    if (p.exists() or p.is_symlink()) and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a directory")
    _check_chain(text, p)
    return text


def out_file(text: str) -> str:
    """A file to write: an existing writable regular file, or a new name whose parent can be
    created under a writable directory (missing parents are created when it is written)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    p = Path(text)
    _fits(text, p)
    if p.exists() or p.is_symlink():
        if not p.is_file():
            raise argparse.ArgumentTypeError(f"{text}: exists and is not a regular file")
        if not os.access(p, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text}: not writable")
        return text
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text}: names a directory, not a file")
    _check_chain(text, p.parent)
    return text


def command(text: str) -> str:
    """An implementation's command line: shell-like words (quotes balanced), at least one."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None
    if not words:
        raise argparse.ArgumentTypeError("names no command")
    return text
