"""`waterfall compare` (waterfall/report/compare.py, waterfall/cli/compare.py): hand-computed figures on
bundled scenarios under three mechanisms, the CLI's JSON, and bad input (exit 2)."""
from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import pytest

from waterfall.model.errors import MechanismError, ScenarioError
from waterfall.model.loader import catalogue, load_scenario, resolve_mechanism
from waterfall.cli import main as cli
from waterfall.cli import compare as compare_cli
from waterfall.proofs.checks import stress_scenarios
from waterfall.report.compare import UNBOUNDED, Comparison, compare, compare_markdown, fmt_ratio, worst_ratio
from waterfall.spec import MECHANISMS_DIR, SCENARIOS_DIR

MECHS = ("generic-socialized-loss", "bitmex-adl", "drift-v2")


def runs(scenario: str) -> dict[str, Comparison]:
    """The scenario under the three mechanisms, by mechanism id."""
    sc = load_scenario(SCENARIOS_DIR / f"{scenario}.json")
    return {c.mechanism: c for c in compare(sc, [resolve_mechanism(m) for m in MECHS])}


# fund-short-by-one: loser long 100 from 1000 with collateral 10000, mark 880: equity -2000.
# Profits w: alice short 60 -> 7200, bob short 40 -> 4800, mm 0 (sum 12000).

def test_fund_short_by_one_generic() -> None:
    """Fund pays 1999 (R-WF-3), the last unit is haircut from alice (largest remainder)."""
    c = runs("fund-short-by-one")["generic-socialized-loss"]
    assert c.layers == {"insurance_fund": 1999}
    assert (c.accounts["alice"].haircut, c.accounts["bob"].haircut) == (1, 0)
    assert c.accounts["alice"].equity_after == 10000 + 7200 - 1
    assert c.accounts["alice"].change == 7199
    assert c.deficit() == 2000 and c.bad_debt == 0 and c.overshoot == 0
    assert c.touched() == 1
    assert c.max_share() == 1
    assert c.ptsr_style() == Fraction(5, 3)  # (1/1) / (7200/12000)
    assert c.pmr_style() == Fraction(1, 7200)
    assert c.bankrupts == ("loser",)


def test_fund_short_by_one_bitmex_adl() -> None:
    """Fund first (R-ADL-7): selling a lot at 880 instead of deleveraging it at the bankruptcy
    price 880 + 2000/100 = 900 costs the fund 20; 1999 pays for 99 lots (1980) and the last
    lot is deleveraged against alice (first in BitMEX's ranking): she gives up 20."""
    c = runs("fund-short-by-one")["bitmex-adl"]
    a, b = c.accounts["alice"], c.accounts["bob"]
    assert (a.adl_cost, a.adl_lots, b.adl_cost, b.adl_lots) == (20, 1, 0, 0)
    assert (a.equity_after, b.equity_after) == (17180, 14800)
    assert c.layers == {"insurance_fund": 1980} and c.socialised()["adl"] == 20
    assert c.overshoot == 0 and c.overshoot_lots == 0 and c.deficit() == 2000
    assert c.touched() == 1
    assert c.max_share() == 1
    assert c.ptsr_style() == Fraction(5, 3)   # alice pays all that is socialised with 3/5 of the gains
    assert c.pmr_style() == Fraction(1, 360)


def test_fund_short_by_one_drift_levy() -> None:
    """Fund keeps 1 (reserve): pays 1998; 2 levied over OI 200 (alice 60, bob 40, mm 100):
    rate ceil(2e9/200) = 1e7, payments floor(lots/100): only mm pays 1; 1 is bad debt.
    mm has no profit, so both ratios are unbounded."""
    c = runs("fund-short-by-one")["drift-v2"]
    assert c.layers == {"insurance_fund": 1998}
    assert c.accounts["mm"].levy == 1 and c.accounts["alice"].levy == 0
    assert c.bad_debt == 1 and c.deficit() == 2000
    assert c.max_share() == 1 and c.touched() == 1
    assert c.ptsr_style() == UNBOUNDED and c.pmr_style() == UNBOUNDED


