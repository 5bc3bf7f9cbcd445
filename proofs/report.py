"""The audit report (R-REPORT-*): one document, written as Markdown and as static HTML.

Per (mechanism, invariant) the strongest evidence on the ladder of docs/proofs.md:
PROVED all N > PROVED N<=k (Z3, with k and time) > no violation found by Hypothesis
(examples, steps) > COUNTEREXAMPLE (replayed by the model, ledger shown); whether the
mechanism claims the invariant; a page section per mechanism (sources, layers, rounding,
claims, findings); plots of who absorbed the loss in each stress scenario and of proof
time. Exact numbers come from the engines' own results; nothing is re-derived here.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waterfall.model.loader import load_scenario, scenario_from_doc
from waterfall.model.mechanism import Mechanism
from waterfall.model.replay import run

from . import verdict as V
from .fuzz import Tally
from .ledger import ledger
from .prove_cli import counterexample_ledger
from .verdict import Verdict

ALL_N_FOR_EVERY_MECHANISM = ("I-CONS", "I-ZERO")  # sum identities of any step (P-CONS, P-ZERO)


@dataclass
class Doc:
    """A report as blocks: (kind, payload) with kinds h1, h2, h3, p, table, pre, img."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, kind: str, payload: Any) -> None:
        self.blocks.append((kind, payload))

    def markdown(self) -> str:
        """The Markdown form."""
        out = []
        for kind, p in self.blocks:
            if kind in ("h1", "h2", "h3"):
                out.append("#" * int(kind[1]) + " " + p)
            elif kind == "p":
                out.append(p)
            elif kind == "pre":
                out.append("```text\n" + p + "\n```")
            elif kind == "img":
                out.append(f"![{p[1]}]({p[0]})")
            elif kind == "table":
                head, rows = p
                out.append("\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                                     + ["| " + " | ".join(r) + " |" for r in rows]))
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        """A self-contained HTML page (no scripts, no external resources)."""
        body = []
        for kind, p in self.blocks:
            if kind in ("h1", "h2", "h3"):
                anchor = html.escape(p.split(":")[0].replace(" ", "-").lower())
                body.append(f'<{kind} id="{anchor}">{html.escape(p)}</{kind}>')
            elif kind == "p":
                body.append(f"<p>{html.escape(p)}</p>")
            elif kind == "pre":
                body.append(f'<pre class="ledger">{html.escape(p)}</pre>')
            elif kind == "img":
                body.append(f'<img src="{html.escape(p[0])}" alt="{html.escape(p[1])}">')
            elif kind == "table":
                head, rows = p
                cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
                trs = "".join("<tr>" + "".join(f'<td class="{css(c)}">{html.escape(c)}</td>' for c in r) + "</tr>"
                              for r in rows)
                body.append(f'<table class="matrix"><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>')
        style = ("body{font-family:sans-serif;margin:2em;max-width:110em}table{border-collapse:collapse;margin:1em 0}"
                 "td,th{border:1px solid #bbb;padding:.25em .5em;font-size:.85em}td.proved{background:#d8f3d8}"
                 "td.cex{background:#f8d0d0}td.fuzzed{background:#f3f3c8}td.undecided{background:#e8e0f8}"
                 "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}img{max-width:100%}")
        return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def css(cell: str) -> str:
    """The colour class of a matrix cell by its evidence."""
    for prefix, cls in (("PROVED", "proved"), ("CEX", "cex"), ("fuzzed", "fuzzed"), ("TIMEOUT", "undecided"),
                        ("UNKNOWN", "undecided")):
        if cell.lstrip("*").startswith(prefix):
            return cls
    return ""


@dataclass
class Evidence:
    """Everything the report shows, gathered by the engines."""

    mechanisms: list[Mechanism]
    invariants: list[str]
    proofs: list[Verdict]
    all_n: list[Verdict]
    fuzz: dict[str, Tally]
    accounts: int
    time_n: dict[str, list[tuple[int, float, str]]] = field(default_factory=dict)


def cell(ev: Evidence, mech: Mechanism, inv: str) -> tuple[str, Verdict | None]:
    """The strongest evidence for one cell, as text (claimed cells start with '*'), and
    the verdict whose counterexample it shows, if any."""
    v = next((x for x in ev.proofs if x.mechanism == mech.id and x.invariant == inv), None)
    star = "*" if inv in mech.claims else ""
    tally = ev.fuzz.get(mech.id)
    found = tally is not None and (tally.documented.get(inv) or (tally.failure or {}).get("invariant") == inv)
    if v and v.kind == V.NOT_APPLICABLE and v.reason.startswith("applies only to"):
        return f"{star}n/a", None
    if v and v.kind == V.COUNTEREXAMPLE:
        return f"{star}CEX (Z3, {len(v.counterexample['state']['accounts'])} accounts)", v
    if found:
        ops = seen_run(tally, inv)
        return f"{star}CEX (Hypothesis{f', {len(ops)} steps' if ops else ''})", None
    if inv in ALL_N_FOR_EVERY_MECHANISM and any(a.invariant == inv and a.kind == V.PROVED_ALL_N for a in ev.all_n):
        return f"{star}PROVED all N", None
    if v and v.kind == V.PROVED_UP_TO:
        return f"{star}PROVED N<={v.accounts} ({v.seconds:.1f}s)", None
    if tally is not None and tally.examples:
        steps = sum(tally.ran.values())
        note = f" + Z3 {v.kind}" if v and v.kind in (V.TIMEOUT, V.UNKNOWN) else ""
        return f"{star}fuzzed: none in {tally.examples} runs / {steps} steps{note}", None
    return f"{star}{v.kind if v else 'n/a'}", None


def seen_doc(tally: Tally | None, inv: str) -> dict[str, Any] | None:
    """The scenario of the run in which the fuzzer saw `inv` violated, if it kept one."""
    if tally is None:
        return None
    failure = tally.failure or {}
    return failure.get("scenario") if failure.get("invariant") == inv else tally.first_seen.get(inv)


def seen_run(tally: Tally | None, inv: str) -> list[dict[str, Any]] | None:
    """The operations of that run."""
    doc = seen_doc(tally, inv)
    return doc["ops"] if doc else None


def fuzz_ledger(tally: Tally, inv: str, mech: Mechanism) -> str:
    """The fuzzer's run replayed through the model: the ledger of its last step."""
    last = run(scenario_from_doc(seen_doc(tally, inv), f"<fuzz {inv}>"), mech)[-1]
    return ledger(last.pre, last.post)


def matrix(ev: Evidence) -> tuple[list[str], list[list[str]], list[Verdict]]:
    """Header, rows, and the counterexamples to show."""
    rows, shown = [], []
    for m in ev.mechanisms:
        row = [m.id]
        for inv in ev.invariants:
            text, v = cell(ev, m, inv)
            row.append(text)
            if v is not None:
                shown.append(v)
        rows.append(row)
    return ["mechanism"] + ev.invariants, rows, shown


def comparison_section(doc: Doc, mechs: list[Mechanism], scenarios_dir: Path) -> None:
    """Every bundled stress scenario under every mechanism: where the loss went and the
    fairness figures of proofs/compare.py (waterfall compare)."""
    from .compare import DEFINITIONS, SUMMARY_HEADER, compare, summary_row
    doc.add("h2", "Mechanism comparison over the stress scenarios")
    rows = [summary_row(c) for p in sorted(scenarios_dir.glob("*.json")) for c in compare(load_scenario(p), mechs)]
    doc.add("table", (list(SUMMARY_HEADER), rows))
    doc.add("p", DEFINITIONS)


def mechanism_section(doc: Doc, mech: Mechanism, ev: Evidence) -> None:
    """Source, layers, final resort, claims and findings of one mechanism."""
    doc.add("h2", f"{mech.id}: {mech.name}")
    src = mech.source or {}
    doc.add("p", "References: " + "; ".join(src.get("references", [])))
    for key in ("verified", "unverified"):
        if src.get(key):
            doc.add("p", f"{key.capitalize()}: " + "; ".join(src[key]))
    layers = ", ".join(f"{s.name} ({s.kind}{', per market' if s.scope == 'market' else ''})" for s in mech.layers)
    doc.add("p", f"Layers in order: {layers or 'none'}; final resort: {mech.final}; surplus rule: "
                 f"{mech.liquidation.surplus} to {mech.liquidation.surplus_sink}.")
    doc.add("p", "Claims: " + ", ".join(mech.claims))
    found = [v.invariant for v in ev.proofs if v.mechanism == mech.id and v.kind == V.COUNTEREXAMPLE]
    doc.add("p", "Findings (Z3 counterexamples, replayed): " + (", ".join(found) or "none"))


def loss_plot(out: Path, scenarios_dir: Path, mech: Mechanism) -> Path | None:
    """Stacked bars per stress scenario under one mechanism: the loss absorbed layer by
    layer (R-WF-3, R-CH-1/2), account by account (haircut, levy, assessment, ADL cost:
    proofs/compare.py) and as bad debt (matplotlib, no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .compare import compare
    runs = [c for p in sorted(scenarios_dir.glob("*.json")) for c in compare(load_scenario(p), [mech])]
    parts: dict[str, list[int]] = {}
    for k, c in enumerate(runs):
        shares = {f"layer {n}": v for n, v in c.layers.items()}
        shares.update({f"account {a}": o.paid for a, o in c.accounts.items() if o.paid})
        shares["bad debt"] = c.bad_debt
        for label, v in shares.items():
            parts.setdefault(label, [0] * len(runs))[k] = v
    if not any(sum(v) for v in parts.values()):
        return None
    totals = [sum(v[k] for v in parts.values()) for k in range(len(runs))]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = [0.0] * len(runs)
    shown = [(label, values) for label, values in sorted(parts.items()) if any(values)]
    for i, (label, values) in enumerate(shown):  # shares of each scenario's loss, for display only
        pct = [100 * v / t if t else 0.0 for v, t in zip(values, totals)]
        ax.bar([c.scenario for c in runs], pct, bottom=bottom, label=label, color=plt.cm.tab20(i % 20))
        bottom = [b + v for b, v in zip(bottom, pct)]
    ax.set_ylabel("share of the loss absorbed (%)")
    ax.set_title(f"Who absorbed the loss, layer by layer and account by account: {mech.id}")
    ax.legend(fontsize=6, ncol=2)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    dest = out / f"loss-{mech.id}.png"
    fig.savefig(dest, dpi=90)
    plt.close(fig)
    return dest


def time_against_n(ns: list[int], timeout: float) -> dict[str, list[tuple[int, float, str]]]:
    """Proof time of the core invariants at each N (bench/prove.py has the full table)."""
    from waterfall.model.loader import catalogue, load_mechanism
    from .prove import prove
    series: dict[str, list[tuple[int, float, str]]] = {}
    for mid, inv in (("generic-socialized-loss", "I-CONS"), ("generic-socialized-loss", "I-NONNEG"),
                     ("generic-socialized-loss", "I-PROP"), ("bitmex-adl", "I-ADL-BOUND")):
        mech = load_mechanism(catalogue()[mid])
        series[f"{mid} {inv}"] = [(n, (v := prove(mech, inv, n, timeout, minimise=False)).seconds, v.kind) for n in ns]
    return series


def proof_time_plot(out: Path, ev: Evidence) -> Path:
    """Proof time of the core invariants against N (one line each; a missing point is a
    query that did not prove)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, points in ev.time_n.items():
        proved = [(n, t) for n, t, kind in points if kind == V.PROVED_UP_TO]
        ax.plot([n for n, _ in proved], [t for _, t in proved], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("accounts N")
    ax.set_ylabel("seconds")
    ax.set_title("Z3 proof time against N")
    ax.legend(fontsize=6)
    fig.tight_layout()
    dest = out / "proof-time.png"
    fig.savefig(dest, dpi=90)
    plt.close(fig)
    return dest


def build(ev: Evidence, out: Path, scenarios_dir: Path) -> Doc:
    """The whole report; plots are written into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    doc = Doc()
    doc.add("h1", "waterfall audit report")
    doc.add("p", f"Evidence ladder per cell (strongest first): PROVED all N > PROVED N<=k (Z3, {ev.accounts} "
                 "accounts, time) > fuzzed: no violation in R runs / S steps (Hypothesis) > CEX (a counterexample, "
                 "replayed by the reference model). * = the mechanism claims the invariant. What is proved and "
                 "what is trusted: docs/proofs.md.")
    head, rows, shown = matrix(ev)
    doc.add("h2", "Matrix")
    doc.add("table", (head, rows))
    doc.add("h2", "Counterexamples")
    for v in shown:
        doc.add("h3", f"{v.mechanism} {v.invariant} ({'claimed' if v.claimed else 'not claimed: a property of the design'})")
        doc.add("pre", counterexample_ledger(v, next(m for m in ev.mechanisms if m.id == v.mechanism)))
    for m in ev.mechanisms:
        tally = ev.fuzz.get(m.id)
        for inv in ev.invariants:
            if cell(ev, m, inv)[0].lstrip("*").startswith("CEX (Hypothesis") and seen_run(tally, inv):
                doc.add("h3", f"{m.id} {inv} (found by the fuzzer; its last step, not shrunk: "
                              f"`waterfall fuzz --mechanism {m.id}` shrinks)")
                doc.add("pre", fuzz_ledger(tally, inv, m))
    doc.add("h2", "For every number of accounts")
    doc.add("table", (["invariant", "family", "verdict", "argument"],
                      [[v.invariant, v.mechanism, v.kind, v.reason[:160]] for v in ev.all_n]))
    comparison_section(doc, ev.mechanisms, scenarios_dir)
    if ev.time_n:
        doc.add("h2", "Proof time")
        doc.add("img", (proof_time_plot(out, ev).name, "Z3 proof time of the core invariants against N"))
        doc.add("table", (["query"] + [f"N={n}" for n, _, _ in next(iter(ev.time_n.values()))],
                          [[k] + [f"{t:.2f}s" if kind == V.PROVED_UP_TO else kind for _, t, kind in pts]
                           for k, pts in ev.time_n.items()]))
    for m in ev.mechanisms:
        mechanism_section(doc, m, ev)
        plot = loss_plot(out, scenarios_dir, m)
        if plot is not None:
            doc.add("img", (plot.name, f"loss absorbed per stress scenario under {m.id}"))
    return doc
