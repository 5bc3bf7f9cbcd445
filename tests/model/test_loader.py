"""R-MECH-1/2, R-FMT-4: mechanism (TOML) and scenario (JSON) loaders, and the CLI on bad input.

Every bad file must raise the loader's typed error (MechanismError / ScenarioError), never
another exception, with a message naming the file and the key."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from waterfall.model.errors import MechanismError, ScenarioError
from waterfall.model.loader import load_mechanism, load_scenario, resolve_mechanism
from waterfall.model.mechanism import Adl, Haircut, LayerSpec, Liquidation
from waterfall.model.ops import Deposit, Liquidate
from waterfall.model.state import Position
from waterfall.cli.main import main

MECH = """\
format = "waterfall-mechanism"
version = 1
id = "t"
name = "test mechanism"

[source]
references = ["tests"]

[liquidation]
surplus = "fee"
fee_ppm = 5000
surplus_sink = "insurance_fund"

[[layers]]
name = "insurance_fund"
kind = "balance"
reserve = 1

[final]
policy = "haircut"
rounding = "largest_remainder"
residue_sink = "bad_debt"
"""

CCP_LAYERS = """
[[layers]]
name = "df"
kind = "default_fund"

[[layers]]
name = "assess"
kind = "assessment"
assessment_multiple_ppm = 2000000
"""


def write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_R_MECH_1_valid_file_loads_into_a_mechanism(tmp_path: Path) -> None:
    m = load_mechanism(write(tmp_path, MECH + CCP_LAYERS))
    assert m.id == "t" and m.name == "test mechanism"
    assert m.liquidation == Liquidation("fee", 5000, "insurance_fund")
    assert m.layers == (LayerSpec("insurance_fund", reserve=1), LayerSpec("df", kind="default_fund"),
                        LayerSpec("assess", kind="assessment", assessment_multiple_ppm=2_000_000))
    assert m.final == Haircut(rounding="largest_remainder", residue_sink="bad_debt")
    m = load_mechanism(write(tmp_path, MECH.replace('policy = "haircut"\nrounding = "largest_remainder"\n'
                                                     'residue_sink = "bad_debt"',
                                                     'policy = "adl"\nranking = "bitmex"')))
    assert m.final == Adl(ranking="bitmex")


def test_R_MECH_1_bundled_catalogue_resolves_by_id() -> None:
    m = resolve_mechanism("generic-socialized-loss")
    assert m.liquidation.fee_ppm == 5000 and [s.name for s in m.layers] == ["insurance_fund"]
    with pytest.raises(MechanismError) as info:
        resolve_mechanism("no-such-mechanism")
    assert "'no-such-mechanism'" in str(info.value)


BAD_MECHANISMS = [
    # (label, edit of the valid text, key the error must name)
    ("unknown top-level key", lambda t: t.replace('name = "test mechanism"', 'name = "x"\ncolour = "red"'), "colour"),
    ("unknown liquidation key", lambda t: t.replace("fee_ppm = 5000", "fee_ppm = 5000\nbogus = 1"), "liquidation.bogus"),
    ("unknown layer key", lambda t: t.replace("reserve = 1", "reserve = 1\nbogus = 1"), "layers[0].bogus"),
    ("unknown final key", lambda t: t.replace('residue_sink = "bad_debt"', 'residue_sink = "bad_debt"\nbogus = 1'), "final.bogus"),
    ("key of another policy", lambda t: t.replace('policy = "haircut"', 'policy = "levy"'), "final.rounding"),
    ("wrong type string", lambda t: t.replace("fee_ppm = 5000", 'fee_ppm = "5000"'), "liquidation.fee_ppm"),
    ("wrong type float", lambda t: t.replace("reserve = 1", "reserve = 1.5"), "layers[0].reserve"),
    ("wrong type table", lambda t: t.replace("version = 1", "version = 1\nclaims = 3"), "claims"),
    ("out of range high", lambda t: t.replace("fee_ppm = 5000", "fee_ppm = 2000000"), "liquidation.fee_ppm"),
    ("out of range negative", lambda t: t.replace("reserve = 1", "reserve = -1"), "layers[0].reserve"),
    ("out of range zero cap", lambda t: t.replace('residue_sink = "bad_debt"', 'residue_sink = "bad_debt"\ncap_ppm = 0'), "final.cap_ppm"),
    ("not in enum", lambda t: t.replace('policy = "haircut"', 'policy = "magic"'), "final.policy"),
    ("missing required", lambda t: t.replace('id = "t"\n', ""), "id"),
    ("assessment before default fund",
     lambda t: t + CCP_LAYERS.replace('name = "df"\nkind = "default_fund"', 'name = "a0"\nkind = "assessment"\n'
                                      'assessment_multiple_ppm = 1000000').replace(
                                          'name = "assess"\nkind = "assessment"\nassessment_multiple_ppm = 2000000',
                                          'name = "df"\nkind = "default_fund"'), "layers[2].kind"),
    ("duplicate layer", lambda t: t + '\n[[layers]]\nname = "insurance_fund"\n', "layers[1].name"),
    ("assessment without cap", lambda t: t + '\n[[layers]]\nname = "a"\nkind = "assessment"\n', "layers[1].assessment_multiple_ppm"),
    ("layer named bad_debt", lambda t: t + '\n[[layers]]\nname = "bad_debt"\n', "layers[1].name"),
    ("surplus sink not a layer", lambda t: t.replace('surplus_sink = "insurance_fund"', 'surplus_sink = "nowhere"'),
     "liquidation.surplus_sink"),
    ("surplus sink is a clearing layer", lambda t: (t + CCP_LAYERS).replace('surplus_sink = "insurance_fund"',
                                                                           'surplus_sink = "df"'), "liquidation.surplus_sink"),
    ("residue sink not a layer", lambda t: t.replace('residue_sink = "bad_debt"', 'residue_sink = "ghost"'),
     "final.residue_sink"),
]


@pytest.mark.parametrize("label,edit,key", BAD_MECHANISMS, ids=[b[0] for b in BAD_MECHANISMS])
def test_R_MECH_2_bad_mechanism_names_file_and_key(tmp_path: Path, label: str, edit, key: str) -> None:
    text = edit(MECH)
    assert text != MECH
    p = write(tmp_path, text)
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    msg = str(info.value)
    assert info.value.code == "E-MECHANISM"
    assert str(p) in msg, msg
    assert key in msg, msg


def test_R_MECH_2_layers_out_of_order_message_says_which_must_come_first(tmp_path: Path) -> None:
    # assessment (layers[1]) listed before default_fund (layers[2])
    p = write(tmp_path, MECH + """
