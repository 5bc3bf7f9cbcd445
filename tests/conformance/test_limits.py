"""The limit vectors (R-UNIT-3, issue 20; waterfall/conformance/limits.py): a net deposit or
a position size taken just past its bound while every compared balance stays far from its
own, and the same at exactly the bound. The model refuses the first and applies the second;
an engine that skips the check fails the vector; the Node example (fixed) passes them."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from waterfall.conformance.engine import Engine
from waterfall.conformance.limits import LIMIT_CASES
from waterfall.conformance.runner import Runner, load_vectors
from waterfall.conformance.vectors import generate
from waterfall.model.errors import BoundExceeded
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.step import step

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "docs/examples/node-generic/waterfall-node.mjs"
GENERIC = "generic-socialized-loss"
# an engine that forgets the net-deposit bound: the reference adapter with that one check gone
NO_NET_DEPOSIT_BOUND = """
import importlib, sys
step = importlib.import_module("waterfall.model.step")
real = step.check_balance
step.check_balance = lambda value, field, **where: value if field == "net_deposit" else real(value, field, **where)
from waterfall.conformance import adapter
adapter.serve()
"""


@pytest.mark.parametrize("vid, text, state, op", LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_R_UNIT_3_limit_cases_refuse_past_the_bound_and_apply_at_it(vid, text, state, op) -> None:
    mech = load_mechanism(catalogue()[GENERIC])
    if vid.endswith("-exact"):
        post, _ = step(state, op, mech)
        assert post != state
    else:
        with pytest.raises(BoundExceeded) as e:
            step(state, op, mech)
        assert e.value.where["field"] in ("net_deposit", "size")
        assert e.value.where["field"] in text.replace("the size", "size")  # the description names what is checked


@pytest.fixture(scope="module")
def limit_vectors(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    generate(out, [load_mechanism(catalogue()[GENERIC])])
    return out


def run(impl: str, vectors: Path) -> list:
    selection = load_vectors(vectors, [GENERIC], "op-limit")
    assert len(selection.vectors) == len(LIMIT_CASES)
    return list(Runner(Engine(impl, 30.0), None).run(selection.vectors))


def test_R_UNIT_3_an_engine_without_the_net_deposit_bound_fails_the_limit_vectors(limit_vectors, tmp_path) -> None:
    script = tmp_path / "engine.py"
    script.write_text(NO_NET_DEPOSIT_BOUND)
    results = run(f"{sys.executable} {script}", limit_vectors)
    failed = sorted(r.vector for r in results if r.status != "pass")
    assert failed == [f"{GENERIC}/op-limit-net-deposit", f"{GENERIC}/op-limit-net-withdrawn"]


def test_R_UNIT_3_the_node_example_passes_the_limit_vectors(limit_vectors) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    results = run(f"node {NODE}", limit_vectors)
    assert [r.status for r in results] == ["pass"] * len(LIMIT_CASES), [r.detail for r in results]
    manifest = json.loads((limit_vectors / "manifest.json").read_text())
    assert {e["id"] for e in manifest["vectors"]} >= {c[0] for c in LIMIT_CASES}
