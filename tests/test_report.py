"""The audit report (R-REPORT-1): the evidence ladder per cell, counterexample ledgers,
mechanism sections, plots, and the CLI writing Markdown and HTML."""
from __future__ import annotations

from pathlib import Path

from waterfall.model.loader import catalogue, load_mechanism
from waterfall.proofs import verdict as V
from waterfall.proofs.cli import main
from waterfall.proofs.fuzz import Tally
from waterfall.proofs.prove import prove
from waterfall.proofs.report import Evidence, build, cell
from waterfall.spec import SCENARIOS_DIR


def mech(mid: str):
    return load_mechanism(catalogue()[mid])


def evidence(m, proofs, all_n=(), tally=None) -> Evidence:
    return Evidence([m], ["I-CONS", "I-NONNEG", "I-PROP", "I-ADL-BOUND", "I-PATH"], list(proofs), list(all_n),
                    {m.id: tally} if tally else {}, 3)


def test_R_REPORT_1_the_ladder_picks_the_strongest_evidence() -> None:
    m = mech("drift-v2")
    tally = Tally(examples=7)
    tally.ran["deposit"] = 40
    proofs = [V.Verdict(m.id, "I-CONS", V.PROVED_UP_TO, 3, seconds=1.25),
              V.Verdict(m.id, "I-NONNEG", V.TIMEOUT, 3),
              V.Verdict(m.id, "I-PROP", V.NOT_APPLICABLE, 3, reason="applies only to Haircut mechanisms"),
              V.Verdict(m.id, "I-PATH", V.NOT_APPLICABLE, 3, reason="relational (two runs of the model)")]
    ev = evidence(m, proofs, tally=tally)
    assert cell(ev, m, "I-CONS")[0] == "*PROVED N<=3 (1.2s)"
    ev_all = evidence(m, proofs, [V.Verdict("*", "I-CONS", V.PROVED_ALL_N)], tally)
    assert cell(ev_all, m, "I-CONS")[0] == "*PROVED all N"
    assert cell(ev, m, "I-NONNEG")[0] == "fuzzed: none in 7 runs / 40 steps + Z3 TIMEOUT"
    assert cell(ev, m, "I-PROP")[0] == "n/a"
    tally.documented["I-PATH"] += 1
    assert cell(ev, m, "I-PATH")[0] == "CEX (Hypothesis)"


def test_R_REPORT_1_fuzz_found_cells_show_the_run_as_a_ledger(tmp_path: Path) -> None:
    from waterfall.proofs.report_cli import fuzz_evidence
    m = mech("drift-v2")
    # levies charge losers: seen within 60 derandomized runs (40 sufficed for one seed, but the
    # derandomized draws shift with unrelated source changes: a budget with room, not one lucky seed)
    tally = fuzz_evidence(m, 60)
    assert "I-NONNEG" in tally.first_seen
    doc = build(Evidence([m], ["I-NONNEG"], [], [], {m.id: tally}, 3), tmp_path, SCENARIOS_DIR)
    md = doc.markdown()
    assert "CEX (Hypothesis, " in md and "drift-v2 I-NONNEG (found by the fuzzer" in md and "collateral before" in md


def test_R_REPORT_1_counterexamples_are_shown_as_ledgers(tmp_path: Path) -> None:
    m = mech("drift-v2")
    v = prove(m, "I-NONNEG", 3)
    assert v.kind == V.COUNTEREXAMPLE
    doc = build(evidence(m, [v]), tmp_path, SCENARIOS_DIR)
    md = doc.markdown()
    assert "CEX (Z3," in md and "drift-v2 I-NONNEG (not claimed" in md and "account a01" in md
    assert "References:" in md and (tmp_path / "loss-drift-v2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = doc.html("t")
    assert '<table class="matrix">' in page and '<pre class="ledger">' in page
    assert 'src="http' not in page and 'href="http' not in page and '<script' not in page  # self-contained


def test_R_REPORT_1_cli_writes_markdown_html_and_plots(tmp_path: Path, capsys) -> None:
    code = main(["report", "--out", str(tmp_path), "--mechanism", "generic-socialized-loss", "--accounts", "2",
                 "--fuzz-examples", "3", "--jobs", "1", "--time-n", "2,3"])
    assert code == 0
    assert "report: " in capsys.readouterr().out
    assert (tmp_path / "index.html").exists() and (tmp_path / "report.md").exists()
    assert (tmp_path / "loss-generic-socialized-loss.png").exists() and (tmp_path / "proof-time.png").exists()
    assert "| generic-socialized-loss I-CONS | " in (tmp_path / "report.md").read_text()  # time against N
