"""The report's JSON document (waterfall/report/document.py) as Markdown and as one self-contained HTML
page (no scripts, no external resources; links to sources are plain links).

Order: the verdict line with the exit code (coloured by the worst claimed cell), summary
line, legend, contents, matrix (every cell a link to its evidence; abbreviated, with a key,
so it fits a 1,400-pixel page), what this proves and what you trust (docs/proofs.md),
counterexamples (sequence, steps, violation terms, compared runs, ledger), evidence per
mechanism, all-N statements in full, fuzz counts, comparison, proof time, mechanisms,
provenance (tool version, commit or files hash, spec version).
"""
from __future__ import annotations

import html
import re
from typing import Any

SECTIONS = [("summary", "Summary"), ("matrix", "Matrix"), ("trust", "What this proves, and what you trust"),
            ("operations", "Operations explored"),
            ("counterexamples", "Counterexamples"),
            ("evidence", "Evidence per cell"), ("all-n", "Statements about the rules for every N (not about the code)"),
            ("fuzz", "Fuzz counts"), ("comparison", "Mechanism comparison"), ("proof-time", "Proof time"),
            ("mechanisms", "Mechanisms"), ("provenance", "Provenance")]
STEP_PARTS = ("prices", "positions", "balances", "transfers")


def matrix(doc: dict[str, Any]) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Invariant ids across, one row of cells per mechanism."""
    invs = [i["id"] for i in doc["invariants"]]
    rows: dict[str, list[dict[str, Any]]] = {}
    for c in doc["cells"]:
        rows.setdefault(c["mechanism"], []).append(c)
    return invs, list(rows.values())


# R-REPORT-7: the matrix shows a short form of each cell (its full text is its tooltip and in
# "Evidence per cell"); the key is printed under the matrix
SHORT = [(r"^PROVED N<=(\d+) M<=(\d+)$", r"P \1/\2"), (r"^PROVED N<=(\d+)$", r"P \1"),
         (r"^CEX \(prove, .*\)$", "CEX"), (r"^CEX \(Hypothesis.*\)$", "CEX h"),
         (r"^fuzzed: none in .* \+ Z3 (\S+)$", r"fz+\1"), (r"^fuzzed: none in .*$", "fz"),
         (r"^UNREACHED$", "UNR"), (r"^TRIVIAL$", "TRIV"), (r"^TIMEOUT$", "TO"), (r"^UNKNOWN$", "UNK"),
         (r"^VACUOUS$", "VAC"), (r"^ENCODING MISMATCH$", "MIS"), (r"^prover error$", "ERR"), (r"^no evidence$", "-")]
MATRIX_KEY = ("P k/m: PROVED N<=k M<=m; CEX: counterexample found by prove; CEX h: found by the fuzzer "
              "(Hypothesis); fz: fuzzed, none found (no proof); fz+X: fuzzed, and prove said X; UNR: UNREACHED; "
              "TRIV: TRIVIAL; TO: TIMEOUT; UNK: UNKNOWN; VAC: VACUOUS; MIS: ENCODING MISMATCH; ERR: prover "
              "error; -: no evidence; *: claimed. Column heads drop the 'I-' of the invariant ids.")


def short(text: str) -> str:
    """A cell's text in the matrix's abbreviated form (MATRIX_KEY)."""
    star, body = ("*", text[1:]) if text.startswith("*") else ("", text)
    for pattern, repl in SHORT:
        if re.match(pattern, body):
            body = re.sub(pattern, repl, body)
            break
    body = body.replace("UNREACHED", "UNR").replace("TRIVIAL", "TRIV").replace("TIMEOUT", "TO").replace("UNKNOWN", "UNK")
    return star + body


def head_id(inv: str) -> str:
    """A column head: the invariant id without its 'I-'."""
    return inv.removeprefix("I-")


def sections(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a, t) for a, t in SECTIONS if (a != "proof-time" or doc.get("proof_time"))
            and (a != "operations" or doc.get("operations"))]


def operations(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """waterfall prove's exploration: mechanisms down, operations across, paths explored."""
    ops = list(dict.fromkeys(op for per in doc.get("operations", {}).values() for op in per))
    rows = []
    for mid, per in doc.get("operations", {}).items():
        row = [mid]
        for op in ops:
            d = per.get(op, {})
            row.append("prover error" if "error" in d else
                       f"{d.get('paths', 0)} paths ({d.get('applied', 0)} applied), "
                       + ("every path" if d.get("complete") else "INCOMPLETE") + f", {d.get('seconds', 0):.0f}s")
        rows.append(row)
    return ["mechanism"] + ops, rows