# rounding-ties: loser long 30 from 1000, collateral 298, mark 990: equity -2; alice, bob,
# carol short 10 each with profit 100 (sum 300).

def test_rounding_ties_generic() -> None:
    """Largest remainder: one unit each from alice and bob (ties to the smaller id)."""
    c = runs("rounding-ties")["generic-socialized-loss"]
    assert [c.accounts[i].haircut for i in ("alice", "bob", "carol")] == [1, 1, 0]
    assert c.layers == {} and c.deficit() == 2 and c.overshoot == 0
    assert c.max_share() == Fraction(1, 2)
    assert c.touched() == 2
    assert c.ptsr_style() == Fraction(3, 2)  # (1/2) / (100/300)
    assert c.pmr_style() == Fraction(1, 100)


def test_rounding_ties_bitmex_adl_overshoots() -> None:
    """Bankruptcy price 990 + ceil(2/30) = 991 (toward the bankrupt): each short pays
    10 x 1 = 10, 30 in all for a deficit of 2: overshoot 28 (R-LIQ-5 to the fund)."""
    c = runs("rounding-ties")["bitmex-adl"]
    assert [c.accounts[i].adl_cost for i in ("alice", "bob", "carol")] == [10, 10, 10]
    assert c.socialised()["adl"] == 30
    assert c.overshoot == 28 and c.overshoot_lots == 0
    assert c.deficit() == 2
    assert c.max_share() == Fraction(1, 3) and c.touched() == 3
    assert c.ptsr_style() == 1 and c.pmr_style() == Fraction(1, 10)


def test_rounding_ties_drift_levy() -> None:
    """OI 60 (three shorts of 10, mm 30): rate ceil(2e9/60) = 33333334; 10 lots pay 0,
    mm's 30 pay 1; the other unit is bad debt."""
    c = runs("rounding-ties")["drift-v2"]
    assert [c.accounts[i].levy for i in ("alice", "bob", "carol", "mm")] == [0, 0, 0, 1]
    assert c.bad_debt == 1 and c.layers == {} and c.deficit() == 2
    assert c.ptsr_style() == UNBOUNDED


def test_every_bundled_run_is_consistent() -> None:
    """Over every stress scenario x catalogue mechanism: the deficit is non-negative, no ADL
    lots beyond the bankrupt's position (R-ADL-1), shares within [0, 1]."""
    mechs = [resolve_mechanism(m) for m in catalogue()]
    for sc in stress_scenarios():
        for c in compare(sc, mechs):
            assert c.deficit() >= 0, (sc.name, c.mechanism)
            assert c.overshoot_lots == 0, (sc.name, c.mechanism)
            share = c.max_share()
            assert share is None or 0 < share <= 1, (sc.name, c.mechanism)


def test_ratio_helpers() -> None:
    assert fmt_ratio(Fraction(5, 3)) == "1.6667"
    assert fmt_ratio(Fraction(1, 7200)) == "0.0001"
    assert fmt_ratio(Fraction(-1, 3), 2) == "-0.33"
    assert fmt_ratio(None) == "-" and fmt_ratio(UNBOUNDED) == "inf"
    assert worst_ratio([(1, 2), (3, 4)], 4) == Fraction(3, 4)
    assert worst_ratio([(1, 0)], 1) == UNBOUNDED
    assert worst_ratio([], 0) is None


def test_markdown_section() -> None:
    md = compare_markdown(list(runs("rounding-ties").values()), detail=True)
    assert md.startswith("## Mechanism comparison")
    assert "| rounding-ties | bitmex-adl | 0 | 30 | 0 | 28 | 3 | 0.3333 | 1.0000 | 0.1000 |" in md
    assert "### rounding-ties under drift-v2" in md
    assert "PTSR-style" in md


