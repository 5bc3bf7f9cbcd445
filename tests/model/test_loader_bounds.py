"""R-FMT-5 and R-MECH-2 hardening of the loaders: regular bounded files, no repeated JSON key,
no float where an integer is meant, kind-specific layer keys only on their kind, bounded counts.
Each bad input raises the typed error naming the file and the key."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from waterfall.model import loader
from waterfall.model.errors import MechanismError, ScenarioError
from waterfall.model.loader import load_mechanism, load_scenario, mechanism_from_doc
from waterfall.spec import MECHANISMS_DIR, SCENARIOS_DIR

GENERIC = (MECHANISMS_DIR / "generic-socialized-loss.toml").read_text()
CCP = (MECHANISMS_DIR / "clearing-house-vmgh.toml").read_text()


def where(e: Exception) -> dict[str, str]:
    """The error's location, as strings."""
    return {k: str(v) for k, v in e.where.items()}  # type: ignore[attr-defined]


def write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("value", ["5000.0", "5e3", "5.0e3", "inf", "nan"])
def test_R_FMT_5_a_float_in_a_mechanism_file_is_refused_whatever_its_value(tmp_path: Path, value: str) -> None:
    p = write(tmp_path, GENERIC.replace("fee_ppm = 5000", f"fee_ppm = {value}"))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert where(info.value) == {"file": str(p), "key": "liquidation.fee_ppm"}
    assert "not an integer" in str(info.value)


def test_R_FMT_5_a_float_in_a_mechanism_document_from_json_is_refused() -> None:
    doc = {"format": "waterfall-mechanism", "version": 1, "id": "x", "name": "x", "source": {"references": ["t"]},
           "layers": [{"name": "f", "reserve": 1e9}], "final": {"policy": "bad_debt"}}
    with pytest.raises(MechanismError) as info:
        mechanism_from_doc(doc, "<doc>")
    assert where(info.value)["key"] == "layers[0].reserve"


def test_R_FMT_5_a_repeated_json_key_and_a_json_float_are_refused(tmp_path: Path) -> None:
    text = (SCENARIOS_DIR / "fund-empty.json").read_text()
    p = write(tmp_path, text.replace('"format": "waterfall-scenario",', '"format": "waterfall-scenario", "format": "x",', 1),
              "s.json")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert where(info.value) == {"file": str(p), "key": "format"}
    p = write(tmp_path, text.replace('"version": 1', '"version": 1.0', 1), "t.json")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert where(info.value) == {"file": str(p), "key": "version"}
    p = write(tmp_path, text.replace('"version": 1', '"version": NaN', 1), "u.json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(p)


@pytest.mark.parametrize("layer, key", [
    ('name = "df"\nkind = "default_fund"\ncap_per_event = 1', "cap_per_event"),
    ('name = "df"\nkind = "default_fund"\nreserve = 1', "reserve"),
    ('name = "df"\nkind = "default_fund"\nscope = "market"', "scope"),
    ('name = "f2"\nkind = "balance"\nrounding = "floor"', "rounding"),
    ('name = "f2"\nassessment_multiple_ppm = 5', "assessment_multiple_ppm"),
])
def test_R_MECH_2_a_layer_key_of_another_kind_is_refused(tmp_path: Path, layer: str, key: str) -> None:
    p = write(tmp_path, GENERIC + f"\n[[layers]]\n{layer}\n")
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert where(info.value) == {"file": str(p), "key": f"layers[1].{key}"}
    assert "does not apply" in str(info.value)


def test_R_MECH_2_fee_ppm_without_a_fee_surplus_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, GENERIC.replace('surplus = "fee"', 'surplus = "all"'))
    with pytest.raises(MechanismError) as info:
        load_mechanism(p)
    assert where(info.value) == {"file": str(p), "key": "liquidation.fee_ppm"}


def test_R_MECH_2_every_catalogue_file_still_loads() -> None:
    for p in sorted(MECHANISMS_DIR.glob("*.toml")):
        load_mechanism(p)
    assert [s.kind for s in load_mechanism(MECHANISMS_DIR / "clearing-house-vmgh.toml").layers][3] == "default_fund"


def test_R_FMT_5_only_regular_files_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "m.toml"
    os.mkfifo(fifo)
    with pytest.raises(MechanismError, match="not a regular file .a FIFO."):
        load_mechanism(fifo)  # would block in open() without O_NONBLOCK
    with pytest.raises(MechanismError, match="character device"):
        load_mechanism("/dev/zero")  # would fill the memory
    with pytest.raises(ScenarioError, match="a directory"):
        load_scenario(tmp_path)


def test_R_FMT_5_a_file_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(loader.read_bytes, "__defaults__", (100,))
    p = write(tmp_path, "#" * 101 + "\n")
    with pytest.raises(MechanismError, match="more than the limit of 100"):
        load_mechanism(p)


def test_R_FMT_5_counts_are_bounded_with_the_key_named(tmp_path: Path) -> None:
    many = GENERIC + "".join(f'\n[[layers]]\nname = "l{i}"\n' for i in range(loader.MAX_LAYERS))
    with pytest.raises(MechanismError) as info:
        load_mechanism(write(tmp_path, many))
    assert where(info.value)["key"] == "layers" and "limit of 32" in str(info.value)
    doc = json.loads((SCENARIOS_DIR / "fund-empty.json").read_text())
    for key, make, limit in [
        ("state.accounts", lambda i: {"id": f"x{i}", "collateral": "0"}, loader.MAX_ACCOUNTS),
        ("state.markets", lambda i: {"id": f"M{i}", "mark": "1", "im_ppm": "0", "mm_ppm": "0"}, loader.MAX_MARKETS),
        ("ops", lambda i: {"op": "set_mark", "market": "BTC", "price": "1"}, loader.MAX_OPS),
    ]:
        bad = json.loads(json.dumps(doc))
        parent = bad["state"] if key.startswith("state.") else bad
        parent[key.split(".")[-1]] = [make(i) for i in range(limit + 1)]
        with pytest.raises(ScenarioError) as info:
            load_scenario(write(tmp_path, json.dumps(bad), "s.json"))
        assert where(info.value)["key"] == key, key