OPERATIONS_NOTE = ("Every path of model.step that waterfall prove explored, per mechanism and operation kind, over "
                   "every case (the operated account's markets, with and without a counterparty) and every venue "
                   "size proved; 'every path' means the exploration was exhaustive.")


# ---- Markdown -------------------------------------------------------------------------

def md_table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a `|` or a newline in a cell is escaped so the table keeps its shape."""
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return "\n".join(["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(map(esc, r)) + " |" for r in rows])


def markdown(doc: dict[str, Any]) -> str:
    """The Markdown form."""
    out = [f"# {doc['title']}", f"**{doc['verdict']['text']}**", f"**{doc['summary']['text']}**",
           "Legend: " + "; ".join(f"**{x['label']}**: {x['meaning']}" for x in doc["legend"])
           + ". `*` = the mechanism claims the invariant.",
           "Contents: " + " · ".join(f"[{t}](#{a})" for a, t in sections(doc))]
    invs, rows = matrix(doc)
    out += ["## Matrix", md_table(["mechanism"] + [head_id(i) for i in invs],
                                  [[r[0]["mechanism"]] + [f"[{short(c['text'])}]({c['href']})" for c in r] for r in rows]),
            f"Key: {MATRIX_KEY}"]
    tr = doc["trust"]
    out += ["## What this proves, and what you trust", tr["sizes"]]
    out += [f"### {x['title']}\n\n{x['markdown']}" for x in tr["sections"]]
    if doc.get("operations"):
        out += ["## Operations explored", OPERATIONS_NOTE, md_table(*operations(doc))]
    out.append("## Counterexamples")
    for x in doc["counterexamples"]:
        out += [f'### {x["mechanism"]} {x["invariant"]} '
                f'({"claimed" if x["claimed"] else "not claimed: a property of the design"})'
                f' <a id="{x["id"]}"></a>',
                f'Found by {x["found_by"]}; saved as `{x["file"]}`; replay: `{x["replay"]}`',
                "```text\n" + x["text"] + "\n```"]
    out.append("## Evidence per cell")
    for r in rows:
        out += [f"### {r[0]['mechanism']}", md_table(["invariant", "claimed", "category", "verdict", "details"],
                                                     [[c["invariant"], "yes" if c["claimed"] else "no", c["category"],
                                                       c["text"], details(c, doc["all_n"])] for c in r])]
    out += ["## Statements about the rules for every N (not about the code)",
            md_table(["invariant", "family", "verdict", "argument"],
                     [[v["invariant"], v["mechanism"], v["kind"], v["reason"]] for v in doc["all_n"]])]
    fz = doc["fuzz"]
    out += ["## Fuzz counts", fz["note"], md_table(["mechanism", "configured (max_examples)", "runs started",
                                                     "operations applied", "stopped at a claimed violation"],
                                                    fuzz_rows(fz))]
    comp = doc["comparison"]
    out += ["## Mechanism comparison over the stress scenarios", md_table(comp["header"], comp["rows"]),
            comp["definitions"]]
    if doc.get("proof_time"):
        pt = doc["proof_time"]
        ns = [p["n"] for p in next(iter(pt["series"].values()))]
        out += ["## Proof time", f"![time to prove every invariant on the liquidation against k]({pt['plot']})",
                md_table(["mechanism, operation"] + [f"k={n}" for n in ns],
                         [[k] + [f"{p['seconds']:.2f}s" if p["kind"] == "PROVED N<=k" else p["kind"] for p in pts]
                          for k, pts in pt["series"].items()])]
    out.append("## Mechanisms")
    for m in doc["mechanisms"]:
        refs = "; ".join(f"[{r['text']}]({r['url']})" if r["url"] else r["text"] for r in m["references"])
        out += [f"### {m['id']}: {m['name']}", f"References: {refs}"]
        out += [f"{k.capitalize()}: " + "; ".join(m[k]) for k in ("verified", "unverified") if m[k]]
        out.append(f"Layers in order: {', '.join(m['layers']) or 'none'}; final resort: {m['final']}; "
                   f"surplus rule: {m['surplus']}. Claims: {', '.join(m['claims'])}.")
        if m["plot"]:
            out.append(f"![loss absorbed per stress scenario under {m['id']}]({m['plot']})")
    p = doc["provenance"]
    out += ["## Provenance", md_table(["", ""], provenance_rows(p)),
            md_table(["mechanism", "file", "sha256"], [[m["id"], m["file"], m["sha256"]] for m in p["mechanisms"]])]
    return "\n\n".join(out) + "\n"


def fuzz_rows(fz: dict[str, Any]) -> list[list[str]]:
    """The fuzz counts per mechanism, as table rows."""
    return [[mid, str(r["configured"]), str(r["runs"]), str(r["steps"]), "yes" if r["stopped_at_claimed_violation"] else "no"]
            for mid, r in fz["per_mechanism"].items()]


def details(c: dict[str, Any], all_n: list[dict[str, Any]]) -> str:
    """The evidence of one cell in one line."""
    parts = []
    z3 = c["evidence"].get("z3")
    if z3:
        extra = "".join(f", {k} {z3[k]}" for k in ("markets", "trigger") if z3.get(k) is not None)
        parts.append(f"prove: {z3['kind']}" + (f" at N<={z3['accounts']} M<={z3.get('markets')}" if z3.get("accounts") else "")
                     + f" in {z3['seconds']:.1f}s{extra}" + (f" ({z3['reason']})" if z3.get("reason") else ""))
    for a in (all_n[k] for k in c["evidence"].get("all_n") or []):
        parts.append(f"all N ({a['mechanism']}): {a['kind']}")
    f = c["evidence"].get("fuzz")
    if f:
        parts.append(f"fuzzer: {f['runs']} runs, {f['steps']} steps, violation seen {f['violations_seen']} times")
    return "; ".join(parts) or "no evidence gathered"


def provenance_rows(p: dict[str, Any]) -> list[list[str]]:
    t = p["tool"]
    rows = [["tool", f"{t['distribution']} {t['version']} (import name waterfall)"], ["spec version", t["spec_version"]],
            ["commit", t["commit"] or "none (an installed package: see the files hash)"],
            ["SHA-256 of the tool's files", f"{t['files_sha256']} ({t['files']} files)"],
            ["date (UTC)", p["date"]], ["command", p["command"]], ["platform", p["platform"]]]
    rows += [[f"version of {k}", v or "not installed"] for k, v in p["versions"].items()]
    rows += [[f"setting {k}", str(v)] for k, v in p["settings"].items()]
    return rows


# ---- HTML -----------------------------------------------------------------------------

def e(x: Any) -> str:
    return html.escape(str(x))


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;max-width:120em;color:#222}
h1{margin:.2em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #bbb;padding:.25em .45em;font-size:.82em;vertical-align:top}
th{background:#f3f3f3}td a{color:inherit;text-decoration:none;display:block}td a:hover{text-decoration:underline}
.summary{font-size:1.1em;font-weight:600;padding:.6em .8em;background:#f7f7f7;border-left:.4em solid #888}
.legend{display:grid;grid-template-columns:repeat(auto-fill,minmax(30em,1fr));gap:.3em 1.5em;margin:.6em 0;padding:0;list-style:none;font-size:.85em}
.sw{display:inline-block;width:1em;height:1em;border:1px solid #888;vertical-align:-.15em;margin-right:.4em}
nav.toc{font-size:.85em;margin:.5em 0}nav.toc a{margin-right:1em}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.8em}
.cex{border:1px solid #ccc;padding:.4em 1em;margin:1em 0}.cex h3{margin:.3em 0}
ol.seq{font-family:monospace;font-size:.85em;background:#fafafa;padding:.5em 2.5em;border:1px solid #ddd}
ol.seq li.hit{font-weight:700;color:#a00}ol.seq li.hit::after{content:"  \\2190 violation"}
ul.terms{font-family:monospace;font-size:.85em}.runs{display:flex;gap:1em;flex-wrap:wrap}.run{border:1px dashed #999;padding:.3em .8em}
.meta{font-size:.85em;color:#444}code{font-size:.9em}img{max-width:100%}
.verdict{font-size:1.25em;font-weight:700;padding:.6em .8em;border-left:.5em solid #555;margin:.4em 0}
.matrixwrap{max-width:100%;max-height:80vh;overflow:auto}
table.matrix td,table.matrix th{font-size:.75em;padding:.15em .3em;white-space:nowrap}
table.matrix thead th{position:sticky;top:0;z-index:2;writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:.3em .15em}
table.matrix thead th:first-child{writing-mode:horizontal-tb;transform:none;left:0;z-index:3}
table.matrix tbody th{position:sticky;left:0;background:#f3f3f3;z-index:1;text-align:left}
.key{font-size:.8em;color:#333;max-width:100em}.trust{max-width:60em}
"""


