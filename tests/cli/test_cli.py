"""CLI ergonomics (R-CLI-1..5): --version, closest-match suggestions, every problem listed,
width-aware tables, no Python reprs, --json that is JSON wherever it is offered, JUnit and
SARIF for verify and prove."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from waterfall import __version__
from waterfall.model.loader import catalogue
from waterfall.cli.main import main, parser
from waterfall.report.ledger import table
from waterfall.spec import FINDINGS_DIR

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "docs/examples/node-generic/waterfall-node.mjs"
ADAPTER = f"{sys.executable} -m waterfall.conformance.adapter"


def test_R_CLI_1_version_names_the_engines(capsys) -> None:
    assert main(["--version"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"loss-waterfall {__version__} (import name waterfall; waterfall-spec/1; Python ")
    assert re.search(r"z3-solver \d", line) and re.search(r"hypothesis \d", line) and "\n" not in line


def test_R_PKG_3_a_clashing_waterfall_distribution_is_named_with_the_fix(capsys, monkeypatch) -> None:
    from importlib.metadata import PackageNotFoundError

    from waterfall.cli import about

    class Other:
        version = "0.3.4"
        metadata = {"Summary": "Scalable Framework for Robust Text Watermarking and Provenance for LLMs"}

    def fake(name: str) -> Other:
        if name == "waterfall":
            return Other()
        raise PackageNotFoundError(name)

    assert main(["mechanisms"]) == 0 and "W-CLASH" not in capsys.readouterr().err
    monkeypatch.setattr(about, "distribution", fake)
    assert main(["mechanisms"]) == 0
    err = capsys.readouterr().err
    assert "[W-CLASH]: waterfall 0.3.4 is also installed" in err and "pip uninstall -y waterfall" in err
    assert main(["--version"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("loss-waterfall ") and "W-CLASH" in out.err


@pytest.mark.parametrize("argv, expected", [
    (["mechanisms", "drift-v3"], "[E-MECHANISM]: no mechanism 'drift-v3': not a catalogue id nor a file (did you mean 'drift-v2'?)"),
    (["run", "fund-emty"], "[E-SCENARIO]: no scenario 'fund-emty': not a file nor a bundled scenario (did you mean 'fund-empty'?)"),
    (["prove", "--invariant", "I-NONEG", "--mechanism", "deribit"], "[E-INVARIANT]: unknown invariant 'I-NONEG' (did you mean 'I-NONNEG'?)"),
    (["verify", "--mechanism", "bitmex"], "(did you mean 'bitmex-adl'?)"),
])
def test_R_CLI_2_a_mistyped_id_gets_the_closest_one(argv: list[str], expected: str, capsys) -> None:
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_R_CLI_2_invariant_ids_are_case_insensitive(capsys) -> None:
    assert main(["prove", "--mechanism", "generic-socialized-loss", "--invariant", "i-cons", "--accounts", "2",
                 "--markets", "1", "--operation", "deposit", "--no-all-n", "--jobs", "1", "--json"]) == 0
    (v,) = json.loads(capsys.readouterr().out)["verdicts"]
    assert v["invariant"] == "I-CONS" and v["kind"] == "PROVED N<=k"


def test_R_CLI_3_every_problem_of_a_file_is_listed(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('format = "waterfall-mechanism"\nversion = 2\nid = "Bad Id"\nname = ""\nfamily = "nope"\n'
                   "claims = [1]\n[source]\nreferences = []\n[final]\npolicy = \"haircut\"\n")
    assert main(["mechanisms", str(bad)]) == 2
    err = capsys.readouterr().err
    keys = ["claims[0]", "family", "id", "name", "source.references", "version"]
    assert "(and 5 more problems:)" in err
    for key in keys:
        assert f"key {key}: " in err
    assert len(err.strip().splitlines()) == 6


def test_R_CLI_4_tables_fit_the_terminal_width() -> None:
    rows = [["drift-v2"] + ["PROVED N<=8 (1.0s)"] * 6]
    head = ["mechanism"] + [f"I-{i}" for i in range(6)]
    narrow = table(rows, head, width=60)
    assert all(len(line) <= 60 for line in narrow.splitlines())
    assert narrow.count("mechanism") == 3 and narrow.count("drift-v2") == 3  # three blocks, first column repeated
    assert table(rows, head, width=None).count("\n") == 2  # a pipe keeps whole lines


def test_R_CLI_4_tables_follow_COLUMNS_when_not_a_terminal(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["verify", "--mechanism", "drift-v2"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines() if " scenarios. ok = " not in line) <= 80  # the legend wraps


def test_R_CLI_4_no_python_reprs_in_run_output(capsys) -> None:
    assert main(["run", str(FINDINGS_DIR / "drift-v2-I-NONNEG-2aa24cb7.json")]) == 0
    out = capsys.readouterr().out
    assert "fills=M0@49" in out and "{'" not in out and "['" not in out and "('" not in out


JSON_COMMANDS = {  # every subcommand offering --json, shortened
    "run": ["run", "fund-empty"],
    "mechanisms": ["mechanisms"],
    "verify": ["verify", "--mechanism", "deribit"],
    "fuzz": ["fuzz", "--mechanism", "generic-socialized-loss", "--examples", "3"],
    "prove": ["prove", "--mechanism", "deribit", "--invariant", "I-CONS", "--accounts", "2", "--markets", "1",
              "--operation", "deposit", "--no-all-n", "--jobs", "1"],
    "crosshair": ["crosshair", "--function", "waterfall.model.layers.clip", "--per-condition-timeout", "1"],
    "diff": ["diff", "deribit", "capped-pro-rata", "--seconds", "2"],
    "conform": ["conform", "--impl", ADAPTER, "--mechanism", "deribit", "--filter", "op-deposit"],
    "conform --fuzz": ["conform", "--impl", ADAPTER, "--mechanism", "generic-socialized-loss", "--fuzz", "3",
                       "--seed", "1"],
    "compare": ["compare", "fund-empty", "--mechanisms", "deribit"],
    "replay": ["replay", str(FINDINGS_DIR / "drift-v2-I-NONNEG-2aa24cb7.json")],
}


def offering_json() -> set[str]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name for name, p in sub.choices.items() if any("--json" in a.option_strings for a in p._actions)}


def test_R_CLI_5_every_json_option_is_tested_below() -> None:
    assert offering_json() == {k.split()[0] for k in JSON_COMMANDS}


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_R_CLI_5_json_output_is_json(name: str, capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # conform --fuzz and fuzz save what they find here
    code = main(JSON_COMMANDS[name] + ["--json"])
    out = capsys.readouterr().out
    assert code == (1 if name == "diff" else 0), out  # diff exits 1: the two final resorts differ
    json.loads(out)


def test_R_CLI_5_verify_and_prove_write_junit_and_sarif(tmp_path: Path) -> None:
    claims = Path(catalogue()["drift-v2"]).read_text().replace("claims = [", 'claims = ["I-NONNEG", ', 1)
    mech = tmp_path / "drift-claims.toml"
    mech.write_text(claims.replace('id = "drift-v2"', 'id = "drift-claims"'))
    assert main(["verify", "--mechanism", str(mech), "--junit", str(tmp_path / "v.xml"),
                 "--sarif", str(tmp_path / "v.sarif")]) == 1
    cases = list(ET.parse(tmp_path / "v.xml").getroot().iter("testcase"))
    assert [c.get("name") for c in cases if c.find("failure") is not None] == ["I-NONNEG"]
    (result,) = json.loads((tmp_path / "v.sarif").read_text())["runs"][0]["results"]
    assert result["ruleId"] == "I-NONNEG" and "scenario " in result["message"]["text"]
    assert main(["prove", "--mechanism", str(mech), "--invariant", "I-NONNEG", "--invariant", "I-CONS",
                 "--accounts", "2", "--markets", "1", "--operation", "liquidate", "--no-all-n", "--jobs", "1",
                 "--junit", str(tmp_path / "p.xml"),
                 "--sarif", str(tmp_path / "p.sarif")]) == 1
    cases = list(ET.parse(tmp_path / "p.xml").getroot().iter("testcase"))
    assert {c.get("name"): c.find("failure") is not None for c in cases} == {"I-NONNEG": True, "I-CONS": False}
    assert [r["ruleId"] for r in json.loads((tmp_path / "p.sarif").read_text())["runs"][0]["results"]] == ["I-NONNEG"]


def test_R_RUN_3_verify_with_a_mechanism_file_accepts_scenarios_naming_its_id(tmp_path: Path, capsys) -> None:
    mech = tmp_path / "mine.toml"
    mech.write_text(Path(catalogue()["deribit"]).read_text().replace('id = "deribit"', 'id = "mine"'))
    doc = json.loads((FINDINGS_DIR.parent / "scenarios" / "fund-empty.json").read_text())
    doc["mechanism"] = "mine"
    doc.pop("expect", None)
    (tmp_path / "sc").mkdir()
    (tmp_path / "sc" / "s.json").write_text(json.dumps(doc))
    assert main(["verify", "--mechanism", str(mech), "--scenarios", str(tmp_path / "sc")]) == 0
