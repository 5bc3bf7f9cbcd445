"""All-N proofs (proofs/alln.py): every obligation proved for any N, every wrong variant
refuted, and the proved per-account and sum statements checked on the model's own code."""
from __future__ import annotations

import random

import pytest

from waterfall.model.allocation import CEIL, FLOOR, LARGEST_REMAINDER, allocate, water_fill
from waterfall.model.layers import clip
from waterfall.model.units import PPM
from waterfall.proofs.alln import OBLIGATIONS, all_n_verdicts, haircut_replay
from waterfall.proofs.verdict import COUNTEREXAMPLE, PROVED_ALL_N
from waterfall.spec.invariants import REGISTRY

IDS = [ob.id for ob in OBLIGATIONS]


@pytest.mark.parametrize("ob", OBLIGATIONS, ids=IDS)
def test_obligation_proved_for_all_n(ob) -> None:
    v = ob.discharge()
    assert v.kind == PROVED_ALL_N, v.reason
    assert v.accounts is None and v.invariant == ob.invariant and v.invariant in REGISTRY
    assert v.mechanism == ("*" if ob.family == "any" else ob.family)
    assert v.reason.startswith(ob.id)
    if ob.argument != "sympy identity":  # every Z3 stage had satisfiable assumptions
        assert v.witness and all(v.witness.values()), v.witness


@pytest.mark.parametrize("ob", OBLIGATIONS, ids=IDS)
def test_wrong_variant_refuted(ob) -> None:
    v = ob.wrong()
    assert v.kind == COUNTEREXAMPLE, v.reason
    assert v.counterexample


def test_ids_unique_and_entry_point_filters() -> None:
    assert len(set(IDS)) == len(IDS)
    verdicts = all_n_verdicts("I-PROP")
    assert [v.invariant for v in verdicts] == ["I-PROP"] * 3
    assert all(v.kind == PROVED_ALL_N for v in verdicts)
    assert all_n_verdicts("I-NO-SUCH") == []


def test_obligations_documented_in_spec() -> None:
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "spec" / "invariants.md").read_text()
    missing = [i for i in IDS if i not in text]
    assert not missing


def _random_allocation(rng: random.Random) -> tuple[int, list[int]]:
    n = rng.randint(1, 40)
    ws = [rng.choice([0, rng.randint(1, 10), rng.randint(1, 10**12)]) for _ in range(n)]
    if sum(ws) == 0:
        ws[0] = 1
    W = sum(ws)
    return rng.choice([rng.randint(0, W), rng.randint(0, 3 * W), W]), ws


def test_allocate_satisfies_the_proved_statements() -> None:
    """P-*-SUM-ALLN, P-BOUND-*-ALLN, P-PROP-*-ALLN on the model's allocate."""
    rng = random.Random(20240611)
    for _ in range(400):
        R, ws = _random_allocation(rng)
        W, n = sum(ws), len(ws)
        keys = [f"k{rng.randint(0, 99):02d}{j}" for j in range(n)]
        fl = allocate(R, ws, keys, FLOOR)
        ce = allocate(R, ws, keys, CEIL)
        lr = allocate(R, ws, keys, LARGEST_REMAINDER)
        assert 0 <= R - sum(fl) <= n - 1                      # P-FLOOR-SUM-ALLN
        assert 0 <= sum(ce) - R <= n - 1                      # P-CEIL-SUM-ALLN
        assert sum(lr) == R                                   # P-LR-SUM-ALLN
        for w, f, c, l in zip(ws, fl, ce, lr):
            extra = l - R * w // W
            assert extra in (0, 1) and (extra == 0 or R * w % W > 0)  # P-LR-SUM-ALLN
            for s in (f, c, l):
                assert -W < s * W - R * w < W                 # P-PROP-*-ALLN
                assert R > W or s <= w                        # P-BOUND-*-ALLN


def test_water_fill_and_clip_satisfy_the_proved_statements() -> None:
    """P-BOUND-CAP-ALLN on water_fill, P-CLIP-ALLN on clip."""
    rng = random.Random(7)
    for _ in range(200):
        R, ws = _random_allocation(rng)
        cap_ppm = rng.randint(0, PPM - 1)
        caps = [w * cap_ppm // PPM for w in ws]
        R = min(R, sum(caps))
        for rounding in (FLOOR, CEIL, LARGEST_REMAINDER):
            shares = water_fill(R, ws, caps, [str(j) for j in range(len(ws))], rounding)
            assert all(s <= w for s, w in zip(shares, ws))
        limit = rng.randint(0, 2 * R + 1)
        out = clip(allocate(R, ws, [str(j) for j in range(len(ws))], CEIL), limit)
        assert sum(out) <= limit and min(out) >= 0


@pytest.mark.parametrize("rounding", [FLOOR, CEIL, LARGEST_REMAINDER])
def test_haircut_stage_balances_the_budget(rounding: str) -> None:
    """P-BUDGET-*-ALLN on model/haircut.py: the bankrupt ends at exactly zero, the write-off
    never negative, for random venues of up to 30 winners."""
    rng = random.Random(rounding)
    for _ in range(40):
        ws = [rng.randint(1, 50) for _ in range(rng.randint(1, 30))]
        eq, written, sink = haircut_replay(rounding, ws, rng.randint(1, 2 * sum(ws)), rng.randint(0, 3))
        assert eq == 0 and written >= 0 and sink >= -3
