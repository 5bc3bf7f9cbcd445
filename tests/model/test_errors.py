"""R-ERR-*: every typed error of model/errors.py, triggered through model.step.step or the
loaders: class, stable code, a message naming the account / market / field / file / key, and
the input state left exactly as it was."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from conftest import Haircut, acct, mech, mkstate, mkt
from waterfall.model import errors as E
from waterfall.model.codec import state_from_json
from waterfall.model.loader import load_mechanism, load_scenario
from waterfall.model.ops import Deposit, Funding, Liquidate, SetMark, Trade, Withdraw
from waterfall.model.state import validate_state
from waterfall.model.step import step

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
    from waterfall.cli.main import main
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"format": "waterfall-scenario", "version": 1, "name": "s", "ops": [],
                             "state": {"markets": [], "accounts": []}}))
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert "[E-SCENARIO]" in err and str(p) in err and "key mechanism" in err and "Traceback" not in err


# --------------------------------------------------------------------------- machine-readable locations
# The CLI prints err.to_json() (code, message and every named location); these pin the whole
# document, so a location that goes missing or a field named wrongly fails.

BIG = 10**36 + 1            # beyond MAX_BALANCE
M = mkt("M", 50)


@pytest.mark.parametrize("state,doc", [
    (mkstate([mkt("M", 0)], {}),
     {"code": "E-INVALID-AMOUNT", "message": "mark must be positive, got 0 (market 'M')",
      "field": "mark", "market": "M"}),
    (mkstate([mkt("M", 50, im_ppm=-1)], {}),
     {"code": "E-INVALID-AMOUNT", "message": "im_ppm must not be negative, got -1 (market 'M')",
      "field": "im_ppm", "market": "M"}),
    (mkstate([mkt("M", 50, mm_ppm=-1)], {}),
     {"code": "E-INVALID-AMOUNT", "message": "mm_ppm must not be negative, got -1 (market 'M')",
      "field": "mm_ppm", "market": "M"}),
    (mkstate([M], {"a": acct(BIG, net_deposit=0)}),
     {"code": "E-BOUND", "message": f"collateral = {BIG} exceeds the balance bound 10^36 (account 'a')",
      "field": "collateral", "account": "a"}),
    (mkstate([M], {"a": acct(0, net_deposit=-BIG)}),
     {"code": "E-BOUND", "message": f"net_deposit = {-BIG} exceeds the balance bound 10^36 (account 'a')",
      "field": "net_deposit", "account": "a"}),
    (mkstate([M], {"a": acct(0, {"M": (10**18 + 1, 0)})}),
     {"code": "E-BOUND", "message": f"size = {10**18 + 1} exceeds the input bound 10^18 (account 'a') "
                                    "(market 'M')", "field": "size", "account": "a", "market": "M"}),
    (mkstate([M], {"a": acct(0, {"M": (1, BIG)})}),
     {"code": "E-BOUND", "message": f"open_notional = {BIG} exceeds the balance bound 10^36 (account 'a') "
                                    "(market 'M')", "field": "open_notional", "account": "a", "market": "M"}),
    (mkstate([M], {"a": acct(0, {"Z": (0, 0)})}),
     {"code": "E-UNKNOWN-MARKET", "message": "account 'a' holds a position in unknown market 'Z'",
      "account": "a", "market": "Z"}),
    (mkstate([M], {}, {"insurance_fund": BIG}),
     {"code": "E-BOUND", "message": f"layer = {BIG} exceeds the balance bound 10^36 (layer 'insurance_fund')",
      "field": "layer", "layer": "insurance_fund"}),
    (mkstate([M], {}, {"insurance_fund": -1}),
     {"code": "E-STATE", "message": "layer 'insurance_fund' has negative balance -1", "layer": "insurance_fund"}),
    (mkstate([M], {}, default_fund={"ghost": 1}),
     {"code": "E-UNKNOWN-ACCOUNT", "message": "default fund contribution of unknown account 'ghost'",
      "account": "ghost"}),
    (mkstate([M], {"a": acct(0)}, default_fund={"a": BIG}),
     {"code": "E-BOUND", "message": f"default_fund = {BIG} exceeds the balance bound 10^36 (account 'a')",
      "field": "default_fund", "account": "a"}),
    (mkstate([M], {"a": acct(0)}, default_fund={"a": -1}),
     {"code": "E-STATE", "message": "default fund contribution of 'a' is negative", "account": "a"}),
    (mkstate([M], {}, bad_debt=BIG),
     {"code": "E-BOUND", "message": f"bad_debt = {BIG} exceeds the balance bound 10^36", "field": "bad_debt"}),
    (mkstate([M], {}, bad_debt=-1),
     {"code": "E-STATE", "message": "bad_debt must not be negative", "field": "bad_debt"}),
], ids=["mark-zero", "im-negative", "mm-negative", "collateral-bound", "net-deposit-bound", "size-bound",
        "open-notional-bound", "unknown-market", "layer-bound", "layer-negative", "df-unknown", "df-bound",
        "df-negative", "bad-debt-bound", "bad-debt-negative"])
def test_R_STATE_5_validate_state_error_documents(state, doc) -> None:
    with pytest.raises(E.WaterfallError) as info:
        validate_state(state)
    assert info.value.to_json() == doc


def test_R_STATE_5_zero_contributions_and_margins_are_valid() -> None:
    """The boundaries: a zero default-fund contribution, zero layer, zero margin rates and
    zero bad debt are all valid (only negative ones are refused)."""
    st = mkstate([mkt("M", 1, im_ppm=0, mm_ppm=0)], {"a": acct(0)}, {"insurance_fund": 0},
                 default_fund={"a": 0}, bad_debt=0)
    assert validate_state(st) is st


@pytest.mark.parametrize("state,op,doc", [
    (venue(), Trade("a", "a", "M", 1, 50),
     {"code": "E-SELF-TRADE", "message": "account 'a' cannot trade with itself", "account": "a"}),
    (venue(), Liquidate("b", "b"),
     {"code": "E-SELF-TRADE", "message": "account 'b' cannot be its own liquidation counterparty",
      "account": "b"}),
    (venue(), Liquidate("a", "c"),
     {"code": "E-HEALTHY", "message": "account 'a' is healthy: equity 20 >= maintenance margin 5",
      "account": "a"}),
    (venue(), Withdraw("a", 11),
     {"code": "E-MARGIN", "message": "account 'a': withdrawal leaves equity 9 below initial margin 10",
      "account": "a"}),
    (venue(), Trade("c", "b", "M", 30, 50),
     {"code": "E-MARGIN", "message": "account 'c': trade leaves equity 100 below initial margin 150",
      "account": "c"}),
    (mkstate([M], {"a": acct(100, net_deposit=-(10**36))}), Withdraw("a", 1),
     {"code": "E-BOUND", "message": f"net_deposit = {-(10**36) - 1} exceeds the balance bound 10^36 "
                                    "(account 'a')", "field": "net_deposit", "account": "a"}),
    (mkstate([M], {"rich": acct(10**36 - 5)}), Deposit("rich", 10),
     {"code": "E-BOUND", "message": f"collateral = {10**36 + 5} exceeds the balance bound 10^36 "
                                    "(account 'rich')", "field": "collateral", "account": "rich"}),
    (venue(), Deposit("c", 10**18 + 1),
     {"code": "E-BOUND", "message": f"amount = {10**18 + 1} exceeds the input bound 10^18 (account 'c')",
      "field": "amount", "account": "c"}),
], ids=["self-trade", "self-liquidation", "healthy", "withdraw-margin", "trade-margin", "net-deposit-bound",
        "collateral-bound", "input-bound"])
def test_R_ERR_step_error_documents(state, op, doc) -> None:
    with pytest.raises(E.WaterfallError) as info:
        step(state, op, GENERIC)
    assert info.value.to_json() == doc


def test_R_ERR_unknown_layer_document() -> None:
    with pytest.raises(E.UnknownLayer) as info:
        venue().layer("fee_pool")
    assert info.value.to_json() == {"code": "E-UNKNOWN-LAYER", "message": "unknown layer 'fee_pool'",
                                    "layer": "fee_pool"}


def test_step_refuses_what_is_not_an_operation() -> None:
    with pytest.raises(TypeError, match=r"^not an operation: 'deposit'$"):
        step(venue(), "deposit", GENERIC)  # type: ignore[arg-type]


@pytest.mark.parametrize("doc,where", [
    ({"markets": [{"id": "M", "mark": "1", "im_ppm": "0", "mm_ppm": "0"}] * 2, "accounts": []},
     {"code": "E-STATE", "message": "market 'M' is listed twice", "market": "M"}),
    ({"markets": [], "accounts": [{"id": "a", "collateral": "1"}] * 2},
     {"code": "E-STATE", "message": "account 'a' is listed twice", "account": "a"}),
    ({"markets": [], "accounts": [{"id": "a", "collateral": "1",
                                   "positions": [{"market": "M", "size": "1", "open_notional": "1"}] * 2}]},
     {"code": "E-STATE", "message": "account 'a' lists market 'M' twice", "account": "a", "market": "M"}),
], ids=["market-twice", "account-twice", "position-twice"])
def test_R_FMT_2_duplicate_ids_error_documents(doc, where) -> None:
    with pytest.raises(E.InvalidState) as info:
        state_from_json(doc)
    assert info.value.to_json() == where


def test_R_ERR_2_precedence_when_several_errors_apply() -> None:
    """The first check in R-ERR-2's order decides the code (spec/rules.md)."""
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.model.ops import Deposit, Liquidate, Trade
    from waterfall.model.state import Account, Market, Position, State
    from waterfall.model.step import step
    from waterfall.model.errors import WaterfallError
    mech = load_mechanism(catalogue()["generic-socialized-loss"])
    s = State({"M0": Market("M0", 1_000, 100_000, 50_000)},
              {"a": Account(10_000, 10_000, {"M0": Position(1, 1_000)}), "b": Account(10_000, 10_000, {"M0": Position(-1, -1_000)})},
              {"insurance_fund": 0})
    cases = [(Deposit("ghost", -5), "E-UNKNOWN-ACCOUNT"), (Deposit("a", -10**19), "E-BOUND"),
             (Trade("a", "a", "M0", 0, 1), "E-INVALID-AMOUNT"), (Trade("a", "a", "M9", 1, 1), "E-UNKNOWN-MARKET"),
             (Trade("a", "a", "M0", 1, 1), "E-SELF-TRADE"), (Liquidate("a", "a", {"M9": 1}, "0"), "E-SELF-TRADE"),
             (Liquidate("a", None, {"M9": 1}, "0"), "E-UNKNOWN-MARKET"), (Liquidate("a", None, {}, "0"), "E-HEALTHY")]
    for op, code in cases:
        try:
            step(s, op, mech)
        except WaterfallError as e:
            assert e.code == code, (op, e.code)
        else:
            raise AssertionError(f"{op} was applied")
