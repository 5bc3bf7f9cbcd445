"""Issue 13 §5, in CI: a bounded subset of the hostile inputs of tests/hostile.py (one input
of every class through the first command that reads it, and the worst cases of the issue),
each run as a subprocess with a time bound: exit 2 with a typed error naming the file, key
or option, no traceback, no hang, no raw control character, nothing written. The full set
(every input through every command, totals) is `make hostile`."""
from __future__ import annotations

from pathlib import Path

import pytest

import hostile

INPUTS = hostile.all_inputs()
WORST = ("mech float fee_ppm=5000.0", "mech float fee_ppm=1e9", "mech FIFO", "mech /dev/zero", "mech too many layers",
         "mech cap_per_event on a default_fund layer", "scen repeated key", "prove --accounts '100000'",
         "fuzz --seconds 'nan'", "fuzz --steps '-1'", "conform --impl unbalanced quote", "vectors --out is a file",
         "scen FIFO", "scen nested too deeply", "mech id with escape")


def subset() -> list[tuple[hostile.Hostile, list[str]]]:
    """The first input of every class, and the worst cases, each with its first command."""
    chosen, classes = [], set()
    for h in INPUTS:
        if h.cls not in classes or h.name in WORST:
            classes.add(h.cls)
            chosen.append((h, h.commands[0]))
    return chosen


def test_the_hostile_set_has_at_least_200_inputs() -> None:
    assert len(INPUTS) >= 200 and len({h.name for h in INPUTS}) == len(INPUTS)
    assert sum(len(h.commands) for h in INPUTS) >= 600


@pytest.mark.parametrize("h, argv", subset(), ids=lambda x: x.name if isinstance(x, hostile.Hostile) else "")
def test_a_hostile_input_is_refused_cleanly(tmp_path: Path, h: hostile.Hostile, argv: list[str]) -> None:
    run = hostile.run_one(h, argv, tmp_path)
    assert run.problems == [] and run.code in h.codes, (run.argv, run.problems)


def test_the_float_mechanism_file_is_refused_by_run_and_prove(tmp_path: Path) -> None:
    h = next(h for h in INPUTS if h.name == "mech float fee_ppm=5000.0")
    for argv in (h.commands[1], ["prove", "--mechanism", "{f}", "--no-all-n", "--accounts", "2"]):
        run = hostile.run_one(h, argv, tmp_path)
        assert run.code == 2 and run.problems == [], (run.argv, run.problems)


def test_R_CLI_7_a_control_character_in_a_name_is_shown_escaped(tmp_path: Path) -> None:
    """A valid mechanism whose free-text name carries escape sequences (clear screen, set the
    window title, reverse the text): shown as \\uXXXX, never sent raw."""
    import subprocess
    import sys
    p = tmp_path / "m.toml"
    p.write_text(hostile.MECH.replace('name = "Generic', 'name = "\\u001b[2J\\u001b]0;owned\\u0007\\u202eGeneric'))
    out = subprocess.run([sys.executable, "-m", "waterfall.cli.main", "mechanisms", str(p)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "\\u001b[2J\\u001b]0;owned\\u0007\\u202eGeneric" in out.stdout
    assert not hostile.RAW_CONTROL.search(out.stdout.replace("\n", "")) and "\u202e" not in out.stdout
