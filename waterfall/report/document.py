"""The audit report (R-REPORT-*): one JSON document (spec/schemas/report.schema.json),
rendered as Markdown and as static HTML (waterfall/report/render.py).

Per (mechanism, invariant) the strongest evidence on the ladder of docs/proofs.md:
COUNTEREXAMPLE (prove, then the fuzzer; replayed by the model) > a sanity failure of the
proof > PROVED N<=k M<=m (model.step, every path) > no violation found by Hypothesis (runs,
steps) > the verdict itself. The all-N results are statements about the rules, not about the
code: they are listed apart and are never a cell's evidence. Each cell has a category (waterfall/report/categories.py: proved,
claimed and broken, unclaimed property, undecided, not applicable, sanity failure) and a
link to its evidence; each counterexample is shown as a sequence (waterfall/report/trace.py), the
fuzzer's shrunk first within a time budget (proofs/fuzz/shrink.py), and saved as a scenario that
`waterfall replay` re-runs. A provenance block says what produced the report. Exact numbers
come from the engines' own results; nothing is re-derived here.
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from waterfall.model.loader import catalogue, load_scenario
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY, RELATIONS

from waterfall.report import categories as C
from waterfall.report import trace as T
from waterfall.proofs import verdict as V
from waterfall.report.provenance import tool, versions
from waterfall.report.trust import trust
from waterfall.report.ci_outputs import Cell
from waterfall.report.hints import replay_hint
from waterfall.proofs.fuzz.machines import Tally
from waterfall.proofs.fuzz.shrink import shrink
from waterfall.proofs.verdict import Verdict

FORMAT = "waterfall-report"


@dataclass
class Evidence:
    """Everything the report shows, gathered by the engines, and how it was gathered."""

    mechanisms: list[Mechanism]
    invariants: list[str]
    proofs: list[Verdict]
    all_n: list[Verdict]
    fuzz: dict[str, Tally]
    accounts: int
    markets: int = 1
    time_n: dict[str, list[tuple[int, float, str]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # timeout, fuzz runs, seeds, shrink budget
    shrink_seconds: float = 5.0
    operations: dict[str, Any] = field(default_factory=dict)  # paths explored per mechanism and operation


@dataclass
class CellView:
    """One matrix cell: its text, category, where its evidence is, and what it rests on."""

    mechanism: str
    invariant: str
    claimed: bool
    category: str
    text: str
    source: str                      # z3, hypothesis, all-n, none
    evidence: dict[str, Any]
    counterexample: str | None = None  # id of the counterexample section

    @property
    def anchor(self) -> str:
        return f"ev-{self.mechanism}-{self.invariant}"

    @property
    def href(self) -> str:
        return f"#{self.counterexample or self.anchor}"


def slim(v: Verdict) -> dict[str, Any]:
    """A verdict without its bulky documents (the counterexample is shown on its own)."""
    doc = v.to_json()
    doc.pop("counterexample", None)
    if doc.get("witness"):
        doc["witness"] = "a concrete state satisfying the assumptions (kept by `waterfall prove --json`)"
    return doc


def seen_doc(tally: Tally | None, inv: str) -> dict[str, Any] | None:
    """The scenario of the run in which the fuzzer saw `inv` violated, if it kept one."""
    if tally is None:
        return None
    failure = tally.failure or {}
    return failure.get("scenario") if failure.get("invariant") == inv else tally.first_seen.get(inv)


def fuzz_found(tally: Tally | None, inv: str) -> bool:
    return tally is not None and bool(tally.documented.get(inv) or (tally.failure or {}).get("invariant") == inv)


def cell(ev: Evidence, mech: Mechanism, inv: str) -> CellView:
    """The strongest evidence for one cell (claimed cells' text starts with '*')."""
    v = next((x for x in ev.proofs if x.mechanism == mech.id and x.invariant == inv), None)
    claimed = inv in mech.claims
    star = "*" if claimed else ""
    tally = ev.fuzz.get(mech.id)
    evidence: dict[str, Any] = {"z3": slim(v) if v else None,  # all_n: indices into the report's all_n
                                "all_n": [k for k, a in enumerate(ev.all_n) if a.invariant == inv],
                                "fuzz": fuzz_summary(tally, inv)}

    def made(category: str, text: str, source: str, cex: str | None = None) -> CellView:
        return CellView(mech.id, inv, claimed, category, star + text, source, evidence, cex)

    cex_id = f"cex-{mech.id}-{inv}"
    if v and v.kind == V.NOT_APPLICABLE and v.reason.startswith("applies only to"):
        return made(C.NA, "n/a", "z3")
    if v and v.kind == V.COUNTEREXAMPLE:
        return made(C.of_kind(v.kind, claimed), f"CEX (prove, {len(v.counterexample['state']['accounts'])} accounts)",
                    "z3", cex_id)
    if fuzz_found(tally, inv):
        ops = (seen_doc(tally, inv) or {}).get("ops")
        steps = f", {len(ops)} step{'s' if len(ops) != 1 else ''}" if ops else ""
        return made(C.BROKEN if claimed else C.PROPERTY, f"CEX (Hypothesis{steps})",
                    "hypothesis", cex_id if ops else None)
    if v and C.of_verdict(v) == C.SANITY:
        return made(C.SANITY, v.kind if not v.stats.get("error") else "prover error", "z3")
    if v and C.of_verdict(v) == C.PROVED:
        return made(C.PROVED, f"PROVED N<={v.accounts}" + (f" M<={v.markets}" if v.markets else ""), "z3")
    if tally is not None and tally.examples:
        steps = sum(tally.ran.values())
        note = f" + Z3 {v.kind}" if v and C.of_verdict(v) == C.UNDECIDED else ""
        return made(C.UNDECIDED, f"fuzzed: none in {tally.examples} runs / {steps} steps{note}", "hypothesis")
    if v is None:
        return made(C.UNDECIDED, "no evidence", "none")
    return made(C.of_verdict(v), v.kind, "z3")


def fuzz_summary(tally: Tally | None, inv: str) -> dict[str, Any] | None:
    """What the fuzzer did for this cell: runs, steps, times it saw the invariant violated."""
    if tally is None:
        return None
    return {"runs": tally.examples, "steps": sum(tally.ran.values()), "violations_seen": tally.documented.get(inv, 0)
            + (1 if (tally.failure or {}).get("invariant") == inv else 0)}


def mechanism_file(mech: Mechanism) -> dict[str, Any]:
    """A mechanism's file and its sha256 (provenance)."""
    data = Path(mech.path).read_bytes()
    return {"id": mech.id, "file": str(mech.path), "sha256": hashlib.sha256(data).hexdigest()}


def provenance(ev: Evidence, command: str) -> dict[str, Any]:
    """What produced this report: versions, command, settings and seeds, input hashes, date."""
    return {"date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "command": command, "tool": tool(), "versions": versions(), "platform": platform.platform(),
            "settings": {"accounts": ev.accounts, "markets": ev.markets, "shrink_seconds": ev.shrink_seconds, **ev.settings},
            "mechanisms": [mechanism_file(m) for m in ev.mechanisms]}


def replay_command(path: Path, mech: Mechanism) -> str:
    """The command that re-runs a saved counterexample, from any folder (R-CLI-9)."""
    return replay_hint(path, mech)


def counterexample(ev: Evidence, c: CellView, mech: Mechanism, out: Path) -> dict[str, Any]:
    """A counterexample section: where it was found, its trace, the saved scenario and the
    command that replays it. The fuzzer's run is shrunk first (ev.shrink_seconds)."""
    v = next((x for x in ev.proofs if x.mechanism == mech.id and x.invariant == c.invariant), None)
    shrunk = None
    if c.source == "z3" and v is not None and v.counterexample:
        doc, found = v.counterexample, f"waterfall prove, venues of up to {v.accounts} accounts and {v.markets} markets"
    else:
        doc = seen_doc(ev.fuzz.get(mech.id), c.invariant)
        assert doc is not None
        doc, shrunk = shrink(doc, mech, c.invariant, ev.shrink_seconds)
        found = "Hypothesis (the first run that showed it)"
    path = out / "counterexamples" / f"{mech.id}-{c.invariant}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    t = T.build(doc, mech, c.invariant, shrunk)
    replay = replay_command(path, mech)
    return {"id": c.counterexample, "mechanism": mech.id, "invariant": c.invariant, "claimed": c.claimed,
            "category": c.category, "found_by": found, "file": path.relative_to(out).as_posix(),
            "replay": replay, "trace": t.to_json(), "text": T.text(t, replay)}


def linkify(ref: str) -> dict[str, Any]:
    """A reference as text and the URL it names: an https URL, a `github:owner/repo[@commit]
    path` (the file on GitHub, at that commit when given) or an arXiv id; None otherwise."""
    url = None
    if m := re.search(r"https?://[^\s)>\]]+", ref):
        url = m.group(0).rstrip(".,;")
    elif m := re.match(r"github:([\w.-]+/[\w.-]+)(?:@([0-9a-f]{7,40}))?(?:\s+([\w./-]+))?", ref):
        repo, commit, path = m.groups()
        url = f"https://github.com/{repo}" + (f"/blob/{commit or 'HEAD'}/{path}" if path and "/" in path
                                             else (f"/tree/{commit}" if commit else ""))
    elif m := re.search(r"arXiv[: ]+(\d{4}\.\d{4,5})", ref):
        url = f"https://arxiv.org/abs/{m.group(1)}"
    return {"text": ref, "url": url}


def mechanism_section(mech: Mechanism, ev: Evidence, plot: str | None) -> dict[str, Any]:
    """Source, layers, final resort, claims and findings of one mechanism."""
    src = mech.source or {}
    final = ", ".join(f"{k} {v}" for k, v in vars(mech.final).items())
    return {"id": mech.id, "name": mech.name, "file": str(mech.path),
            "references": [linkify(r) for r in src.get("references", [])],
            "verified": list(src.get("verified", [])), "unverified": list(src.get("unverified", [])),
            "layers": [f"{s.name} ({s.kind}{', per market' if s.scope == 'market' else ''})" for s in mech.layers],
            "final": f"{type(mech.final).__name__.lower()}" + (f" ({final})" if final else ""),
            "surplus": f"{mech.liquidation.surplus} to {mech.liquidation.surplus_sink}",
            "claims": list(mech.claims), "plot": plot}


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 claim', '2 claims'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


# claimed cells' categories from worst to best: the verdict line takes the colour of the worst
SEVERITY = (C.BROKEN, C.SANITY, C.UNDECIDED, C.PROVED, C.NA)
VERDICT_WORDS = {0: "PASS", 1: "FAIL", 3: "NOT PROVED"}


def verdict(cells: list[CellView], exit_code: int) -> dict[str, Any]:
    """R-REPORT-6: the overall verdict line: the run's exit code, what it means, and the
    category of the worst claimed cell (its colour)."""
    present = {c.category for c in cells if c.claimed}
    worst = next((cat for cat in SEVERITY if cat in present), C.NA)
    if exit_code == 1 and worst not in (C.BROKEN, C.SANITY):
        worst = C.SANITY  # a finding outside the claimed cells (an unclaimed mis-encoding, a prover error)
    elif exit_code == 3 and worst in (C.PROVED, C.NA):
        worst = C.UNDECIDED
    meaning = {0: "every claimed invariant is proved at the sizes used or does not apply; none refuted",
               1: "a claimed invariant is refuted, or a proof is vacuous, mis-encoded or crashed: see the red "
                  "and purple cells",
               3: "no claimed invariant is refuted, but some are undecided or not provable at the sizes used "
                  "(yellow cells): not a proof"}.get(exit_code, "see the cells")
    word = VERDICT_WORDS.get(exit_code, "ERROR")
    return {"exit_code": exit_code, "worst": worst, "colour": C.LEGEND[worst][1],
            "text": f"Verdict: {word} (exit {exit_code}): {meaning}."}


def fuzz_counts(ev: Evidence) -> dict[str, Any]:
    """R-REPORT-7: how the fuzz counts of the cells were counted, per mechanism."""
    configured = ev.settings.get("fuzz_examples")
    rows = {mid: {"configured": configured, "runs": t.examples, "steps": sum(t.ran.values()),
                  "stopped_at_claimed_violation": bool(t.failure)} for mid, t in ev.fuzz.items()}
    note = ("A cell's fuzz count is the number of runs Hypothesis started for that mechanism (one venue and one "
            "sequence of operations each) and the operations they applied. It can differ from the number "
            f"configured ({configured if configured is not None else 'none'} per mechanism, Hypothesis' "
            "max_examples): Hypothesis counts only valid runs towards max_examples, so runs it discards (a venue "
            "it could not draw, a sequence cut short) add to the count; and the search of a mechanism stops at "
            "the first run that violates a claimed invariant, so such a mechanism shows fewer. Every cell of one "
            "mechanism shows the same runs: one search checks every invariant after every step.")
    return {"note": note, "per_mechanism": rows}


def summary(cells: list[CellView]) -> dict[str, Any]:
    """Counts per category, claimed and unclaimed, and the one-line summary."""
    claimed = [c for c in cells if c.claimed]
    count = {cat: sum(1 for c in claimed if c.category == cat) for cat in C.LEGEND}
    fuzzed = sum(1 for c in claimed if c.category == C.UNDECIDED and c.text.lstrip("*").startswith("fuzzed"))
    properties = sum(1 for c in cells if not c.claimed and c.category == C.PROPERTY)
    text = (f"{plural(len(claimed), 'claim')}: {count[C.PROVED]} proved, {count[C.BROKEN]} refuted, "
            f"{count[C.UNDECIDED]} undecided ({fuzzed} of them fuzzed without a violation), "
            f"{plural(count[C.SANITY], 'sanity failure')}, {count[C.NA]} not applicable; "
            f"{plural(properties, 'unclaimed property', 'unclaimed properties')} violated (documented, not bugs).")
    return {"claims": len(claimed), "by_category": count, "fuzzed_only": fuzzed,
            "unclaimed_violated": properties, "text": text}


def build(ev: Evidence, out: Path, scenarios_dir: Path, command: str = "waterfall report",
          exit_code: int = 0) -> dict[str, Any]:
    """The whole report as a JSON document; plots and counterexample scenarios are written
    into `out`; `exit_code` is the run's (the verdict line states it)."""
    from waterfall.report.compare import DEFINITIONS, SUMMARY_HEADER, compare, summary_row
    from waterfall.report.plots import loss_plot, proof_time_plot
    out.mkdir(parents=True, exist_ok=True)
    by_id = {m.id: m for m in ev.mechanisms}
    cells = [cell(ev, m, inv) for m in ev.mechanisms for inv in ev.invariants]
    order = {C.BROKEN: 0, C.PROPERTY: 1}
    cexes = [counterexample(ev, c, by_id[c.mechanism], out)
             for c in sorted((c for c in cells if c.counterexample), key=lambda c: order.get(c.category, 2))]
    shrunk = {x["id"]: x["trace"]["shrunk"]["to"] for x in cexes if x["trace"].get("shrunk")}
    for c in cells:  # a fuzzer's cell counts the steps of the sequence shown, after shrinking
        if c.counterexample in shrunk:
            n = shrunk[c.counterexample]
            c.text = f"{'*' if c.claimed else ''}CEX (Hypothesis, {plural(n, 'step')})"
    scenarios = sorted(scenarios_dir.glob("*.json"))
    comparison = [summary_row(c) for p in scenarios for c in compare(load_scenario(p), ev.mechanisms)]
    plots = {m.id: loss_plot(out, scenarios_dir, m) for m in ev.mechanisms}
    invariants = [{"id": i.id, "name": i.name, "statement": i.statement}
                  for i in list(REGISTRY.values()) + list(RELATIONS.values()) if i.id in ev.invariants]
    return {
        "format": FORMAT, "version": 1, "title": "waterfall audit report",
        "verdict": verdict(cells, exit_code),
        "summary": summary(cells),
        "trust": trust(ev.accounts, ev.markets, ev.settings),
        "fuzz": fuzz_counts(ev),
        "legend": [{"category": k, "label": lb, "colour": col, "meaning": text} for k, (lb, col, text) in C.LEGEND.items()],
        "provenance": provenance(ev, command),
        "invariants": invariants,
        "mechanisms": [mechanism_section(m, ev, plots[m.id].name if plots[m.id] else None) for m in ev.mechanisms],
        "cells": [{"mechanism": c.mechanism, "invariant": c.invariant, "claimed": c.claimed, "category": c.category,
                   "text": c.text, "source": c.source, "anchor": c.anchor, "href": c.href,
                   "counterexample": c.counterexample, "evidence": c.evidence} for c in cells],
        "counterexamples": cexes,
        "operations": ev.operations,
        "all_n": [slim(v) for v in ev.all_n],
        "comparison": {"header": list(SUMMARY_HEADER), "rows": comparison, "definitions": DEFINITIONS},
        "proof_time": ({"plot": proof_time_plot(out, ev.time_n).name,
                        "series": {k: [{"n": n, "seconds": round(t, 3), "kind": kind} for n, t, kind in pts]
                                   for k, pts in ev.time_n.items()}} if ev.time_n else None),
    }


def ci_cells(doc: dict[str, Any]) -> list[Cell]:
    """The report's cells for JUnit and SARIF, the counterexample's violation as message."""
    terms = {(x["mechanism"], x["invariant"]): "; ".join(x["trace"]["terms"]) for x in doc["counterexamples"]}
    return [Cell(c["mechanism"], c["invariant"], c["claimed"], c["category"], c["text"].lstrip("*"),
                 terms.get((c["mechanism"], c["invariant"]), "")) for c in doc["cells"]]


def command_line() -> str:
    """How this process was started, as a command."""
    return " ".join(["waterfall", *sys.argv[1:]]) if Path(sys.argv[0]).name == "waterfall" else " ".join(sys.argv)
