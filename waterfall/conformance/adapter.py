"""The reference model behind the conformance protocol (R-CONF-2, spec/conformance.md).

    python -m waterfall.conformance.adapter        # reads requests on stdin, one JSON line each

It answers the hello and applies each step with model.step; the runner checks it passes
every vector (tests/conformance/test_conform.py), and a seeded bug installed before `serve()` makes it
fail with a diff.
"""
from __future__ import annotations

import json
import sys
from waterfall import __version__
from typing import IO, Any

from waterfall.model.codec import op_from_json, state_from_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import mechanism_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.step import step

PROTOCOL = "waterfall-conform/1"
_MECHS: dict[str, Mechanism] = {}


def mechanism(doc: dict[str, Any]) -> Mechanism:
    """A vector's mechanism document as a Mechanism (prose keys restored; cached by content)."""
    key = json.dumps(doc, sort_keys=True)
    if key not in _MECHS:
        full = {"source": {"references": ["conformance vector"]}, **doc}
        _MECHS[key] = mechanism_from_doc(full, f"<vector mechanism {doc.get('id')}>")
    return _MECHS[key]


def answer(req: dict[str, Any]) -> dict[str, Any]:
    """One response line for one request line."""
    if req.get("type") == "hello":
        return {"type": "hello", "protocol": PROTOCOL, "implementation": "waterfall-reference",
                "version": __version__, "mechanisms": ["*"]}
    try:
        post, events = step(state_from_json(req["state"]), op_from_json(req["op"]), mechanism(req["mechanism"]))
    except WaterfallError as e:
        return {"type": "result", "id": req["id"], "ok": False, "error": e.code}
    return {"type": "result", "id": req["id"], "ok": True, "state": state_to_json(post),
            "events": [e.to_json() for e in events]}


def serve(inp: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> None:
    """Answer every request line until end of input."""
    for line in inp:
        if line.strip():
            out.write(json.dumps(answer(json.loads(line))) + "\n")
            out.flush()


if __name__ == "__main__":
    serve()
