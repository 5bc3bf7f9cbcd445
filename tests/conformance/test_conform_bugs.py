"""Issue 13: the committed vectors catch every realistic engine bug of tests/engine_bugs.py
(each installed in the reference adapter, answers judged by the runner's judge in-process;
bench/conform_bugs.py runs the same engines as subprocesses and times `conform --fuzz`)."""
from __future__ import annotations

import pytest

from waterfall.conformance.adapter import answer
from waterfall.conformance.runner import judge, load_vectors
from waterfall.conformance.mutation import steps
from waterfall.conformance.vectors import VECTORS_DIR

import engine_bugs

REQUESTS = steps(load_vectors(VECTORS_DIR).vectors)


def first_failure() -> str:
    """The first step whose answer the runner fails, or ''."""
    for rid, req, expect in REQUESTS:
        try:
            resp = answer(req)
        except Exception as e:  # an engine that crashes on a step fails it
            return f"{rid}: crash {type(e).__name__}"
        reason, _ = judge(expect, resp, rid)
        if reason:
            return f"{rid}: {reason}"
    return ""


def test_the_reference_adapter_passes_in_process() -> None:
    assert first_failure() == ""


@pytest.mark.parametrize("bug", engine_bugs.ENGINE_BUGS, ids=lambda b: b.name)
def test_the_vectors_catch_every_realistic_engine_bug(monkeypatch, bug) -> None:
    bug.install(monkeypatch)
    assert first_failure(), f"{bug.name} ({bug.what}) passes every vector"
