"""The report as a person sees it (R-REPORT-2): rendered by headless Chromium (Debian's
package; `make test` installs it when missing), the matrix and a counterexample ledger are
in the rendered page and the screenshot is not blank."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from waterfall.model.loader import catalogue, load_mechanism
from waterfall.proofs.prove import prove
from waterfall.proofs.report import Evidence, build
from waterfall.spec import SCENARIOS_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1800"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed and could not be (make browser: apt-get install chromium)")
    out = tmp_path_factory.mktemp("report")
    m = load_mechanism(catalogue()["drift-v2"])
    proofs = [prove(m, inv, 3) for inv in ("I-CONS", "I-NONNEG")]
    doc = build(Evidence([m], ["I-CONS", "I-NONNEG"], proofs, [], {}, 3), out, SCENARIOS_DIR)
    (out / "index.html").write_text(doc.html("waterfall audit report"), encoding="utf-8")
    return out / "index.html"


def test_R_REPORT_2_rendered_dom_has_the_matrix_and_a_ledger(page: Path) -> None:
    dom = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert '<table class="matrix">' in dom and "CEX (Z3," in dom and "PROVED N&lt;=3" in dom
    assert '<pre class="ledger">' in dom and "account a01" in dom


def test_R_REPORT_2_screenshot_shows_content(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    img = Image.open(shot).convert("L")
    top = img.crop((0, 0, img.width, 600))
    dark = sum(count for count, p in top.getcolors(256) if p < 200)
    assert dark > 2_000, "the top of the rendered report (title, matrix) is blank"
    colours = Image.open(shot).convert("RGB").crop((0, 0, img.width, 600)).getcolors(1 << 20)
    assert any(r < 240 and g > 230 and b < 240 for _, (r, g, b) in colours), "no green (proved) matrix cell visible"
