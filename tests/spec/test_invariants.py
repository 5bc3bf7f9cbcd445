"""The invariant registry (spec/invariants.py) and the checkers built on it (proofs/checks.py,
`waterfall verify`): every predicate must be able to say False.

Each predicate gets a hand-built (pre, op, post, events, mechanism) that violates it and one
that satisfies it. The post-states are written by hand, not produced by the model, so that
a broken step cannot make a broken predicate look right. Unless a test says otherwise: one
market M at mark 100 (margins 10 % / 5 %); 'a' long 2 at 100 and 's' short 2 at 100 (upnl 0
each), so every equity equals the collateral.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import acct, mech, mkstate, mkt
from waterfall.model.errors import InsufficientMargin
from waterfall.model.events import transfer
from waterfall.model.loader import load_scenario, resolve_mechanism
from waterfall.model.ops import Deposit, Liquidate, SetMark, Withdraw
from waterfall.model.replay import StepResult
from waterfall.model.state import State, value
from waterfall.proofs.checks import check_steps, verify_mechanism
from waterfall.cli.main import main
from waterfall.spec import SCENARIOS_DIR
from waterfall.spec.invariants import REGISTRY

MECH = mech()
NOOP = SetMark("M", 100)  # an operation with no external flow and no liquidation


def venue(a: int = 100, s: int = 100, layers=None, default_fund=None, bad_debt: int = 0,
          a_pos: tuple[int, int] = (2, 200), **extra) -> State:
    """a (collateral a, position a_pos), s (collateral s, short 2 at 100) and any extra flat accounts."""
    accounts = {"a": acct(a, {"M": a_pos}), "s": acct(s, {"M": (-2, -200)})}
    accounts.update({k: acct(v) for k, v in extra.items()})
    return mkstate([mkt("M", 100)], accounts, layers, default_fund, bad_debt)


def holds(inv: str, pre: State, op, post: State) -> bool:
    return REGISTRY[inv].holds(pre, op, post, [], MECH)


# --------------------------------------------------------------------------- I-CONS

def test_I_CONS_value_appearing_without_a_deposit_is_a_violation() -> None:
    # Set up: value(pre) = 100 + 100 = 200. Act: a set_mark whose post-state gives a one unit
    # more (101): value 201 != 200 + 0 (no external flow).
    pre, post = venue(), venue(a=101)
    assert value(post) - value(pre) == 1
    assert holds("I-CONS", pre, NOOP, post) is False
    # a deposit of 5 that credits 6: 206 != 200 + 5
    assert holds("I-CONS", pre, Deposit("a", 5), venue(a=106)) is False


def test_I_CONS_deposits_and_withdrawals_are_the_only_allowed_change() -> None:
    pre = venue()
    # nothing moves: 200 = 200
    assert holds("I-CONS", pre, NOOP, venue()) is True
    # deposit 5: 205 = 200 + 5
    assert holds("I-CONS", pre, Deposit("a", 5), venue(a=105)) is True
    # withdraw 3: 197 = 200 - 3 (the flow is negative: what the events pay out)
    paid_out = [transfer("R-OP-2", "account:a", "external", 3, "withdraw")]
    assert REGISTRY["I-CONS"].holds(pre, Withdraw("a", 3), venue(a=97), paid_out, MECH) is True
    # a withdrawal haircut keeps 1 of the 3 in the venue (R-WH-2): only 2 leave
    kept = [transfer("R-WH-2", "account:a", "deferred:M", 1, "withdrawal_haircut"),
            transfer("R-OP-2", "account:a", "external", 2, "withdraw")]
    assert REGISTRY["I-CONS"].holds(pre, Withdraw("a", 3), venue(a=97), kept, MECH) is False
    # value moved between accounts and a layer, total kept: 95 + 100 + 5 = 200
    assert holds("I-CONS", venue(layers={"f": 0}), NOOP, venue(a=95, layers={"f": 5})) is True


# --------------------------------------------------------------------------- I-ZERO

def test_I_ZERO_sizes_not_summing_to_zero_is_a_violation() -> None:
    # a: (3, 200) against s: (-2, -200): sizes sum to 1 while open notionals sum to 0.
    assert holds("I-ZERO", venue(), NOOP, venue(a_pos=(3, 200))) is False


def test_I_ZERO_open_notionals_not_summing_to_zero_is_a_violation() -> None:
    # sizes 2 - 2 = 0, but open notionals 201 - 200 = 1
    assert holds("I-ZERO", venue(), NOOP, venue(a_pos=(2, 201))) is False


def test_I_ZERO_mirror_positions_hold() -> None:
    # 2 - 2 = 0 and 200 - 200 = 0; a flat position (0, -20) with a mirror (0, 20) also sums to 0
    assert holds("I-ZERO", venue(), NOOP, venue()) is True
    post = mkstate([mkt("M", 100)], {"a": acct(0, {"M": (0, -20)}), "s": acct(0, {"M": (0, 20)})})
    assert holds("I-ZERO", venue(), NOOP, post) is True


# --------------------------------------------------------------------------- I-FUND

def test_I_FUND_a_negative_layer_is_a_violation() -> None:
    assert holds("I-FUND", venue(layers={"f": 0}), NOOP, venue(a=101, layers={"f": -1})) is False


def test_I_FUND_a_negative_default_fund_contribution_is_a_violation() -> None:
    pre = venue(default_fund={"a": 0})
    assert holds("I-FUND", pre, NOOP, venue(a=101, default_fund={"a": -1})) is False


def test_I_FUND_layers_and_contributions_at_zero_hold() -> None:
    # exactly 0 is allowed (>= 0, not > 0)
    post = venue(layers={"f": 0, "g": 3}, default_fund={"a": 0, "s": 2})
    assert holds("I-FUND", post, NOOP, post) is True


# --------------------------------------------------------------------------- I-NONNEG

def nonneg_pre() -> State:
    # b: no position, collateral -10 (bankrupt); x solvent at 10; c the counterparty at 10;
    # n already insolvent at -3.
    return venue(b=-10, x=10, c=10, n=-3)


def test_I_NONNEG_a_solvent_bystander_pushed_below_zero_is_a_violation() -> None:
    # Act: liquidate b with counterparty c; the hand-made post-state moved 11 from x to b:
    # x 10 -> -1 (was >= 0 before), b -10 -> 1.
    post = venue(b=1, x=-1, c=10, n=-3)
    assert holds("I-NONNEG", nonneg_pre(), Liquidate("b", "c"), post) is False


def test_I_NONNEG_bankrupt_counterparty_and_already_insolvent_accounts_are_spared() -> None:
    # b itself may stay negative (that is I-NOLOSS), the named counterparty c may go negative
    # (it chose the price), n was already negative before; x stays at 0 (>= 0).
    post = venue(b=-5, x=0, c=-2, n=-4)
    assert holds("I-NONNEG", nonneg_pre(), Liquidate("b", "c"), post) is True
    # only a liquidation is judged: a set_mark leaving x at -1 is not this invariant's business
    assert holds("I-NONNEG", nonneg_pre(), NOOP, venue(b=1, x=-1, c=10, n=-3)) is True


# --------------------------------------------------------------------------- I-NOLOSS

def test_I_NOLOSS_bankrupt_left_with_negative_equity_after_liquidation_is_a_violation() -> None:
    # b had -10; the post-state leaves it at -1 with no bad debt recorded.
    pre, post = venue(b=-10, x=10), venue(b=-1, x=10)
    assert holds("I-NOLOSS", pre, Liquidate("b"), post) is False


def test_I_NOLOSS_bad_debt_shrinking_is_a_violation() -> None:
    # Any operation: bad debt 5 -> 4 (the ledger forgot one unit of loss), here on a set_mark.
    pre, post = venue(bad_debt=5), venue(a=99, bad_debt=4)
    assert holds("I-NOLOSS", pre, NOOP, post) is False
    assert holds("I-NOLOSS", pre, Liquidate("a"), post) is False


def test_I_NOLOSS_bankrupt_at_zero_with_the_rest_as_bad_debt_holds() -> None:
    # b -10 -> 0 with bad debt 0 -> 10: equity exactly 0 (>= 0) and the ledger grew.
    assert holds("I-NOLOSS", venue(b=-10), Liquidate("b"), venue(b=0, bad_debt=10)) is True
    # bad debt unchanged (5 -> 5) is not shrinking
    assert holds("I-NOLOSS", venue(bad_debt=5), NOOP, venue(bad_debt=5)) is True


# --------------------------------------------------------------------------- proofs.checks

def test_R_VERIFY_1_check_steps_reports_each_registered_invariant() -> None:
    # Set up: one hand-made step per invariant, each violating exactly that one (the others
    # hold, checked below), plus a refused step whose post would break I-CONS: refused steps
    # are not judged (the state did not change).
    base = venue(b=0, layers={"f": 0}, default_fund={"a": 0}, bad_debt=5)
    steps = {
        # base value: 100 + 100 + 0 (b) + 0 (f) + 0 (a's contribution) - 5 (bad debt) = 195
        # I-CONS: a gains 1 from nowhere (value 195 -> 196)
        "I-CONS": (NOOP, base, venue(a=101, b=0, layers={"f": 0}, default_fund={"a": 0}, bad_debt=5)),
        # I-ZERO: a's size +1 and open notional +100 (= mark): upnl unchanged, value unchanged
        "I-ZERO": (NOOP, base, venue(a_pos=(3, 300), b=0, layers={"f": 0}, default_fund={"a": 0}, bad_debt=5)),
        # I-FUND: layer f 0 -> -1 and a +1: value unchanged
        "I-FUND": (NOOP, base, venue(a=101, b=0, layers={"f": -1}, default_fund={"a": 0}, bad_debt=5)),
        # I-NONNEG: liquidation of b (-10) moves 11 from x (10) to b: b 1, x -1; value 200 -> 200
        "I-NONNEG": (Liquidate("b"), venue(b=-10, x=10), venue(b=1, x=-1)),
        # I-NOLOSS: bad debt 5 -> 4 and a -1: value unchanged (195)
        "I-NOLOSS": (NOOP, base, venue(a=99, b=0, layers={"f": 0}, default_fund={"a": 0}, bad_debt=4)),
    }
    # I-VALID (R-STATE-5 after the step) contains I-ZERO and I-FUND: those posts are invalid too
    also = {"I-ZERO": {"I-VALID"}, "I-FUND": {"I-VALID"}}
    for inv, (op, pre, post) in steps.items():
        failing = {i for i in REGISTRY if not holds(i, pre, op, post)}
        assert failing == {inv} | also.get(inv, set()), (inv, failing)
    results = [StepResult(op, pre, post, []) for op, pre, post in steps.values()]
    results.append(StepResult(Withdraw("a", 1), base, venue(a=500), [], InsufficientMargin("refused")))
    # Act: under a mechanism that claims I-CONS only
    found = check_steps(results, replace(MECH, claims=("I-CONS",)), "hand")
    # Check: each of these invariants reported, each at its own step (1-based), none at 6
    # (the waterfall invariants have their own violations in test_invariants_waterfall.py)
    assert {f.invariant for f in found} == set(steps) | {"I-VALID"}
    assert sorted((f.invariant, f.step) for f in found) == sorted(
        [(inv, n) for n, inv in enumerate(steps, 1)] + [("I-VALID", 2), ("I-VALID", 3)])
    assert all(f.scenario == "hand" for f in found)
    # claimed is true only for what the mechanism claims
    assert {f.invariant for f in found if f.claimed} == {"I-CONS"}


FUND_EMPTY = SCENARIOS_DIR / "fund-empty.json"


def wrong_expectation_dir(tmp_path: Path) -> Path:
    """A directory with fund-empty.json whose expect.collateral of alice is 8801 instead of
    the hand-computed 8800 (10000 - 2000 * 7200 / 12000)."""
    doc = json.loads(FUND_EMPTY.read_text())
    assert doc["mechanism"] == "generic-socialized-loss"
    doc["name"] = "fund-empty-wrong"
    doc["expect"]["collateral"]["alice"] = "8801"
    d = tmp_path / "wrong"
    d.mkdir()
    (d / "fund-empty-wrong.json").write_text(json.dumps(doc))
    return d


def test_R_RUN_3_verify_mechanism_records_an_expectation_miss(tmp_path: Path) -> None:
    sc = load_scenario(wrong_expectation_dir(tmp_path) / "fund-empty-wrong.json")
    out = verify_mechanism(resolve_mechanism("generic-socialized-loss"), [sc])
    assert out.misses == ["fund-empty-wrong: collateral of alice 8800 != expected 8801"]
    assert out.crashes == []
    # the same scenario under another mechanism is not held to its expectations (R-RUN-3)
    out = verify_mechanism(resolve_mechanism("hyperliquid-adl"), [sc])
    assert out.misses == []


def test_R_VERIFY_2_cli_verify_scenarios_dir_exits_1_on_a_miss_and_0_when_met(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = wrong_expectation_dir(tmp_path)
    assert main(["verify", "--mechanism", "generic-socialized-loss", "--scenarios", str(bad)]) == 1
    assert "fund-empty-wrong" in capsys.readouterr().out
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(FUND_EMPTY, good / "fund-empty.json")
    assert main(["verify", "--mechanism", "generic-socialized-loss", "--scenarios", str(good)]) == 0
