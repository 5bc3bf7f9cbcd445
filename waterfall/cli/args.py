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


def _nearest_existing(p: Path) -> Path:
    q = p.absolute()
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def out_dir(text: str) -> str:
    """A directory to write into: an existing writable directory, or a path whose nearest
    existing ancestor is a writable directory (created when the results are written)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a directory")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {base} is not writable")
    return text


def out_file(text: str) -> str:
    """A file to write: an existing writable regular file, or a new name in a writable
    directory (or under one: missing parents are created when it is written)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    p = Path(text)
    if p.exists() or p.is_symlink():
        if not p.is_file():
            raise argparse.ArgumentTypeError(f"{text}: exists and is not a regular file")
        if not os.access(p, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text}: not writable")
        return text
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text}: names a directory, not a file")
    base = _nearest_existing(p.parent)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {base} is not a writable directory")
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
