"""`waterfall init` (R-MECH-4) and the mechanism schema's descriptions (R-MECH-1): a designer
starts from a commented file that loads as is and behaves as its catalogue family."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from waterfall.model.loader import LAYER_KEY_KINDS, catalogue, load_mechanism
from waterfall.cli.main import main
from waterfall.cli.init import FAMILIES, SCHEMA_FILE
from waterfall.spec import SCHEMAS_DIR

SCHEMA = json.loads((SCHEMAS_DIR / "mechanism.schema.json").read_text())


def undescribed(node: object, path: str = "") -> list[str]:
    """Every property of the schema (nested, per final policy) without a description."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.get("properties", {}).items():
            if isinstance(v, dict):
                if not v.get("description"):
                    out.append(f"{path}.{k}")
                out += undescribed(v, f"{path}.{k}")
        for k in ("items", "then"):
            out += undescribed(node.get(k), path)
        for branch in node.get("allOf", []):
            out += undescribed(branch, path)
    return out


def test_R_MECH_1_every_key_of_the_mechanism_schema_has_a_description() -> None:
    assert undescribed(SCHEMA) == []
    assert SCHEMA["$id"] == "urn:waterfall:schema:mechanism:1" and "example" not in SCHEMA["$id"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_R_MECH_4_init_writes_a_file_that_behaves_as_its_family(family: str, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "designs" / "my-venue.toml"
    assert main(["init", str(dest), "--family", family]) == 0
    assert f"wrote {dest}: my-venue" in capsys.readouterr().out
    mine, base = load_mechanism(dest), load_mechanism(catalogue()[FAMILIES[family][0]])
    assert mine.id == "my-venue"
    assert (mine.liquidation, mine.layers, mine.final, mine.claims) == \
           (base.liquidation, base.layers, base.final, base.claims)
    text = dest.read_text()
    first = text.splitlines()[0]
    assert first.startswith("#:schema ") and (dest.parent / first.split(" ", 1)[1]).resolve() == SCHEMA_FILE.resolve()
    # every key that applies is there with its schema description above it; a key that does
    # not apply where it would be written (R-MECH-2) is left out, or the file would not load
    assert "# Loss-absorbing layers in seniority order" in text
    assert ("\nfee_ppm = " in text) == (mine.liquidation.surplus == "fee")
    layers_text = text.split("\n[final]")[0]
    for k, kinds in LAYER_KEY_KINDS.items():
        assert (f"\n{k} = " in layers_text) == any(spec.kind in kinds for spec in mine.layers), k
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("#") and "#:schema" not in line)


def test_R_MECH_4_init_verifies_and_proves_like_the_catalogue(tmp_path: Path, capsys) -> None:
    dest = tmp_path / "my-levy.toml"
    assert main(["init", str(dest), "--family", "levy"]) == 0
    assert main(["verify", "--mechanism", str(dest), "--json"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["init", "x.toml", "--family", "levi"], "unknown family 'levi' (did you mean 'levy'?)"),
    (["init", "My_Venue.toml", "--family", "adl"], "the file's stem is the mechanism id"),
    (["init", "venue.json", "--family", "adl"], "a mechanism file ends in .toml"),
])
def test_R_MECH_4_init_bad_input(argv: list[str], message: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_R_MECH_4_init_never_overwrites_without_force(tmp_path: Path, capsys) -> None:
    dest = tmp_path / "mine.toml"
    dest.write_text("keep me")
    assert main(["init", str(dest), "--family", "haircut"]) == 2
    assert dest.read_text() == "keep me"
    assert main(["init", str(dest), "--family", "haircut", "--force"]) == 0
    assert load_mechanism(dest).id == "mine"
    capsys.readouterr()
