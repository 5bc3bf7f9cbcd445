"""Packaging metadata (R-PKG-2): ranges for users, exact pins for development, every data
file of spec/ shipped, the heavy engines in extras."""
from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HEAVY = {"z3-solver", "sympy", "crosshair-tool", "matplotlib"}


def pins() -> dict[str, str]:
    """constraints.txt as {normalised name: version}."""
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"constraints.txt: {line!r} is not an exact pin"
            out[norm(name)] = ver
    return out


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["project"]["dependencies"]]
    for extra in PROJECT["project"]["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith("loss-waterfall[")]
    return reqs


def test_R_PKG_2_every_range_is_pinned_inside_it() -> None:
    pinned = pins()
    for req in requirements():
        assert norm(req.name) in pinned, f"{req.name} has no exact pin in constraints.txt"
        assert req.specifier.contains(pinned[norm(req.name)]), f"{req.name}=={pinned[norm(req.name)]} outside {req}"
        assert "==" not in str(req.specifier), f"{req}: pyproject.toml takes ranges, pins go in constraints.txt"


def test_R_PKG_2_the_core_is_the_conformance_kit() -> None:
    core = {norm(Requirement(r).name) for r in PROJECT["project"]["dependencies"]}
    assert not core & HEAVY
    extras = PROJECT["project"]["optional-dependencies"]
    assert {"z3-solver", "sympy"} <= {norm(Requirement(r).name) for r in extras["prove"]}
    assert "matplotlib" in {norm(Requirement(r).name) for r in extras["report"]}


def test_R_PKG_2_every_data_file_of_spec_is_package_data() -> None:
    patterns = PROJECT["tool"]["setuptools"]["package-data"]["waterfall.spec"]
    tracked = subprocess.run(["git", "ls-files", "spec"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert "spec/regressions/no-markets-per-market-sink.json" in tracked
    missing = [f for f in tracked if not f.endswith(".py")
               and not any(fnmatch.fnmatch(f.removeprefix("spec/"), p) for p in patterns)]
    assert missing == []


def test_R_PKG_2_make_setup_installs_with_the_constraints() -> None:
    make = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in make and "$(STAMP): pyproject.toml constraints.txt" in make


def test_R_PKG_3_the_distribution_has_a_name_of_its_own_and_its_addresses() -> None:
    import waterfall

    meta = PROJECT["project"]
    from waterfall.cli.about import OUR_SUMMARY

    assert meta["name"] == waterfall.DISTRIBUTION == "loss-waterfall"
    assert meta["description"] == OUR_SUMMARY  # a leftover of the old name is told apart by it
    assert {"Documentation", "Source", "Issues"} <= set(meta["urls"])
    for extra in meta["optional-dependencies"].values():  # self-references name this distribution
        assert not [r for r in extra if r.startswith("waterfall[")], extra


def install_lines(page: Path) -> list[str]:
    """The shell lines of a page's ```sh blocks, and its inline `pip install ...` spans (but
    for docs/install.md, whose prose names the wrong command to warn against it)."""
    text = page.read_text(encoding="utf-8")
    lines = [ln for b in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M) for ln in b.splitlines()]
    if page.name != "install.md":
        lines += re.findall(r"`(pip install[^`]*)`", text)
    return lines


def test_R_PKG_3_every_install_instruction_names_loss_waterfall() -> None:
    """No install instruction of the docs installs PyPI's unrelated `waterfall`."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "spec").glob("*.md"))]
    bad = [f"{page.relative_to(ROOT)}: {line.strip()}" for page in pages for line in install_lines(page)
           for m in re.finditer(r"pip install\s+(?:-\S+\s+)*['\"]?([A-Za-z0-9_.-]+)", line)
           if m.group(1) == "waterfall"]
    assert bad == []
    assert install_lines(ROOT / "docs/install.md")[1] == "pip install 'loss-waterfall[all]'     # and the engines: prove (Z3, sympy), crosshair and diff, report (matplotlib)"


def test_R_PKG_3_the_check_finds_a_wrong_instruction(tmp_path: Path) -> None:
    page = tmp_path / "x.md"
    page.write_text("Run `pip install -U waterfall` first.\n", encoding="utf-8")
    assert install_lines(page) == ["pip install -U waterfall"]
