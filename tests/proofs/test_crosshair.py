"""R-VERIFY-4 (CrossHair): the model's PEP 316 contracts hold on concrete inputs, a broken
allocation is caught by `crosshair check`, and `waterfall diff` finds inputs on which two
mechanisms' final resorts differ. CrossHair runs are kept to a few CPU seconds each."""
from __future__ import annotations

import argparse
import itertools
import json
import textwrap
from pathlib import Path

import pytest

from waterfall.model.adl import bankruptcy_price
from waterfall.model.allocation import ROUNDINGS, allocate, top_remainders, water_fill
from waterfall.model.layers import clip
from waterfall.model.loader import catalogue, resolve_mechanism
from waterfall.model.ranking import _ratio, cyclic_order
from waterfall.model.units import div_ceil, div_floor, ppm_of
from waterfall.cli import crosshair as crosshair_cli
from waterfall.model.errors import WaterfallError
from waterfall.proofs import crosshair as engine
from waterfall.proofs.crosshair import CONTRACTED, UnknownFunction, check_function, conditions, holds
from waterfall.proofs.final_forms import final_form, final_shares
from waterfall.proofs.verdict import COUNTEREXAMPLE, NO_COUNTEREXAMPLE_IN

KEYS = ["b", "a", "c"]

BROKEN = '''
from typing import Sequence


def floor_plus_one(total: int, weights: Sequence[int]) -> list[int]:
    """R-ALLOC-1 floor, deliberately broken: the first share gets one unit too many.

    pre: 0 <= total <= 1000 and 1 <= len(weights) <= 3 and all(0 <= w <= 1000 for w in weights)
    post: len(__return__) == len(weights)
    post: sum(__return__) <= total
    """
    wsum = sum(weights)
    if wsum == 0:
        return [0] * len(weights)
    shares = [total * w // wsum for w in weights]
    shares[0] += 1
    return shares
'''


def run_cli(argv: list[str]) -> int:
    """The two commands through a local parser (waterfall/cli/main.py is wired by the lead)."""
    p = argparse.ArgumentParser(prog="waterfall")
    crosshair_cli.add_parser(p.add_subparsers(required=True))
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except WaterfallError:
        return crosshair_cli.EXIT_INPUT


def test_R_VERIFY_4_every_contracted_function_has_pre_and_post_lines_naming_a_rule() -> None:
    for name in CONTRACTED:
        fn = engine.resolve_function(name)
        kinds = {c.kind for c in conditions(fn)}
        assert kinds == {"pre", "post"}, name
        assert (fn.__doc__ or "").split(":")[0].startswith("R-"), name  # one-line docstring first


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_R_ALLOC_1_2_3_allocate_contracts_hold_on_a_grid(rounding: str) -> None:
    for total in (0, 1, 7, 10, 999):
        for n in range(4):
            for weights in itertools.product((0, 1, 2, 5), repeat=n):
                assert holds(allocate, total, list(weights), KEYS[:n], rounding) == [], (total, weights)


def test_R_ALLOC_2_top_remainders_contracts_hold() -> None:
    for rems in itertools.product((0, 1, 3), repeat=3):
        for k in (1, 2, 3):
            assert holds(top_remainders, list(rems), KEYS, k) == [], (rems, k)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_R_ALLOC_4_water_fill_contracts_hold(rounding: str) -> None:
    for total in (0, 3, 10, 100):
        for weights, caps in itertools.product(itertools.product((0, 1, 3), repeat=3),
                                               itertools.product((0, 7), repeat=3)):
            assert holds(water_fill, total, list(weights), list(caps), KEYS, rounding) == [], (total, weights, caps)


def test_R_WF_2_clip_and_R_UNIT_2_division_contracts_hold() -> None:
    for shares in itertools.product((0, 2, 5), repeat=3):
        for limit in (0, 1, 4, 20):
            assert holds(clip, list(shares), limit) == []
    for a, b in itertools.product(range(-7, 8), range(1, 5)):
        assert holds(div_floor, a, b) == [] and holds(div_ceil, a, b) == []
    for amount, rate in itertools.product((0, 1, 999_999, 10**18), (0, 1, 333_333, 10**6)):
        assert holds(ppm_of, amount, rate, up=True) == [] and holds(ppm_of, amount, rate, up=False) == []


