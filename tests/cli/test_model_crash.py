"""Issue 21: a crash of the model (an exception other than a typed refusal) is a finding of
I-VALID with its scenario kept, in `run` (text and --json) and in `fuzz` (shrunk and saved),
never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from waterfall.cli.main import main
from waterfall.model import replay
from waterfall.model.ops import Liquidate

ROOT = Path(__file__).resolve().parents[2]
FUND_EMPTY = str(ROOT / "spec/scenarios/fund-empty.json")


def crashing_step(real):
    def step(state, op, mech):
        if isinstance(op, Liquidate):
            raise ZeroDivisionError("a planted crash")
        return real(state, op, mech)
    return step


def test_run_reports_a_model_crash_as_I_VALID(monkeypatch, capsys) -> None:
    monkeypatch.setattr(replay, "step", crashing_step(replay.step))
    assert main(["run", FUND_EMPTY]) == 1
    out = capsys.readouterr().out
    assert "the model crashed (ZeroDivisionError: a planted crash): I-VALID" in out
    assert "I-VALID VIOLATED (claimed)" in out
    assert main(["run", FUND_EMPTY, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [s.get("crash") for s in doc["steps"]][-1] == "ZeroDivisionError: a planted crash"
    assert {"invariant": "I-VALID", "step": len(doc["steps"]), "claimed": True} in doc["invariants"]


def test_the_codec_writes_an_odd_history_instead_of_raising() -> None:
    from waterfall.model.codec import state_to_json
    from waterfall.model.state import Market, State
    st = State({"M": Market("M", 1, 0, 0)}, {}, clock=5, history={"f": (1, 2, 3)})
    assert state_to_json(st)["layer_history"] == {"f": [["1", "2"], ["3"]]}


def crashing(module: str) -> str:
    """A script running the command line with `module`'s own `step` crashing on every liquidation."""
    return f"""
import sys
import {module} as target
from waterfall.model.ops import Liquidate
real = target.step
def step(state, op, mech):
    if isinstance(op, Liquidate):
        raise ZeroDivisionError("a planted crash")
    return real(state, op, mech)
target.step = step
from waterfall.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


FUZZ = crashing("waterfall.proofs.fuzz.machines")


def test_fuzz_reports_a_model_crash_as_I_VALID_and_saves_the_sequence(tmp_path: Path) -> None:
    script = tmp_path / "fuzz_crash.py"
    script.write_text(FUZZ)
    save = tmp_path / "found"
    run = subprocess.run([sys.executable, str(script), "fuzz", "--mechanism", "generic-socialized-loss",
                          "--examples", "200", "--save", str(save), "--database", str(tmp_path / "db")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "CLAIM VIOLATED: I-VALID" in run.stdout
    saved = list(save.glob("*.json"))
    assert len(saved) == 1 and "I-VALID" in saved[0].name
    doc = json.loads(saved[0].read_text())
    assert doc["ops"][-1]["op"] == "liquidate"  # the crashing operation is kept, last


CONFORM = crashing("waterfall.conformance.vectors")


def test_conform_fuzz_reports_a_model_crash_as_I_VALID_and_saves_the_scenario(tmp_path: Path) -> None:
    script = tmp_path / "conform_crash.py"
    script.write_text(CONFORM)
    save = tmp_path / "found"
    adapter = f"{sys.executable} -m waterfall.conformance.adapter"
    run = subprocess.run([sys.executable, str(script), "conform", "--impl", adapter, "--fuzz", "50", "--seed", "1",
                          "--mechanism", "generic-socialized-loss", "--save", str(save)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr and "I-VALID" in run.stderr
    saved = list(save.glob("*.json"))
    assert len(saved) == 1 and "I-VALID" in saved[0].name
