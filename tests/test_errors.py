"""R-ERR-*: every typed error of model/errors.py, triggered through model.step.step or the
loaders: class, stable code, a message naming the account / market / field / file / key, and
the input state left exactly as it was."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from conftest import Haircut, acct, mech, mkstate, mkt
from model import errors as E
from model.codec import state_from_json
from model.loader import load_mechanism, load_scenario
from model.ops import Deposit, Funding, Liquidate, SetMark, Trade, Withdraw
from model.state import validate_state
from model.step import step

GENERIC = mech(final=Haircut(), surplus="fee", fee_ppm=5000, mid="generic")


def venue():
    # a: long 2 from 50 at mark 50, collateral 20 (equity 20, IM 10, MM 5): healthy.
    # b: short 2 from 50, collateral 3 (equity 3 < MM 5): liquidatable. c: flat, 100.
    return mkstate([mkt("M", 50)],
                   {"a": acct(20, {"M": (2, 100)}), "b": acct(3, {"M": (-2, -100)}), "c": acct(100)},
                   {"insurance_fund": 7})


def refused(state, op, cls, code: str, *names: str, mechanism=GENERIC) -> E.WaterfallError:
    before = copy.deepcopy(state)
    with pytest.raises(E.WaterfallError) as info:
        step(state, op, mechanism)
    err = info.value
    assert type(err) is cls, f"{type(err).__name__} raised, {cls.__name__} expected"
    assert err.code == code
    for name in names:
        assert name in str(err), f"{name!r} not named in {str(err)!r}"
    assert state == before, "the refused operation changed its input state"
    doc = err.to_json()
    assert doc["code"] == code and doc["message"] == str(err)
    return err


# --------------------------------------------------------------------------- step errors

@pytest.mark.parametrize("op", [Deposit("ghost", 5), Withdraw("ghost", 5), Trade("a", "ghost", "M", 1, 50),
                                Trade("ghost", "a", "M", 1, 50), Liquidate("ghost"), Liquidate("b", "ghost")])
def test_R_ERR_unknown_account(op) -> None:
    err = refused(venue(), op, E.UnknownAccount, "E-UNKNOWN-ACCOUNT", "'ghost'")
    assert err.where["account"] == "ghost"


@pytest.mark.parametrize("op", [SetMark("NOPE", 5), Funding("NOPE", 1), Trade("a", "c", "NOPE", 1, 50),
                                Liquidate("b", "c", {"NOPE": 5})])
def test_R_ERR_unknown_market(op) -> None:
    err = refused(venue(), op, E.UnknownMarket, "E-UNKNOWN-MARKET", "'NOPE'")
    assert err.where["market"] == "NOPE"


def test_R_ERR_unknown_layer_from_state_lookup() -> None:
    # Not reachable through step() or the loaders (a missing balance layer counts as 0 there;
    # unknown sinks are MechanismErrors); State.layer is the one place that raises it.
    st = venue()
    with pytest.raises(E.UnknownLayer) as info:
        st.layer("fee_pool")
    assert info.value.code == "E-UNKNOWN-LAYER" and "'fee_pool'" in str(info.value)
    assert st.layer("insurance_fund") == 7


@pytest.mark.parametrize("op,field,where", [
    (Deposit("a", 0), "amount", ("account", "a")),
    (Deposit("a", -5), "amount", ("account", "a")),
    (Deposit("a", "5"), "amount", ("account", "a")),       # not an integer
    (Deposit("a", True), "amount", ("account", "a")),      # bool is not an amount
    (Deposit("a", 5.0), "amount", ("account", "a")),
    (Withdraw("a", 0), "amount", ("account", "a")),
    (Trade("c", "a", "M", 0, 50), "size", ("market", "M")),
    (Trade("c", "a", "M", 1, -1), "price", ("market", "M")),
    (SetMark("M", 0), "price", ("market", "M")),
    (Funding("M", "1"), "rate", ("market", "M")),
    (Liquidate("b", "c", {"M": 0}), "fill_price", ("market", "M")),
])
def test_R_ERR_invalid_amount(op, field: str, where: tuple[str, str]) -> None:
    err = refused(venue(), op, E.InvalidAmount, "E-INVALID-AMOUNT", field)
    assert err.where["field"] == field and err.where[where[0]] == where[1]


def test_R_ERR_bound_exceeded_input() -> None:
    err = refused(venue(), Deposit("c", 10**18 + 1), E.BoundExceeded, "E-BOUND", "amount", "10^18")
    assert err.where["account"] == "c"
    refused(venue(), Funding("M", -(10**18) - 1), E.BoundExceeded, "E-BOUND", "rate")


def test_R_ERR_bound_exceeded_resulting_balance() -> None:
    # collateral 10^36 - 5 + deposit 10 -> 10^36 + 5 > MAX_BALANCE
    st = mkstate([mkt("M", 50)], {"rich": acct(10**36 - 5)})
    err = refused(st, Deposit("rich", 10), E.BoundExceeded, "E-BOUND", "collateral", "10^36")
    assert err.where["account"] == "rich"


@pytest.mark.parametrize("op", [Trade("a", "a", "M", 1, 50), Liquidate("b", "b")])
def test_R_ERR_self_trade(op) -> None:
    refused(venue(), op, E.SelfTrade, "E-SELF-TRADE", f"'{op.account if isinstance(op, Liquidate) else 'a'}'")


@pytest.mark.parametrize("op", [
    Withdraw("c", 101),                 # more than the collateral 100
    Withdraw("a", 11),                  # equity 20 - 11 = 9 < IM 10
    Trade("c", "b", "M", 30, 50),       # c long 30 at 50: IM 150 > equity 100 (b checked later)
])
def test_R_ERR_insufficient_margin(op) -> None:
    who = op.account if isinstance(op, Withdraw) else op.buyer
    err = refused(venue(), op, E.InsufficientMargin, "E-MARGIN", f"'{who}'")
    assert err.where["account"] == who


def test_R_ERR_healthy_account() -> None:
    # a: equity 20 >= MM ceil(100 * 5 %) = 5
    refused(venue(), Liquidate("a", "c"), E.HealthyAccount, "E-HEALTHY", "'a'", "20", "5")


def test_R_ERR_missing_counterparty() -> None:
    err = refused(venue(), Liquidate("b"), E.MissingCounterparty, "E-NO-COUNTERPARTY", "'b'", "'generic'")
    assert err.where["account"] == "b"


# --------------------------------------------------------------------------- state / loader errors

def test_R_ERR_invalid_state_from_codec_and_validation() -> None:
    # InvalidState is raised while building or validating a state (the scenario loader wraps
    # it in a ScenarioError, see test_loader.py); step() itself never raises it.
    doc = {"markets": [{"id": "M", "mark": "1", "im_ppm": "0", "mm_ppm": "0"}] * 2, "accounts": []}
    with pytest.raises(E.InvalidState) as info:
        state_from_json(doc)
    assert info.value.code == "E-STATE" and "'M'" in str(info.value)
    bad = mkstate([mkt("M", 50)], {"a": acct(0, {"M": (1, 50)})})
    before = copy.deepcopy(bad)
    with pytest.raises(E.InvalidState) as info:
        validate_state(bad)
    assert "'M'" in str(info.value) and info.value.where["market"] == "M"
    assert bad == before


def test_R_ERR_mechanism_error_names_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "m.toml"
    p.write_text('format = "waterfall-mechanism"\nversion = 1\nid = "m"\nname = "m"\n'
                 'source = {references = ["x"]}\nfinal = {policy = "bad_debt"}\nsurprise = 1\n')
    with pytest.raises(E.MechanismError) as info:
        load_mechanism(p)
    assert info.value.code == "E-MECHANISM"
    assert str(p) in str(info.value) and "surprise" in str(info.value)


def test_R_ERR_scenario_error_names_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"format": "waterfall-scenario", "version": 1, "name": "s", "ops": [],
                             "state": {"markets": [], "accounts": [{"id": "a", "collateral": 5}]}}))
    with pytest.raises(E.ScenarioError) as info:
        load_scenario(p)
    assert info.value.code == "E-SCENARIO"
    assert str(p) in str(info.value) and "state.accounts[0].collateral" in str(info.value)


def test_R_ERR_scenario_error_from_cli_when_no_mechanism_is_named(tmp_path: Path, capsys) -> None:
    from proofs.cli import main
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"format": "waterfall-scenario", "version": 1, "name": "s", "ops": [],
                             "state": {"markets": [], "accounts": []}}))
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert "[E-SCENARIO]" in err and str(p) in err and "key mechanism" in err and "Traceback" not in err
