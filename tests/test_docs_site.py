"""The documentation site builds offline and strictly (`make docs`; mkdocs.yml, docs/hooks.py).

Skipped when MkDocs is not installed: the `docs` extra is installed by `make docs`, which
runs this file after building site/; `make test` installs only `.[dev]`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_every_nav_page_is_built(site: Path) -> None:
    for page in ["index.html", "docs/concepts.html", "docs/proofs.html", "docs/implementers.html",
                 "docs/crosshair.html", "docs/mutation.html", "docs/guide-designer.html",
                 "docs/guide-auditor.html", "docs/invariant-registry.html", "spec/rules.html",
                 "spec/invariants.html", "spec/mechanisms.html", "spec/scenario.html",
                 "spec/conformance.html", "bench/index.html", "docs/cli.html", "docs/api.html",
                 "docs/fuzzing.html"]:
        assert (site / page).is_file(), page


def test_nothing_is_loaded_from_the_network(site: Path) -> None:
    """No CDN font, script, stylesheet or analytics at view time (links to read are fine)."""
    loads = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not loads.search(text), (page, loads.search(text).group(0))
        assert "googleapis" not in text and "gstatic" not in text and "unpkg" not in text, page
    for css in site.rglob("*.css"):
        assert not re.search(r"url\(\s*[\"']?(?:https?:)?//|@import", css.read_text(encoding="utf-8")), css


def test_registry_page_lists_every_invariant_with_its_claimants(site: Path) -> None:
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.spec.invariants import REGISTRY, RELATIONS

    html = (site / "docs/invariant-registry.html").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr>\s*<td><code>(I-[A-Z-]+)</code></td>.*?</tr>",
                                                          html, re.S)}
    assert set(rows) == set(REGISTRY) | set(RELATIONS)
    mechs = {mid: load_mechanism(p) for mid, p in catalogue().items()}
    for iid, row in rows.items():
        claimers = [mid for mid, m in mechs.items() if iid in m.claims]
        assert f"({len(claimers)}/{len(mechs)})" in row, iid
    # a mechanism claims I-NONNEG or not: drift-v2 does not (its levy charges losers)
    assert "drift-v2" not in rows["I-NONNEG"] and "generic-socialized-loss" in rows["I-NONNEG"]


def test_spec_is_read_in_place_not_copied() -> None:
    """The spec stays where the code reads it: no copy of spec/*.md under docs/."""
    assert not (ROOT / "docs/spec").exists()
    assert all(not p.is_symlink() for p in (ROOT / "docs").rglob("*"))


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    """--strict is not a no-op: the same config with a dangling link aborts."""
    cfg = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.md"
    broken.write_text("# x\n\n[nowhere](no-such-page.md)\n", encoding="utf-8")
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(ROOT / 'docs/hooks.py')!r})\n"
        "h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h)\n"
        "from mkdocs.structure.files import File\n"
        "on_page_markdown = h.on_page_markdown\n"
        "def on_files(files, config):\n"
        "    files = h.on_files(files, config)\n"
        f"    files.append(File('broken.md', {str(tmp_path)!r}, config['site_dir'], False))\n"
        "    return files\n", encoding="utf-8")
    cfg = cfg.replace("  - docs/hooks.py", f"  - {hook}")
    (tmp_path / "mkdocs.yml").write_text(cfg.replace("docs_dir: docs", f"docs_dir: {ROOT / 'docs'}"),
                                         encoding="utf-8")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml"),
                           "--site-dir", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "no-such-page.md" in proc.stderr
