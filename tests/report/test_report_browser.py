"""The report as a person sees it (R-REPORT-2): rendered by headless Chromium (Debian's
package; `make test` installs it when missing). The rendered page has the summary line, the
legend, the matrix with a link per cell and a counterexample as a sequence with its ledger;
the screenshot is not blank and shows a proved (green), a claimed-and-broken (red) and an
unclaimed-property (blue-grey) cell, and the sequence's violating step (dark red text)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from waterfall.model.loader import catalogue, load_mechanism
from waterfall.report import categories as C
from waterfall.proofs.prove.prover import prove
from waterfall.report.document import Evidence, build
from waterfall.report.render import page
from waterfall.spec import SCENARIOS_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1800"]


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def page_path(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed and could not be (make browser: apt-get install chromium)")
    out = tmp_path_factory.mktemp("report")
    drift = load_mechanism(catalogue()["drift-v2"])
    # a variant that claims what the levy breaks: its counterexample is a claimed violation
    text = Path(drift.path).read_text().replace('id = "drift-v2"', 'id = "drift-claims-nonneg"')
    text = text.replace('claims = [', 'claims = ["I-NONNEG", ', 1)
    (out / "drift-claims-nonneg.toml").write_text(text)
    claiming = load_mechanism(out / "drift-claims-nonneg.toml")
    mechs = [claiming, drift]
    proofs = [prove(m, inv, 2, operations=["liquidate"]) for m in mechs for inv in ("I-CONS", "I-NONNEG")]
    doc = build(Evidence(mechs, ["I-CONS", "I-NONNEG"], proofs, [], {}, 3), out, SCENARIOS_DIR, exit_code=1)
    (out / "index.html").write_text(page(doc), encoding="utf-8")
    return out / "index.html"


def test_R_REPORT_2_rendered_dom_has_summary_legend_matrix_and_a_sequence(page_path: Path) -> None:
    dom = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", page_path.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    # a reader's checklist: the verdict line first (coloured as the worst claimed cell), then the
    # summary, the trusted base, the provenance with the tool's identity
    assert '<p class="verdict c-broken" id="verdict"' in dom and "Verdict: FAIL (exit 1)" in dom
    assert dom.index('id="verdict"') < dom.index('id="summary"') < dom.index('id="matrix"') < dom.index('id="trust"')
    assert "3 claims: 2 proved, 1 refuted" in dom and "<h3>The trusted base</h3>" in dom
    assert "SHA-256 of the tool's files" in dom and "loss-waterfall" in dom
    assert all(f'class="sw c-{cat}"' in dom for cat in C.LEGEND)
    assert '<table class="matrix">' in dom and 'href="#cex-drift-claims-nonneg-I-NONNEG"' in dom
    assert '<ol class="seq"><li class="hit">liquidate account=a' in dom
    assert '<pre class="ledger">' in dom and "account a01" in dom and '<h2 id="provenance">' in dom


def test_R_REPORT_2_screenshot_shows_the_colours_and_the_sequence(page_path: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    tall = [f for f in FLAGS if not f.startswith("--window-size")] + ["--window-size=1400,6000"]  # the whole report, 1,400 px wide
    subprocess.run([CHROMIUM, *tall, f"--screenshot={shot}", page_path.as_uri()], capture_output=True, timeout=120)
    img = Image.open(shot).convert("RGB")
    top = img.crop((0, 0, img.width, 700))
    dark = sum(count for count, p in top.convert("L").getcolors(1 << 16) if p < 200)
    assert dark > 2_000, "the top of the rendered report (title, summary, legend, matrix) is blank"
    colours = {c for _, c in top.getcolors(1 << 20)}
    for cat in (C.PROVED, C.BROKEN, C.PROPERTY):
        assert rgb(C.LEGEND[cat][1]) in colours, f"no {cat} colour in the top of the page"
    page_colours = img.getcolors(1 << 20)
    hit = sum(n for n, (r, g, b) in page_colours if r > 130 and g < 60 and b < 60)
    assert hit > 50, "the violating step of the counterexample sequence (dark red) is not visible"
