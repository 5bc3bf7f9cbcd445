"""Results in the formats CI systems show (R-REPORT-4): JUnit XML for `verify`, `prove` and
`report` (one testcase per mechanism and invariant), SARIF 2.1.0 for claimed violations
(one result per claimed invariant refuted, located at the claim in the mechanism file).

Both are written from `Cell`s: (mechanism, invariant, claimed, category, text, message),
the shape every command's verdicts reduce to (waterfall/report/categories.py).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from xml.etree import ElementTree as ET

from waterfall import __version__
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.report import categories as C

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class Cell:
    """One (mechanism, invariant) outcome of any command."""

    mechanism: str
    invariant: str
    claimed: bool
    category: str
    text: str
    message: str = ""
    seconds: float = 0.0


def verdict_cells(verdicts: Iterable[Any]) -> list[Cell]:
    """Prover verdicts (proofs/verdict.py) as cells; an all-N verdict's mechanism is its family."""
    return [Cell(v.mechanism if v.accounts is not None or v.mechanism != "*" else "all N", v.invariant, v.claimed,
                 C.of_verdict(v), v.short(), v.reason, v.seconds) for v in verdicts]


def junit(cells: Iterable[Cell], name: str, extra_failures: Iterable[tuple[str, str, str]] = ()) -> str:
    """JUnit XML: a testsuite per mechanism, a testcase per invariant. A claimed invariant
    refuted or a sanity failure is a <failure>, a claimed one left undecided an <error>,
    a cell that does not apply <skipped>; an unclaimed property passes with its verdict in
    <system-out>. `extra_failures`: (mechanism, name, message) such as crashes."""
    suites: dict[str, ET.Element] = {}
    root = ET.Element("testsuites", name=name)

    def suite(mech: str) -> ET.Element:
        if mech not in suites:
            suites[mech] = ET.SubElement(root, "testsuite", name=f"{name}: {mech}")
        return suites[mech]

    for c in cells:
        case = ET.SubElement(suite(c.mechanism), "testcase", classname=c.mechanism, name=c.invariant,
                             time=f"{c.seconds:.3f}")
        detail = f"{c.text}\n{c.message}".strip()
        if c.category in (C.BROKEN, C.SANITY) and (c.claimed or c.category == C.SANITY):
            ET.SubElement(case, "failure", message=f"{c.invariant} {c.text}", type=c.category).text = detail
        elif c.category == C.UNDECIDED and c.claimed:
            ET.SubElement(case, "error", message=f"{c.invariant} undecided: {c.text}", type=c.category).text = detail
        elif c.category == C.NA:
            ET.SubElement(case, "skipped", message=c.text)
        else:
            ET.SubElement(case, "system-out").text = detail + ("" if c.claimed else " (not claimed)")
    for mech, case_name, message in extra_failures:
        case = ET.SubElement(suite(mech), "testcase", classname=mech, name=case_name)
        ET.SubElement(case, "failure", message=message, type="finding").text = message
    for s in suites.values():
        cases = s.findall("testcase")
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        s.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        s.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def claim_line(path: str, invariant: str) -> int:
    """The line of the mechanism file that claims `invariant` (1 if not found)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return 1
    return next((n for n, line in enumerate(lines, 1) if f'"{invariant}"' in line), 1)


def artifact_uri(path: str) -> str:
    """A path relative to the working directory when it lies under it, else a file URI."""
    p = Path(path).resolve()
    try:
        return p.relative_to(Path(os.getcwd()).resolve()).as_posix()
    except ValueError:
        return p.as_uri()


def sarif(cells: Iterable[Cell], mechanisms: Iterable[Mechanism], command: str) -> dict[str, Any]:
    """SARIF 2.1.0: one result per claimed invariant refuted (level error), at the line of
    the mechanism file that claims it; the invariants are the rules."""
    paths = {m.id: m.path for m in mechanisms}
    results = []
    for c in cells:
        if not (c.claimed and c.category == C.BROKEN):
            continue
        path = paths.get(c.mechanism) or c.mechanism
        results.append({
            "ruleId": c.invariant, "level": "error",
            "message": {"text": f"{c.mechanism} claims {c.invariant} and it is refuted: {c.text}. {c.message}".strip()},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)},
                                                "region": {"startLine": claim_line(path, c.invariant)}}}],
        })
    rules = [{"id": i.id, "name": i.name, "shortDescription": {"text": i.statement}, "help": {"text": i.why}}
             for i in list(REGISTRY.values()) + list(RELATIONS.values())]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "waterfall", "version": __version__, "rules": rules}},
                      "invocations": [{"commandLine": command, "executionSuccessful": True}],
                      "results": results}]}


def write(args: Any, cells: list[Cell], mechanisms: list[Mechanism], command: str,
          extra_failures: Iterable[tuple[str, str, str]] = ()) -> None:
    """Write --junit FILE and --sarif FILE when the command was given them (missing parent
    folders created: the paths were checked at parse time, R-CLI-6)."""
    for name in ("junit", "sarif"):
        if getattr(args, name, None):
            Path(getattr(args, name)).parent.mkdir(parents=True, exist_ok=True)
    if getattr(args, "junit", None):
        Path(args.junit).write_text(junit(cells, command.split()[0:2][-1], extra_failures), encoding="utf-8")
    if getattr(args, "sarif", None):
        Path(args.sarif).write_text(json.dumps(sarif(cells, mechanisms, command), indent=2) + "\n", encoding="utf-8")