def css_rules(doc: dict[str, Any]) -> str:
    return "".join(f".c-{x['category']}{{background:{x['colour']}}}" for x in doc["legend"])


def lines(rows: list[str]) -> str:
    return "<br>".join(e(r) for r in rows)


def html_table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def md_html(text: str) -> str:
    """Markdown of docs/proofs.md as HTML (Python-Markdown, the `report` extra); raw HTML in
    it is escaped, never passed through."""
    import markdown
    md = markdown.Markdown(extensions=["tables"])
    md.preprocessors.deregister("html_block")  # raw HTML is shown as text
    md.inlinePatterns.deregister("html")
    return md.convert(text)


def darker(colour: str) -> str:
    """A legend colour at half brightness, for the verdict's border."""
    r, g, b = (int(colour[i:i + 2], 16) // 2 for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"


def counterexample_html(x: dict[str, Any]) -> str:
    """One counterexample: sequence, steps, violation, compared runs, ledger."""
    t = x["trace"]
    status = "claimed and broken" if x["claimed"] else "not claimed: a property of the design"
    shrunk = t.get("shrunk")
    note = (f"; shrunk from {shrunk['from']} to {shrunk['to']} operations in {shrunk['seconds']:.1f} s"
            f"{'' if shrunk['complete'] else ' (time budget spent)'}" if shrunk else "")
    seq = "".join(f'<li class="{"hit" if s["n"] == t["violated_at"] else ""}">{e(s["op"])}'
                  + (f" (refused {e(s['refused'])})" if s["refused"] else "") + "</li>" for s in t["steps"])
    steps = html_table(["step", "operation"] + list(STEP_PARTS),
                       [[str(s["n"]), e(s["op"])] + [lines(s[k]) or "&ndash;" for k in STEP_PARTS] for s in t["steps"]])
    runs = "".join(f'<div class="run"><b>{e(r["label"])}</b><ol>' + "".join(f"<li><code>{e(o)}</code></li>" for o in r["ops"])
                   + "</ol>" + lines(r["outcome"]) + "</div>" for r in t["runs"])
    return (f'<section class="cex" id="{e(x["id"])}"><h3>{e(x["mechanism"])} {e(x["invariant"])} '
            f'<span class="c-{e(x["category"])}" style="padding:0 .4em">{e(status)}</span></h3>'
            f'<p class="meta">Found by {e(x["found_by"])}{e(note)}. Saved as <a href="{e(x["file"])}">{e(x["file"])}</a>; '
            f'replay: <code>{e(x["replay"])}</code></p>'
            f"<h4>Sequence</h4><ol class=\"seq\">{seq}</ol><h4>Steps</h4>{steps}"
            f'<h4>Violation of {e(x["invariant"])} at step {e(t["violated_at"])}</h4><ul class="terms">'
            + "".join(f"<li>{e(r)}</li>" for r in t["terms"]) + "</ul>"
            + (f'<div class="runs">{runs}</div>' if runs else "")
            + f'<h4>Ledger at the violating step</h4><pre class="ledger">{e(t["ledger"])}</pre></section>')


def page(doc: dict[str, Any]) -> str:
    """A self-contained HTML page."""
    invs, rows = matrix(doc)
    vd = doc["verdict"]
    body = [f"<h1>{e(doc['title'])}</h1>",
            f'<p class="verdict c-{e(vd["worst"])}" id="verdict" style="border-left-color:{e(darker(vd["colour"]))}">'
            f'{e(vd["text"])}</p>',
            f'<p class="summary" id="summary" style="border-left-color:{e(darker(vd["colour"]))}">'
            f'{e(doc["summary"]["text"])}</p>',
            '<ul class="legend">' + "".join(f'<li><span class="sw c-{e(x["category"])}"></span><b>{e(x["label"])}</b>: '
                                            f'{e(x["meaning"])}</li>' for x in doc["legend"])
            + "<li><b>*</b>: the mechanism claims the invariant</li></ul>",
            '<nav class="toc">Contents: ' + "".join(f'<a href="#{a}">{e(t)}</a>' for a, t in sections(doc)) + "</nav>",
            '<h2 id="matrix">Matrix</h2>']
    inv_names = {i["id"]: i["name"] for i in doc["invariants"]}
    head = "<th>mechanism</th>" + "".join(f'<th title="{e(i)}: {e(inv_names[i])}">{e(head_id(i))}</th>' for i in invs)
    trs = "".join(f'<tr><th><a href="#m-{e(r[0]["mechanism"])}">{e(r[0]["mechanism"])}</a></th>'
                  + "".join(f'<td class="c-{e(c["category"])}" title="{e(c["invariant"])}: {e(c["text"])}">'
                            f'<a href="{e(c["href"])}">{e(short(c["text"]))}</a></td>' for c in r)
                  + "</tr>" for r in rows)
    body.append(f'<div class="matrixwrap"><table class="matrix"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody>'
                f'</table></div><p class="key">Key: {e(MATRIX_KEY)}</p>')
    tr = doc["trust"]
    body += ['<h2 id="trust">What this proves, and what you trust</h2>',
             f'<div class="trust">{md_html(tr["sizes"])}'
             + "".join(f"<h3>{e(x['title'])}</h3>{md_html(x['markdown'])}" for x in tr["sections"]) + "</div>"]
    if doc.get("operations"):
        oh, orows = operations(doc)
        body += ['<h2 id="operations">Operations explored</h2>', f"<p>{e(OPERATIONS_NOTE)}</p>",
                 html_table([e(h) for h in oh], [[e(c) for c in r] for r in orows])]
    body.append('<h2 id="counterexamples">Counterexamples</h2>')
    body += [counterexample_html(x) for x in doc["counterexamples"]] or ["<p>None.</p>"]
    body.append('<h2 id="evidence">Evidence per cell</h2>')
    for r in rows:
        trs = "".join(f'<tr id="{e(c["anchor"])}"><td>{e(c["invariant"])}</td><td>{"yes" if c["claimed"] else "no"}</td>'
                      f'<td class="c-{e(c["category"])}">{e(c["category"])}</td><td>{e(c["text"])}</td><td>{e(details(c, doc["all_n"]))}'
                      + (f' &mdash; <a href="#{e(c["counterexample"])}">counterexample</a>' if c["counterexample"] else "")
                      + "</td></tr>" for c in r)
        body.append(f"<h3>{e(r[0]['mechanism'])}</h3><table><thead><tr><th>invariant</th><th>claimed</th><th>category</th>"
                    f"<th>verdict</th><th>details</th></tr></thead><tbody>{trs}</tbody></table>")
    body.append('<h2 id="all-n">Statements about the rules for every N (not about the code)</h2>')
    body.append(html_table(["invariant", "family", "verdict", "argument"],
                           [[e(v["invariant"]), e(v["mechanism"]), e(v["kind"]), e(v["reason"])] for v in doc["all_n"]]))
    fz = doc["fuzz"]
    body += ['<h2 id="fuzz">Fuzz counts</h2>', f"<p>{e(fz['note'])}</p>",
             html_table(["mechanism", "configured (max_examples)", "runs started", "operations applied",
                         "stopped at a claimed violation"], [[e(c) for c in r] for r in fuzz_rows(fz)])]
    comp = doc["comparison"]
    body += ['<h2 id="comparison">Mechanism comparison over the stress scenarios</h2>',
             html_table([e(h) for h in comp["header"]], [[e(c) for c in r] for r in comp["rows"]]),
             f"<p>{e(comp['definitions'])}</p>"]
    if doc.get("proof_time"):
        pt = doc["proof_time"]
        ns = [p["n"] for p in next(iter(pt["series"].values()))]
        body += ['<h2 id="proof-time">Proof time</h2>', f'<img src="{e(pt["plot"])}" alt="proof time against k">',
                 html_table(["mechanism, operation"] + [f"k={n}" for n in ns],
                            [[e(k)] + [f"{p['seconds']:.2f}s" if p["kind"] == "PROVED N<=k" else e(p["kind"]) for p in pts]
                             for k, pts in pt["series"].items()])]
    body.append('<h2 id="mechanisms">Mechanisms</h2>')
    for m in doc["mechanisms"]:
        refs = "".join(f'<li><a href="{e(r["url"])}">{e(r["text"])}</a></li>' if r["url"] else f"<li>{e(r['text'])}</li>"
                       for r in m["references"])
        body.append(f'<h3 id="m-{e(m["id"])}">{e(m["id"])}: {e(m["name"])}</h3><p>References:</p><ul>{refs}</ul>')
        body += [f"<p>{k.capitalize()}: {e('; '.join(m[k]))}</p>" for k in ("verified", "unverified") if m[k]]
        body.append(f"<p>Layers in order: {e(', '.join(m['layers']) or 'none')}; final resort: {e(m['final'])}; "
                    f"surplus rule: {e(m['surplus'])}. Claims: {e(', '.join(m['claims']))}.</p>")
        if m["plot"]:
            body.append(f'<img src="{e(m["plot"])}" alt="loss absorbed per stress scenario under {e(m["id"])}">')
    p = doc["provenance"]
    body += ['<h2 id="provenance">Provenance</h2>',
             html_table(["", ""], [[e(a), f"<code>{e(b)}</code>"] for a, b in provenance_rows(p)]),
             html_table(["mechanism", "file", "sha256"],
                        [[e(m["id"]), e(m["file"]), f"<code>{e(m['sha256'])}</code>"] for m in p["mechanisms"]])]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(doc["title"])}</title>'
            f"<style>{STYLE}{css_rules(doc)}</style></head><body>{''.join(body)}</body></html>\n")