[[layers]]
name = "assess"
kind = "assessment"
assessment_multiple_ppm = 2000000

[[layers]]
name = "df"
kind = "default_fund"
""")
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert "'default_fund' must come before 'assessment'" in str(info.value)
    assert info.value.where["key"] == "layers[2].kind"
    assert str(p) in str(info.value)


def test_R_MECH_1_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, MECH.replace("fee_ppm = 5000", "fee_ppm = "))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    msg = str(info.value)
    assert str(p) in msg and "not valid TOML" in msg
    # 'fee_ppm = ' is on line 11 of the file
    assert "line 11" in msg


def test_R_MECH_1_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(MechanismError) as info:
        load_mechanism(missing)
    assert str(missing) in str(info.value) and "cannot read" in str(info.value)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00 = 1")
    with pytest.raises(MechanismError) as info:
        load_mechanism(binary)
    assert str(binary) in str(info.value)
    with pytest.raises(MechanismError) as info:
        load_mechanism(tmp_path)
    assert str(tmp_path) in str(info.value)


# --------------------------------------------------------------------------- scenarios

SCENARIO = {
    "format": "waterfall-scenario", "version": 1, "name": "t", "mechanism": "generic-socialized-loss",
    "seed": "s0",
    "state": {
        "markets": [{"id": "M", "mark": "100", "im_ppm": "100000", "mm_ppm": "50000"}],
        "accounts": [
            {"id": "a", "collateral": "40", "positions": [{"market": "M", "size": "1", "open_notional": "130"}]},
            {"id": "b", "collateral": "500", "positions": [{"market": "M", "size": "-1", "open_notional": "-130"}]},
            {"id": "c", "collateral": "1000"},
        ],
        "layers": {"insurance_fund": "5"},
    },
    "ops": [{"op": "deposit", "account": "c", "amount": "10"},
            {"op": "liquidate", "account": "a", "counterparty": "c"}],
}


def write_json(tmp_path: Path, doc, name: str = "s.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def test_R_FMT_4_valid_scenario_loads(tmp_path: Path) -> None:
    sc = load_scenario(write_json(tmp_path, SCENARIO))
    assert sc.name == "t" and sc.mechanism == "generic-socialized-loss"
    assert sc.state.accounts["a"].positions["M"] == Position(1, 130)
    assert sc.state.layers == {"insurance_fund": 5}
    assert sc.ops == (Deposit("c", 10), Liquidate("a", "c", {}, "s0"))


def edited(path: str, value=None, delete: bool = False):
    """An edit that sets (or deletes) one JSON path like 'state.accounts[0].collateral'."""
    def apply(doc):
        doc = copy.deepcopy(doc)
        parts = path.replace("]", "").replace("[", ".").split(".")
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
        if delete:
            del node[last]
        else:
            node[last] = value
        return doc
    return apply


BAD_SCENARIOS = [
    ("integer as JSON number in state", edited("state.accounts[0].collateral", 40), "state.accounts[0].collateral"),
    ("integer as JSON number in a market", edited("state.markets[0].mark", 100), "state.markets[0].mark"),
    ("unknown top-level key", edited("colour", "red"), "colour"),
    ("unknown account key", edited("state.accounts[2].nickname", "x"), "state.accounts[2].nickname"),
    ("missing required", edited("name", delete=True), "name"),
    ("positions not zero-sum", edited("state.accounts[1].positions[0].size", "-2"), "'M'"),
    ("open notionals not zero-sum", edited("state.accounts[1].positions[0].open_notional", "-129"), "'M'"),
    ("duplicate account id", edited("state.accounts[2].id", "b"), "'b'"),
    ("duplicate market id", lambda d: {**d, "state": {**d["state"], "markets": d["state"]["markets"] * 2}}, "'M'"),
    ("position in unknown market", edited("state.accounts[2].positions", [{"market": "Z", "size": "0",
                                                                            "open_notional": "0"}]), "'Z'"),
    ("default fund of unknown account", edited("state.default_fund", {"ghost": "1"}), "'ghost'"),
    ("negative layer", edited("state.layers.insurance_fund", "-5"), "state.layers.insurance_fund"),
]


@pytest.mark.parametrize("label,edit,name", BAD_SCENARIOS, ids=[b[0] for b in BAD_SCENARIOS])
def test_R_FMT_4_bad_scenario_names_file_and_key(tmp_path: Path, label: str, edit, name: str) -> None:
    p = write_json(tmp_path, edit(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert info.value.code == "E-SCENARIO"
    assert str(p) in msg, msg
    assert name in msg, msg


def test_R_FMT_4_bad_json_names_file_and_line(tmp_path: Path) -> None:
    p = write_json(tmp_path, '{\n  "format": "waterfall-scenario",\n  "version": 1,\n}')
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert str(p) in msg and "not valid JSON" in msg and "line 4" in msg


def test_R_FMT_4_missing_scenario_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.json"
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(p) in str(info.value) and "cannot read" in str(info.value)


def test_R_FMT_4_unknown_op_is_named(tmp_path: Path) -> None:
    # Regression (found by this test, fixed in the model): an operation that is none of the six kinds falls
    # through the schema's oneOf, and the loader reports one branch's complaint about another
    # key (currently "ops[0].account: unknown key (allowed: buyer, ...)" or similar), never the
    # offending 'op' field or its value.
    p = write_json(tmp_path, edited("ops[0]", {"op": "explode", "account": "c", "amount": "10"})(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert str(p) in msg
    assert "ops[0].op" in msg or "explode" in msg, msg


@pytest.mark.parametrize("op,key", [
    ({"op": "deposit", "account": "c", "amount": 10}, "ops[0].amount"),
    ({"op": "set_mark", "market": "M", "price": 101}, "ops[0].price"),
    ({"op": "trade", "buyer": "b", "seller": "c", "market": "M", "size": 1, "price": "100"}, "ops[0].size"),
])
def test_R_FMT_4_integer_as_json_number_in_an_op_is_named(tmp_path: Path, op, key: str) -> None:
    # Regression (found by this test, fixed in the model): R-FMT-1 wants integers as strings; for a state field the
    # loader says e.g. "state.accounts[0].collateral: wrong type" (see above), but inside an
    # operation (schema oneOf) it names a key of another operation kind instead of this field.
    p = write_json(tmp_path, edited("ops[0]", op)(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert str(p) in msg
    assert key in msg, msg


def test_R_UNIT_3_scenario_state_beyond_the_balance_bound_is_refused(tmp_path: Path) -> None:
    # Regression (found by this test, fixed in the model): R-UNIT-3 (model/units.py) MAX_BALANCE = 10^36 is the
    # "bound on any balance or open notional in a state", but the schema admits 37-digit
    # integers and the loader does not check the bound, so a state with collateral 2 * 10^36
    # loads (and the first deposit on it then fails with E-BOUND).
    p = write_json(tmp_path, edited("state.accounts[2].collateral", str(2 * 10**36))(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(p) in str(info.value) and "collateral" in str(info.value)


# --------------------------------------------------------------------------- CLI

def test_cli_bad_scenario_exits_2_without_traceback(tmp_path: Path, capsys) -> None:
    p = write_json(tmp_path, edited("state.accounts[0].collateral", 40)(SCENARIO))
    assert main(["run", str(p)]) == 2
    out = capsys.readouterr()
    assert "[E-SCENARIO]" in out.err and str(p) in out.err and "state.accounts[0].collateral" in out.err
    assert "Traceback" not in out.err + out.out


def test_cli_bad_json_exits_2_with_json_error(tmp_path: Path, capsys) -> None:
    p = write_json(tmp_path, "{")
    assert main(["run", str(p), "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["error"]["code"] == "E-SCENARIO" and doc["error"]["file"] == str(p)
    assert "Traceback" not in out.err + out.out


def test_cli_bad_mechanism_exits_2_without_traceback(tmp_path: Path, capsys) -> None:
    bad = write(tmp_path, MECH.replace("fee_ppm = 5000", "fee_ppm = -1"))
    assert main(["mechanisms", str(bad)]) == 2
    out = capsys.readouterr()
    assert "[E-MECHANISM]" in out.err and str(bad) in out.err and "liquidation.fee_ppm" in out.err
    assert "Traceback" not in out.err + out.out
    good = write_json(tmp_path, SCENARIO)
    assert main(["run", str(good), "--mechanism", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_R_RUN_3_cli_checks_the_scenarios_expectations(tmp_path: Path, capsys) -> None:
    # a: long 1 from 130 at mark 100, collateral 40 -> equity 10 >= MM ceil(100 * 5 %) = 5, so
    # the liquidation is refused (E-HEALTHY); the deposit gives c 1000 + 10 = 1010.
    # Expectations that match exit 0, a wrong one exits 1.
    doc = copy.deepcopy(SCENARIO)
    doc["expect"] = {"errors": [None, "E-HEALTHY"], "collateral": {"c": "1010"}, "layers": {"insurance_fund": "5"}}
    assert main(["run", str(write_json(tmp_path, doc, "ok.json"))]) == 0
    doc["expect"]["collateral"] = {"c": "1011"}
    assert main(["run", str(write_json(tmp_path, doc, "miss.json"))]) == 1
    assert "expectation missed" in capsys.readouterr().out


def test_R_MECH_2_surplus_sink_needed_only_when_it_can_be_used(tmp_path: Path) -> None:
    # surplus 'none' and a final resort that cannot over-collect (ADL, bad debt): the default
    # sink 'insurance_fund' need not exist.
    minimal = ('format = "waterfall-mechanism"\nversion = 1\nid = "m"\nname = "m"\n'
               'source = {references = ["x"]}\nliquidation = {surplus = "none"}\n')
    for policy in ("adl", "bad_debt"):
        m = load_mechanism(write(tmp_path, minimal + f'final = {{policy = "{policy}"}}\n', f"{policy}.toml"))
        assert m.layers == ()
    # a haircut can over-collect (ceil), so its surplus sink must be a layer
    p = write(tmp_path, minimal + 'final = {policy = "haircut"}\n', "haircut.toml")
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(p) in str(info.value) and "liquidation.surplus_sink" in str(info.value)


# --------------------------------------------------------------------------- review additions

def test_R_MECH_2_a_clearing_layer_kind_listed_twice_is_refused(tmp_path: Path) -> None:
    # two default_fund layers under different names (layers[1] 'df', layers[2] 'df2'): names
    # are unique, but each clearing kind may appear once.
    p = write(tmp_path, MECH + '\n[[layers]]\nname = "df"\nkind = "default_fund"\n'
                               '\n[[layers]]\nname = "df2"\nkind = "default_fund"\n')
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where["key"] == "layers[2].kind"
    assert "layers[2].kind" in str(info.value) and str(p) in str(info.value)
    assert "'default_fund'" in str(info.value)


def test_R_MECH_2_a_claim_that_is_not_a_registered_invariant_is_refused(tmp_path: Path) -> None:
    # "I-NON-NEG" passes the schema's pattern ^I-[A-Z-]+$ but is a misspelling of I-NONNEG:
    # left in, it would be silently never checked.
    header = 'name = "test mechanism"\n'
    p = write(tmp_path, MECH.replace(header, header + 'claims = ["I-NON-NEG"]\n'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.code == "E-MECHANISM" and info.value.where["key"] == "claims[0]"
    assert "claims[0]" in str(info.value) and "'I-NON-NEG'" in str(info.value) and str(p) in str(info.value)
    # the registered ids load
    ok = write(tmp_path, MECH.replace(header, header + 'claims = ["I-CONS", "I-NONNEG"]\n'), "ok.toml")
    assert load_mechanism(ok).claims == ("I-CONS", "I-NONNEG")


@pytest.mark.parametrize("part", ["collateral", "equity"])
def test_R_FMT_4_expect_naming_an_unknown_account_is_refused(tmp_path: Path, part: str) -> None:
    # the state has accounts a, b, c; expect names 'ghost'
    doc = copy.deepcopy(SCENARIO)
    doc["expect"] = {part: {"a": "0", "ghost": "1"}}
    p = write_json(tmp_path, doc)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert info.value.where["key"] == f"expect.{part}.ghost"
    assert f"expect.{part}.ghost" in str(info.value) and str(p) in str(info.value)


def test_cli_run_without_any_mechanism_exits_2_with_E_SCENARIO_json(tmp_path: Path, capsys) -> None:
    # the scenario names no mechanism and none is passed: bad input (exit 2), code E-SCENARIO
    # naming the key 'mechanism'
    doc = copy.deepcopy(SCENARIO)
    del doc["mechanism"]
    p = write_json(tmp_path, doc)
    assert main(["run", str(p), "--json"]) == 2
    out = capsys.readouterr()
    err = json.loads(out.out)["error"]
    assert err["code"] == "E-SCENARIO" and err["key"] == "mechanism" and err["file"] == str(p)
    assert "Traceback" not in out.err
    # with --mechanism it runs (exit 0: no expectations, every claimed invariant holds)
    assert main(["run", str(p), "--mechanism", "generic-socialized-loss"]) == 0


DEPTH = 5000  # far beyond Python's default recursion limit (1000)


def test_R_FMT_4_deeply_nested_json_is_a_scenario_error_not_a_crash(tmp_path: Path) -> None:
    text = json.dumps({**SCENARIO, "description": "@"}).replace('"@"', "[" * DEPTH + "]" * DEPTH)
    p = write_json(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(p) in str(info.value)


def test_R_MECH_1_deeply_nested_toml_is_a_mechanism_error_not_a_crash(tmp_path: Path) -> None:
    header = 'name = "test mechanism"\n'
    p = write(tmp_path, MECH.replace(header, header + "claims = " + "[" * DEPTH + "]" * DEPTH + "\n"))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(p) in str(info.value)


# --------------------------------------------------------------------------- exact locations and messages
# The CLI's JSON error names `file` and `key` (err.where); these must be exactly the file and
# the key of the problem, not merely contain it, and the message must be the plain-language one.

@pytest.mark.parametrize("label,edit,key", BAD_MECHANISMS, ids=[b[0] for b in BAD_MECHANISMS])
def test_R_MECH_2_error_location_is_exactly_file_and_key(tmp_path: Path, label: str, edit, key: str) -> None:
    p = write(tmp_path, edit(MECH))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where["file"] == str(p)
    assert info.value.where == {"file": str(p), "key": key}
    assert str(info.value).startswith(f"{p}: key {key}: ")


@pytest.mark.parametrize("label,message", [
    ("unknown liquidation key", "unknown key (allowed: fee_ppm, step_cooldown, step_markets, step_max_notional, step_min_margin_ppm, step_min_notional, step_ppm, step_threshold, surplus, surplus_sink)"),
    ("wrong type string", "wrong type: expected integer, got str"),
    ("wrong type table", "wrong type: expected array, got int"),
    ("out of range high", "value 2000000 out of range (maximum 1000000)"),
    ("out of range negative", "value -1 out of range (minimum 0)"),
    ("not in enum", "'magic' is not one of haircut, adl, levy, withdrawal_haircut, pool, bad_debt"),
    ("missing required", "required key is missing"),
    ("duplicate layer", "layer 'insurance_fund' is listed twice"),
    ("assessment without cap", "an assessment layer needs a positive cap"),
    ("residue sink not a layer", "'ghost' is not a balance layer of this mechanism (layers: insurance_fund)"),
])
def test_R_MECH_2_schema_and_semantic_messages_in_plain_words(tmp_path: Path, label: str, message: str) -> None:
    edit = {b[0]: b[1] for b in BAD_MECHANISMS}[label]
    p = write(tmp_path, edit(MECH))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(info.value).endswith(": " + message), str(info.value)


def test_R_MECH_2_two_unknown_keys_name_the_first_and_count_the_rest(tmp_path: Path) -> None:
    # one table with two unknown keys is one problem naming the first; a second problem
    # elsewhere is listed on a line of its own
    p = write(tmp_path, MECH.replace("fee_ppm = 5000", "fee_ppm = 5000\nbogus = 1\nzzz = 2"))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where["key"] == "liquidation.bogus"
    assert str(info.value).endswith("unknown key (allowed: fee_ppm, step_cooldown, step_markets, step_max_notional, "
                                    "step_min_margin_ppm, step_min_notional, step_ppm, step_threshold, surplus, surplus_sink)")
    p = write(tmp_path, MECH.replace("fee_ppm = 5000", "fee_ppm = 5000\nbogus = 1").replace("reserve = 1", "reserve = -1"))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(info.value) == (f"{p}: key layers[0].reserve: value -1 out of range (minimum 0) "
                               "(and 1 more problem:)\n  key liquidation.bogus: unknown key "
                               "(allowed: fee_ppm, step_cooldown, step_markets, step_max_notional, step_min_margin_ppm, "
                               "step_min_notional, step_ppm, step_threshold, surplus, surplus_sink)")


def test_R_MECH_2_sink_errors_list_the_balance_layers_or_none(tmp_path: Path) -> None:
    two = MECH + '\n[[layers]]\nname = "fee_pool"\nkind = "balance"\n'
    p = write(tmp_path, two.replace('residue_sink = "bad_debt"', 'residue_sink = "ghost"'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(info.value).endswith("(layers: fee_pool, insurance_fund)")
    no_layers = ('format = "waterfall-mechanism"\nversion = 1\nid = "m"\nname = "m"\n'
                 'source = {references = ["x"]}\nliquidation = {surplus = "all"}\nfinal = {policy = "bad_debt"}\n')
    p = write(tmp_path, no_layers, "none.toml")
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where == {"file": str(p), "key": "liquidation.surplus_sink"}
    assert str(info.value).endswith("'insurance_fund' is not a balance layer of this mechanism (layers: none)")


def test_R_MECH_2_bad_debt_is_a_residue_sink_but_not_a_surplus_sink(tmp_path: Path) -> None:
    # the residue of a haircut may be written off (MECH has residue_sink = "bad_debt"), but a
    # surplus is money that must go somewhere: 'bad_debt' is no balance layer.
    p = write(tmp_path, MECH.replace('surplus_sink = "insurance_fund"', 'surplus_sink = "bad_debt"'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where == {"file": str(p), "key": "liquidation.surplus_sink"}


def test_R_MECH_2_clearing_kind_twice_says_listed_twice(tmp_path: Path) -> None:
    p = write(tmp_path, MECH + '\n[[layers]]\nname = "df"\nkind = "default_fund"\n'
                               '\n[[layers]]\nname = "df2"\nkind = "default_fund"\n')
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(info.value) == f"{p}: key layers[2].kind: layers out of order: 'default_fund' listed twice"
    assert info.value.where == {"file": str(p), "key": "layers[2].kind"}


def test_R_MECH_2_unknown_claim_names_the_closest_or_lists_the_registered_ids(tmp_path: Path) -> None:
    from waterfall.spec.invariants import REGISTRY, RELATIONS
    header = 'name = "test mechanism"\n'
    p = write(tmp_path, MECH.replace(header, header + 'claims = ["I-NON-NEG"]\n'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where == {"file": str(p), "key": "claims[0]"}
    assert str(info.value).endswith("'I-NON-NEG' is not a registered invariant (did you mean 'I-NONNEG'?)")
    p = write(tmp_path, MECH.replace(header, header + 'claims = ["I-WHATEVER-X"]\n'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert str(info.value).endswith(f"(known: {', '.join(sorted(list(REGISTRY) + list(RELATIONS)))})")


def test_R_MECH_1_loaded_mechanism_keeps_its_source_and_path(tmp_path: Path) -> None:
    p = write(tmp_path, MECH)
    m = load_mechanism(p)
    assert m.source == {"references": ["tests"]} and m.path == str(p)


def test_R_MECH_1_read_errors_name_the_file_as_location(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(MechanismError) as info:
        load_mechanism(missing)
    assert info.value.where == {"file": missing}
    header = 'name = "test mechanism"\n'
    deep = write(tmp_path, MECH.replace(header, header + "claims = " + "[" * DEPTH + "]" * DEPTH + "\n"))
    with pytest.raises(MechanismError) as info:
        load_mechanism(deep)
    assert info.value.where == {"file": deep}
    assert str(info.value) == f"{deep}: not valid TOML: nested too deeply"


def test_R_MECH_1_resolve_by_path_or_catalogue_id(tmp_path: Path) -> None:
    # an existing file loads whatever its suffix; a missing *.toml is a read error naming it
    other = write(tmp_path, MECH, "mechanism.txt")
    assert resolve_mechanism(str(other)).id == "t"
    with pytest.raises(MechanismError) as info:
        resolve_mechanism(str(tmp_path / "missing.toml"))
    assert "cannot read" in str(info.value)
    with pytest.raises(MechanismError) as info:
        resolve_mechanism("no-such-mechanism")
    from waterfall.model.loader import catalogue
    assert info.value.where == {"key": "no-such-mechanism"}
    assert f"nor a file (known: {', '.join(sorted(catalogue()))})" in str(info.value)
    with pytest.raises(MechanismError, match=r"no mechanism 'Drift-V3'.* \(did you mean 'drift-v2'\?\)"):
        resolve_mechanism("Drift-V3")  # a mistyped id gets the closest one


def test_R_RUN_2_scenarios_resolve_by_path_or_bundled_name(tmp_path: Path) -> None:
    from waterfall.model.loader import resolve_scenario
    from waterfall.spec import SCENARIOS_DIR
    assert resolve_scenario("fund-empty").path == str(SCENARIOS_DIR / "fund-empty.json")
    assert resolve_scenario("no-markets-per-market-sink").mechanism  # a regression, by name
    with pytest.raises(ScenarioError, match=r"no scenario 'fund-emty'.*did you mean 'fund-empty'"):
        resolve_scenario("fund-emty")
    with pytest.raises(ScenarioError, match="cannot read"):
        resolve_scenario(str(tmp_path / "missing.json"))


def test_R_RUN_3_a_relative_mechanism_path_is_relative_to_the_scenario(tmp_path: Path, monkeypatch) -> None:
    from waterfall.model.loader import load_scenario, scenario_mechanism
    (tmp_path / "venue").mkdir()
    write(tmp_path / "venue", MECH, "mine.toml")
    doc = json.loads(json.dumps(SCENARIO))
    doc["mechanism"] = "mine.toml"
    path = write_json(tmp_path / "venue", doc)
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    assert scenario_mechanism(load_scenario(path)).id == "t"


@pytest.mark.parametrize("label,edit,name", BAD_SCENARIOS, ids=[b[0] for b in BAD_SCENARIOS])
def test_R_FMT_4_error_location_is_exactly_file_and_key(tmp_path: Path, label: str, edit, name: str) -> None:
    p = write_json(tmp_path, edit(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    # schema problems name their JSON path; semantic state problems (R-STATE-5) name 'state'
    key = name if name.startswith(("state.", "colour", "name")) else "state"
    assert info.value.where == {"file": str(p), "key": key}
    assert str(info.value).startswith(f"{p}: {key}: ")


def test_R_FMT_4_messages_count_further_problems_and_say_top_level() -> None:
    from waterfall.model.loader import scenario_from_doc
    with pytest.raises(ScenarioError) as info:
        scenario_from_doc([])
    assert str(info.value) == "<scenario>: (top level): wrong type: expected object, got list"
    assert info.value.where == {"file": "<scenario>", "key": "(top level)"}
    doc = copy.deepcopy(SCENARIO)
    del doc["name"], doc["ops"]
    with pytest.raises(ScenarioError) as info:
        scenario_from_doc(doc, "s.json")
    assert str(info.value) == ("s.json: name: required key is missing (and 1 more problem:)\n"
                               "  ops: required key is missing")
    del doc["state"]["accounts"][0]["collateral"]
    doc["name"], doc["ops"] = "t", []
    with pytest.raises(ScenarioError) as info:
        scenario_from_doc(doc, "s.json")
    assert str(info.value) == "s.json: state.accounts[0].collateral: required key is missing"


def test_R_FMT_4_zero_sum_message_gives_the_sums(tmp_path: Path) -> None:
    p = write_json(tmp_path, edited("state.accounts[1].positions[0].size", "-2")(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(info.value) == (f"{p}: state: market 'M': sizes sum to -1 and open notionals to 0; "
                               "both must be 0 (R-STATE-5)")
    p = write_json(tmp_path, edited("state.accounts[1].positions[0].open_notional", "-129")(SCENARIO))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert "sizes sum to 0 and open notionals to 1;" in str(info.value)


def test_R_FMT_4_expect_error_names_the_file() -> None:
    from waterfall.model.loader import scenario_from_doc
    doc = {**copy.deepcopy(SCENARIO), "expect": {"equity": {"ghost": "1"}}}
    with pytest.raises(ScenarioError) as info:
        scenario_from_doc(doc, "s.json")
    assert info.value.where == {"file": "s.json", "key": "expect.equity.ghost"}


def test_R_FMT_4_optional_fields_and_their_defaults(tmp_path: Path) -> None:
    doc = {**copy.deepcopy(SCENARIO), "mechanisms": ["bitmex-adl", "deribit"], "description": "two venues"}
    sc = load_scenario(write_json(tmp_path, doc))
    assert sc.mechanisms == ("bitmex-adl", "deribit") and sc.description == "two venues"
    assert sc.expect == {} and sc.path == str(tmp_path / "s.json")
    bare = copy.deepcopy(SCENARIO)
    del bare["seed"], bare["mechanism"]
    sc = load_scenario(write_json(tmp_path, bare, "bare.json"))
    assert sc.mechanisms == () and sc.description == "" and sc.mechanism is None
    assert sc.ops[1] == Liquidate("a", "c", {}, "0")     # the default seed is "0"


def test_R_FMT_4_schema_errors_report_a_oneOf_through_its_best_leaf() -> None:
    """The bundled schemas use if/then, but the reporter handles oneOf too: a violation is
    reported as jsonschema's best-matching branch complaint, in plain words, never as the raw
    "... is not valid under any of the given schemas"."""
    import jsonschema
    from waterfall.model.loader import schema_errors
    v = jsonschema.Draft202012Validator({"type": "object", "properties": {"x": {"oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "integer"}}}]}}})
    assert schema_errors(v, {"x": {"a": "1"}}) == [("x", "wrong type: expected string, got dict")]
    assert schema_errors(v, {"x": "ok"}) == []


def test_R_FMT_4_schema_check_of_a_too_deep_document_is_a_top_level_problem() -> None:
    import jsonschema
    from waterfall.model.loader import schema_errors
    v = jsonschema.Draft202012Validator({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
                                         "$ref": "#/$defs/n"})
    deep: list = []
    for _ in range(DEPTH):
        deep = [deep]
    assert schema_errors(v, deep) == [("(top level)", "nested too deeply")]


def test_R_MECH_1_files_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """A mechanism file is UTF-8 (TOML requires it); a process whose locale is plain C
    (ASCII, no UTF-8 mode) must still read a non-ASCII name."""
    import os
    import subprocess
    import sys
    p = write(tmp_path, MECH.replace('name = "test mechanism"', 'name = "mécanisme"'))
    assert load_mechanism(p).name == "mécanisme"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    code = ("import sys; from model.loader import load_mechanism; "
            "sys.exit(0 if load_mechanism(sys.argv[1]).name == 'm\\u00e9canisme' else 1)")
    r = subprocess.run([sys.executable, "-c", code, str(p)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


ADL_FINAL = '[final]\npolicy = "adl"\nranking = "profit"\n'


def backstop_then_fund(t: str) -> str:
    """An ADL mechanism whose after-ADL layer comes before an ordinary one (R-WF-12)."""
    t = t.replace("reserve = 1", "reserve = 1\nafter_adl = true")
    return t[:t.index("[final]")] + '[[layers]]\nname = "fee_pool"\n\n' + ADL_FINAL


REFINEMENTS = [
    # (label, edit of the valid text, key the error must name, words of the message) - R-MECH-3
    ("drawdown without window", lambda t: t.replace("reserve = 1", "reserve = 1\ndrawdown_ppm = 300000"),
     "layers[0].drawdown_window", "positive window"),
    ("window without drawdown", lambda t: t.replace("reserve = 1", "reserve = 1\ndrawdown_window = 60"),
     "layers[0].drawdown_ppm", "without drawdown_ppm"),
    ("drawdown trigger without ADL", lambda t: t.replace(
        "reserve = 1", 'reserve = 1\ndrawdown_ppm = 1\ndrawdown_window = 1\ndrawdown_mode = "trigger"'),
     "layers[0].drawdown_mode", "final resort must be 'adl'"),
    ("lifetime cap on a clearing layer", lambda t: t.replace(
        "[final]", '[[layers]]\nname = "df"\nkind = "default_fund"\nlifetime_cap = 5\n\n[final]'),
     "layers[1].lifetime_cap", "only a balance layer"),
    ("isolated on a per-market layer", lambda t: t.replace("reserve = 1", 'reserve = 1\nscope = "market"\nisolated = ["X"]'),
     "layers[0].isolated", "per-market layer"),
    ("assessment period on a balance layer", lambda t: t.replace("reserve = 1", "reserve = 1\nassessment_period = 5"),
     "layers[0].assessment_period", "only an assessment layer"),
    ("window gain without window", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\nprofit = "window_gain"'),
     "final.window", "needs a window"),
    ("window without its use", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\nwindow = 60'),
     "final.window", "needs profit 'window_gain'"),
    ("takeover cap without fund first", lambda t: t[:t.index("[final]")] + ADL_FINAL + "takeover_cap_ppm = 1\n",
     "final.takeover_cap_ppm", "fund_first"),
    ("margin-ratio check without skipping", lambda t: t[:t.index("[final]")] + ADL_FINAL + 'collateral_check = "margin_ratio"\n',
     "final.collateral_check", "skip_insolvent"),
    ("per-fill pricing at mark", lambda t: t[:t.index("[final]")] + ADL_FINAL + 'pricing = "per_fill"\nclose_price = "mark"\n',
     "final.pricing", "bankruptcy"),
    ("step key without step_ppm", lambda t: t.replace("fee_ppm = 5000", "fee_ppm = 5000\nstep_cooldown = 30"),
     "liquidation.step_cooldown", "step_ppm"),
    ("pool floor above trigger", lambda t: t[:t.index("[final]")] + '[final]\npolicy = "pool"\nadl_trigger_ppm = 5\nadl_floor_ppm = 6\n',
     "final.adl_floor_ppm", "must not exceed"),
    ("unknown drawdown mode", lambda t: t.replace("reserve = 1", 'reserve = 1\ndrawdown_mode = "sometimes"'),
     "layers[0].drawdown_mode", "is not one of"),
    ("negative window", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\nwindow = -1'),
     "final.window", "out of range"),
    # R-WF-11 / R-WF-12 / R-WF-13 / R-CH-5 / R-HC-10 / R-HC-11 / R-WH-4 (issue 19)
    # R-WF-14 (issue 19, second pass): a drawdown per market needs a drawdown rule on one shared pool
    ("drawdown per market without a drawdown rule", lambda t: t.replace("reserve = 1", 'reserve = 1\ndrawdown_by = "market"'),
     "layers[0].drawdown_ppm", "drawdown_by without drawdown_ppm"),
    ("drawdown per market on a per-market layer", lambda t: t.replace(
        "reserve = 1", 'reserve = 1\nscope = "market"\ndrawdown_ppm = 1\ndrawdown_window = 1\ndrawdown_by = "market"'),
     "layers[0].drawdown_by", "one shared pool"),
    ("drawdown per market with settlement currencies", lambda t: t.replace(
        "reserve = 1", 'reserve = 1\nsettlement = { M = "BTC" }\ndrawdown_ppm = 1\ndrawdown_window = 1\ndrawdown_by = "market"'),
     "layers[0].drawdown_by", "without settlement currencies"),
    ("unknown drawdown scope", lambda t: t.replace(
        "reserve = 1", 'reserve = 1\ndrawdown_ppm = 1\ndrawdown_window = 1\ndrawdown_by = "symbol"'),
     "layers[0].drawdown_by", "is not one of"),
    ("drawdown per market on a clearing layer", lambda t: t.replace(
        "[final]", '[[layers]]\nname = "df"\nkind = "default_fund"\ndrawdown_by = "market"\n\n[final]'),
     "layers[1].drawdown_by", "does not apply"),
    ("cumulative takeover without a takeover cap", lambda t: t[:t.index("[final]")] + ADL_FINAL
     + "fund_first = true\ntakeover_cumulative = true\n", "final.takeover_cumulative", "set takeover_cap_ppm"),
    ("cumulative takeover not a boolean", lambda t: t[:t.index("[final]")] + ADL_FINAL
     + "fund_first = true\ntakeover_cap_ppm = 1\ntakeover_cumulative = 1\n", "final.takeover_cumulative", "boolean"),
    ("settlement currencies on a per-market layer", lambda t: t.replace(
        "reserve = 1", 'reserve = 1\nscope = "market"\nsettlement = { M = "BTC" }'), "layers[0].settlement", "global layer"),
    ("residue sink that pays nothing", lambda t: t.replace("reserve = 1", "reserve = 1\npays = false").replace(
        'residue_sink = "bad_debt"', 'residue_sink = "insurance_fund"'), "final.residue_sink", "pays nothing"),
    ("warming first without a window", lambda t: t[:t.index("[final]")] + '[final]\npolicy = "withdrawal_haircut"\nwarming_first = true\n',
     "final.warming_first", "set a window"),
    # R-WH-6 (issue 19b): the part of a recomputed charge beyond the records goes to the surplus sink
    ("recompute without a balance sink", lambda t: t[:t.index("[final]")].replace('surplus = "fee"\nfee_ppm = 5000', 'surplus = "none"')
     .replace('surplus_sink = "insurance_fund"', 'surplus_sink = "nowhere"') + '[final]\npolicy = "withdrawal_haircut"\nrecompute = true\n',
     "liquidation.surplus_sink", "R-WH-6"),
    ("alongside a layer that pays", lambda t: t.replace(
        "[final]", '[[layers]]\nname = "df"\nkind = "default_fund"\nalongside = "insurance_fund"\n\n[final]'),
     "layers[1].alongside", "pays = false"),
    ("after-ADL layer without ADL", lambda t: t.replace("reserve = 1", "reserve = 1\nafter_adl = true"),
     "layers[0].after_adl", "final resort 'adl'"),
    ("after-ADL layer before another", lambda t: backstop_then_fund(t),
     "layers[1].after_adl", "after every other layer"),
    ("pays on a clearing layer", lambda t: t.replace(
        "[final]", '[[layers]]\nname = "df"\nkind = "default_fund"\npays = false\n\n[final]'),
     "layers[1].pays", "does not apply"),
    ("queue order without a queue", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\nqueue_order = "leverage_profit"'),
     "final.queue_order", "order = 'queue'"),
    ("priority order without its list", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\norder = "queue"\nqueue_order = "priority"'),
     "final.priority", "needs a priority list"),
    ("priority list without its order", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\norder = "queue"\npriority = ["a"]'),
     "final.priority", "needs queue_order 'priority'"),
    ("per-account caps on a queue", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\norder = "queue"\naccount_caps = { a = 5 }'),
     "final.order", "no per-account cap"),
    # R-WF-15 (issue 19c): the layers per market need the levy per market and balance layers only
    ("layers per market without the levy per market", lambda t: t[:t.index("[final]")]
     + '[final]\npolicy = "levy"\nlayers_per_market = true\n', "final.layers_per_market", "set per_market = true"),
    ("layers per market with a clearing layer", lambda t: t[:t.index("[final]")] + '[[layers]]\nname = "df"\nkind = "default_fund"\n\n'
     + '[final]\npolicy = "levy"\nper_market = true\nlayers_per_market = true\n', "final.layers_per_market", "only balance layers"),
    ("layers per market not a boolean", lambda t: t[:t.index("[final]")]
     + '[final]\npolicy = "levy"\nper_market = true\nlayers_per_market = 1\n', "final.layers_per_market", "boolean"),
    ("per-account cap above 100 %", lambda t: t.replace('policy = "haircut"', 'policy = "haircut"\naccount_caps = { a = 1000001 }'),
     "final.account_caps.a", "1000000"),
]


@pytest.mark.parametrize("label, edit, key, words", REFINEMENTS, ids=[r[0] for r in REFINEMENTS])
def test_R_MECH_3_keys_that_only_mean_something_together_name_file_and_key(tmp_path: Path, label: str, edit, key: str,
                                                                           words: str) -> None:
    p = write(tmp_path, edit(MECH))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert info.value.where["key"] == key, (label, str(info.value))
    assert str(p) in str(info.value) and words in str(info.value), (label, str(info.value))


def test_R_MECH_3_the_refinements_load_when_complete(tmp_path: Path) -> None:
    text = MECH.replace("reserve = 1", "reserve = 1\ndrawdown_ppm = 300000\ndrawdown_window = 28800\nlifetime_cap = 9")
    text = text.replace('policy = "haircut"', 'policy = "haircut"\nprofit = "window_gain"\nwindow = 86400\nexempt = ["amm"]')
    m = load_mechanism(write(tmp_path, text))
    assert m.layers[0].drawdown_ppm == 300_000 and m.final.window == 86_400 and m.final.exempt == ("amm",)
