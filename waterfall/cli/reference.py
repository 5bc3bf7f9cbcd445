"""The command-line reference page, generated from the argument parser itself (R-DOC-1), so
it cannot drift from `waterfall --help`: docs/hooks.py writes it into the site as
docs/cli.md."""
from __future__ import annotations

import argparse

from waterfall.cli.main import parser


def subcommands(p: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Each subcommand's parser and its one-line help, in registration order."""
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in action._choices_actions}
    return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}


FALLBACK = {"json": "print one JSON document instead of text"}  # options registered without a help text


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def option_rows(p: argparse.ArgumentParser) -> list[str]:
    """One table row per argument: name(s), value, default, meaning."""
    rows = []
    for a in p._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        names = cell(", ".join(f"`{s}`" for s in a.option_strings) or f"`{a.metavar or a.dest}`")
        takes = a.nargs != 0 and a.option_strings
        value = f"`{a.metavar or a.dest.upper()}`" if takes else ""
        if a.choices and not isinstance(a, argparse._SubParsersAction):
            value = " \\| ".join(f"`{c}`" for c in a.choices)
        default = "" if a.default in (None, False, argparse.SUPPRESS) or not a.option_strings else f"`{a.default}`"
        text = cell(a.help % vars(a)) if a.help else FALLBACK.get(a.dest, "")
        repeat = " (repeatable)" if isinstance(a, argparse._AppendAction) and "repeatable" not in text else ""
        required = " **required**" if a.required and a.option_strings else ""
        rows.append(f"| {names} | {value} | {default} | {text}{repeat}{required} |")
    return rows


def markdown() -> str:
    """The whole reference page."""
    p = parser()
    subs = subcommands(p)
    out = ["# Command-line reference (generated)", "",
           "Generated from the argument parser of `waterfall` (`waterfall/cli/main.py`) when the site is built; "
           "`waterfall COMMAND --help` prints the same. Exit codes: `0` success, `1` a finding (a claimed "
           "invariant violated or refuted, an expectation missed, a crash), `2` bad input (a typed error "
           "naming the file, key or id, with the closest known id), `3` (`prove`, `report`) a claimed "
           "invariant left undecided.", "",
           "| command | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#{name}) | {cell(h)} |" for name, (_, h) in subs.items()]
    out += ["", "Global options: `--version` prints the versions of waterfall and of its engines; "
            "`-h`, `--help` the usage.", ""]
    for name, (sub, h) in subs.items():
        usage = " ".join(sub.format_usage().split()).removeprefix("usage: ")
        out += [f"## {name}", "", cell(h) + ".", "", "```text", usage, "```", "",
                "| argument | value | default | meaning |", "|---|---|---|---|", *option_rows(sub), ""]
    return "\n".join(out)
