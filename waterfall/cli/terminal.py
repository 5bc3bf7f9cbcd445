"""What the CLI writes to the terminal (R-CLI-7): control characters in names (an account,
market, layer or file name from an input file) are shown escaped as \\uXXXX, never sent raw,
so a name cannot move the cursor, clear the screen or reorder the text. Newlines and tabs of
the output itself pass; a write of exactly "\\r" (a progress line redrawn in place) passes.
JSON output is unchanged: json.dumps already escapes these characters.
"""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Every C0/C1 control (except newline and tab), line separator and bidi control as \\uXXXX."""
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class EscapingStream:
    """A text stream that escapes what it writes (R-CLI-7); everything else is delegated."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text if text == "\r" else escape(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def escaped_output() -> Iterator[None]:
    """sys.stdout and sys.stderr escape control characters inside the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(out), EscapingStream(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


@contextmanager
def ticking(label: str, every: float = 5.0, stream: TextIO | None = None) -> Iterator[None]:
    """R-CLI-10: while a long step runs, a line `label: N s` on stderr every `every` seconds
    (wall-clock), then `label: done in N s`; nothing is printed for a step shorter than `every`."""
    import threading
    import time

    out = stream if stream is not None else sys.stderr
    start = time.monotonic()
    stop = threading.Event()
    printed = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            print(f"{label}: {time.monotonic() - start:.0f} s", file=out, flush=True)
            printed.set()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if printed.is_set():
            print(f"{label}: done in {time.monotonic() - start:.1f} s", file=out, flush=True)