def test_R_ADL_2_bankruptcy_price_and_R_ADL_4_5_ranking_contracts_hold() -> None:
    for mark, size, eq, rounding in itertools.product((1, 7, 100), (-3, -1, 1, 4), (-50, -1, 0, 5),
                                                      ("toward_bankrupt", "toward_counterparty")):
        assert holds(bankruptcy_price, mark, size, eq, rounding) == [], (mark, size, eq, rounding)
    for num, den in itertools.product((-5, 0, 7), (-2, 0, 3)):
        assert holds(_ratio, num, den) == []
    assert holds(cyclic_order, ["a", "b", "c"], "s", "m", "x") == []
    assert holds(cyclic_order, [], "s", "m", "x") == []


def test_R_VERIFY_4_the_concrete_checker_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_alloc_concrete.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import broken_alloc_concrete  # noqa: PLC0415
    assert holds(broken_alloc_concrete.floor_plus_one, 0, [1]) == ["sum(__return__) <= total"]
    with pytest.raises(ValueError, match="precondition"):
        holds(allocate, -1, [1], ["a"], "floor")


def test_R_VERIFY_4_crosshair_catches_a_broken_floor_allocation(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_alloc.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    verdicts = check_function("broken_alloc.floor_plus_one", 2.0, path=[str(tmp_path)])
    by_condition = {v.stats["condition"]: v for v in verdicts}
    bad = by_condition["sum(__return__) <= total"]
    assert bad.kind == COUNTEREXAMPLE and "floor_plus_one(" in bad.reason
    assert by_condition["len(__return__) == len(weights)"].kind == NO_COUNTEREXAMPLE_IN


def test_R_VERIFY_4_crosshair_command_says_no_counterexample_in_t_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["crosshair", "--function", "waterfall.model.units.div_floor", "--per-condition-timeout", "1"]) == 0
    out = capsys.readouterr().out
    assert "no counterexample in 1 s" in out and "not a proof" in out
    assert run_cli(["crosshair", "--function", "waterfall.model.units.div_ceil", "--per-condition-timeout", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [v] = doc["functions"][0]["verdicts"]
    assert v["kind"] == NO_COUNTEREXAMPLE_IN and v["mechanism"] == "-" and v["invariant"] == "waterfall.model.units.div_ceil"


@pytest.mark.parametrize("name", ["waterfall.model.allocation.nope", "nomodule.f", "waterfall.model.loader.catalogue"])
def test_R_ERR_1_unknown_or_uncontracted_function_is_bad_input(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownFunction, match="contracted ones"):
        engine.resolve_function(name)
    assert run_cli(["crosshair", "--function", name]) == 2


def test_final_forms_match_the_catalogue_roundings() -> None:
    assert final_form(resolve_mechanism("capped-pro-rata")) == ("haircut", "largest_remainder", 500_000)
    # uncapped haircut: R = min(D, sum w) split by largest remainder (R-HC-2)
    assert final_shares(("haircut", "largest_remainder", 10**6), 10, [10, 20, 40]) == [1, 3, 6]
    assert final_shares(("haircut", "floor", 10**6), 10, [10, 20, 40]) == [1, 2, 5]
    assert final_shares(("haircut", "floor", 10**6), 10, [1, 2, 4]) == [1, 2, 4]  # R = min(D, sum w)
    # capped at half of each base: caps 5, 10, 20; R = min(40, 35) = 35 (R-HC-2, R-ALLOC-4)
    assert final_shares(("haircut", "largest_remainder", 500_000), 40, [10, 20, 40]) == [5, 10, 20]
    # levy: rate ceil(1 * 1e9 / 3), each lot pays floor(3 * rate / 1e9) = 1 (R-LEVY-1/2)
    assert final_shares(("levy", 10**9, "ceil", "floor"), 1, [3]) == [1]
    assert final_shares(("levy", 2**48, "floor", "floor"), 1, [3]) == [0]
    assert final_shares(("adl",), 5, [3, 4, 1]) == [3, 2, 0]
    assert set(catalogue()) >= {"generic-socialized-loss", "capped-pro-rata"}


def test_R_VERIFY_4_diff_finds_floor_vs_largest_remainder_and_not_a_mechanism_with_itself(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = catalogue()["generic-socialized-loss"].read_text()
    assert 'rounding = "largest_remainder"' in src
    floor = tmp_path / "generic-floor.toml"
    floor.write_text(src.replace('id = "generic-socialized-loss"', 'id = "generic-floor"')
                        .replace('rounding = "largest_remainder"', 'rounding = "floor"'))
    assert run_cli(["diff", "generic-socialized-loss", str(floor), "--seconds", "3", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == COUNTEREXAMPLE
    d = doc["counterexample"]["diffs"][0]
    assert d["input"].startswith("total=") and d["a"] != d["b"] and d["a"].startswith("returns")
    assert run_cli(["diff", "deribit", "deribit", "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "no difference found in 1 s" in out and "equivalent" not in out.replace("not a proof of equivalence", "")
