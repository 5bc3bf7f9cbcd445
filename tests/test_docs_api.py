"""The Python API page (docs/api.md, R-DOC-2) runs as written: its ```pycon blocks are one
notebook session, executed top to bottom by doctest; and the CLI reference page (R-DOC-1)
covers every subcommand and option of the parser."""
from __future__ import annotations

import argparse
import doctest
import re
from pathlib import Path

from waterfall.cli.main import parser
from waterfall.cli.reference import markdown, subcommands

ROOT = Path(__file__).resolve().parent.parent


def test_R_DOC_2_api_page_runs_as_a_notebook() -> None:
    text = (ROOT / "docs/api.md").read_text(encoding="utf-8")
    cells = re.findall(r"^```pycon\n(.*?)^```", text, re.S | re.M)
    assert len(cells) >= 5
    test = doctest.DocTestParser().get_doctest("\n".join(cells), {}, "docs/api.md", str(ROOT / "docs/api.md"), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test)
    assert result.failed == 0 and result.attempted >= 20, result


def test_R_DOC_2_a_wrong_output_on_the_page_would_fail() -> None:
    bad = doctest.DocTestParser().get_doctest(">>> from waterfall.model.state import value\n>>> 1 + 1\n3\n", {}, "x",
                                               "x", 0)
    assert doctest.DocTestRunner().run(bad, out=lambda _: None).failed == 1


def test_R_DOC_1_cli_reference_covers_every_command_and_option() -> None:
    page = markdown()
    for name, (sub, _) in subcommands(parser()).items():
        assert f"\n## {name}\n" in page and f"](#{name})" in page
        section = page.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            shown = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
            assert f"`{shown}`".replace("|", "\\|") in section, (name, shown)
    rows = [line for line in page.splitlines() if line.startswith("| `--")]
    assert all(line.count(" | ") == 3 for line in rows)  # four cells: no stray | in a row