def main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The real `waterfall` main with a parser that has the compare subcommand."""
    def parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog="waterfall")
        compare_cli.add_parser(p.add_subparsers(required=True))
        return p
    monkeypatch.setattr(cli, "parser", parser)
    return cli.main(argv)


def test_cli_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(MECHANISMS_DIR / "drift-v2.toml")
    rc = main(["compare", str(SCENARIOS_DIR / "fund-short-by-one.json"),
               "--mechanisms", f"generic-socialized-loss, bitmex-adl,{path}", "--json"], monkeypatch)
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mechanisms"] == list(MECHS)
    generic, adl, drift = doc["comparisons"]
    assert generic["layers"] == {"insurance_fund": "1999"}
    assert generic["ptsr_style"] == {"fraction": "5/3", "decimal": "1.6667"}
    assert adl["max_share"] == {"fraction": "1/1", "decimal": "1.0000"}
    assert {a["account"]: a["adl_lots"] for a in adl["accounts"]} == {"alice": "1", "bob": "0", "loser": "0",
                                                                      "mm": "0"}
    assert drift["pmr_style"] == {"fraction": "inf", "decimal": "inf"} and drift["bad_debt"] == "1"


def test_cli_all_scenarios(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["compare", "--all-scenarios", "--mechanisms", "bitmex-adl,drift-v2", "--json"], monkeypatch)
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert len(doc["comparisons"]) == 2 * len(doc["scenarios"]) == 2 * len(list(SCENARIOS_DIR.glob("*.json")))
    rc = main(["compare", "--all-scenarios", "--mechanisms", "generic-socialized-loss"], monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0 and "rounding-ties" in out and "PTSR-style" in out


def test_cli_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["compare", str(SCENARIOS_DIR / "rounding-ties.json"), "--mechanisms", "bitmex-adl"], monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0
    assert "overshoot (returned)" in out and "-28" in out


@pytest.mark.parametrize("argv, code", [
    (["compare", str(SCENARIOS_DIR / "rounding-ties.json"), "--mechanisms", "no-such-mechanism"], "E-MECHANISM"),
    (["compare", str(SCENARIOS_DIR / "rounding-ties.json"), "--mechanisms", " , "], "E-MECHANISM"),
    (["compare", "/nonexistent/scenario.json", "--mechanisms", "bitmex-adl"], "E-SCENARIO"),
    (["compare", "--mechanisms", "bitmex-adl"], "E-SCENARIO"),
    (["compare", str(SCENARIOS_DIR / "rounding-ties.json"), "--all-scenarios"], "E-SCENARIO"),
])
def test_cli_bad_input(argv: list[str], code: str, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv + ["--json"], monkeypatch) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == code


def test_bad_files_raise_typed_errors(tmp_path: Path) -> None:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("id = [")
    with pytest.raises(MechanismError):
        compare_cli.mechanisms_arg(str(bad_toml))
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    with pytest.raises(ScenarioError):
        load_scenario(bad_json)


def test_ptsr_counts_only_haircutable_profit() -> None:
    """alice's short is 100 in profit but her collateral is -100: equity 0, haircut base 0
    (R-HC-1), so the haircut falls on bob alone, which is exact pro rata on the bases: PTSR
    1. With w = uPnL (alice's 100 counted) it would read 2."""
    from waterfall.model.ops import Liquidate
    from waterfall.model.replay import run
    from waterfall.model.state import Account, Market, Position, State
    from waterfall.model.loader import Scenario
    from waterfall.report.compare import measure
    m = Market("M0", 1_000, 100_000, 50_000)
    state = State({"M0": m}, {
        "loser": Account(0, 0, {"M0": Position(20, 20_100)}),          # equity -100
        "alice": Account(-100, 0, {"M0": Position(-10, -10_050)}),    # uPnL 50, equity -50
        "bob": Account(1_000, 1_000, {"M0": Position(-10, -10_050)}),  # uPnL 50, equity 1050
        "mm": Account(100_000, 100_000, {}),                           # takes the long at mark
    })
    sc = Scenario("profit-beyond-equity", state, (Liquidate("loser", "mm", {"M0": 1_000}, "0"),))
    mech = resolve_mechanism("generic-socialized-loss")
    c = measure(sc.name, mech.id, run(sc, mech))
    assert (c.accounts["alice"].profit, c.accounts["bob"].profit, c.accounts["mm"].profit) == (0, 50, 0)
    assert c.accounts["bob"].haircut > 0 and c.accounts["alice"].haircut == 0
    assert c.ptsr_style() == 1
