"""The package as a user gets it (R-PKG-1): the wheel is built from this checkout, installed
in a fresh venv in a temporary folder outside it, and used from there.

First the core alone (the conformance kit: no z3, sympy, crosshair or matplotlib): the
catalogue, a bundled scenario run by name, the vectors (every shipped source: 334), the
default vectors through the reference adapter, the pytest plugin in a toy project that has
a `model.py` of its own, and `prove` refused with the extra to install. Then the `report`
extra on top, and `waterfall report`.

Last, the README's pip-user path (R-CLI-8): every line of its "Using it (after `pip
install`)" block, in order, as printed, from a fresh folder outside the checkout with the
installed `waterfall` on the PATH (shortened as tests/test_docs_commands.py shortens the
long ones; `pip install` installs the wheel built here with the extras the line names).

Packages come from the same index and pip cache as `make setup`, pinned by constraints.txt.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from waterfall.spec import VECTORS_DIR

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
TOY_MODEL = "VALUE = 42  # the project's own module named `model`\n"
TOY_TEST = "import model\n\n\ndef test_own_model():\n    assert model.VALUE == 42\n"


def sh(args: list[str], cwd: Path, ok: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command outside the checkout, without this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert out.returncode == 0, f"{' '.join(args)} exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(work folder, venv's bin, wheel): the wheel built and installed without extras."""
    work = tmp_path_factory.mktemp("user")
    src = work / "src"  # the files git tracks or would track, so the build sees what a clone has
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(src)], work)
    (wheel,) = (work / "dist").glob("loss_waterfall-*.whl")
    sh([sys.executable, "-m", "venv", str(work / "venv")], work)
    bin_ = work / "venv" / "bin"
    sh([str(bin_ / "python"), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), str(wheel), "pytest"], work)
    return work, bin_, wheel


def test_R_PKG_1_core_install_has_no_heavy_engine(venv) -> None:
    work, bin_, _ = venv
    probe = "import importlib.util as u; print([m for m in ('z3', 'sympy', 'crosshair', 'matplotlib') if u.find_spec(m)])"
    assert sh([str(bin_ / "python"), "-c", probe], work).stdout.strip() == "[]"
    where = sh([str(bin_ / "python"), "-c", "import waterfall.spec as s; print(s.SPEC_DIR)"], work).stdout
    assert str(ROOT) not in where and "site-packages" in where


def test_R_PKG_1_catalogue_run_by_name_and_version(venv) -> None:
    work, bin_, _ = venv
    wf = str(bin_ / "waterfall")
    listed = sh([wf, "mechanisms", "--json"], work).stdout
    assert len(json.loads(listed)) == len(list((ROOT / "spec/mechanisms").glob("*.toml")))
    out = sh([wf, "run", "fund-empty"], work).stdout
    assert "scenario fund-empty under" in out and "invariants hold at every step" in out
    assert sh([wf, "--version"], work).stdout.startswith("loss-waterfall 0.1.0 (import name waterfall; ")


def test_R_PKG_1_vectors_come_from_every_shipped_source(venv) -> None:
    work, bin_, _ = venv
    out = sh([str(bin_ / "waterfall"), "vectors", "--out", str(work / "vectors")], work).stdout
    committed = json.loads((VECTORS_DIR / "manifest.json").read_text())["vectors"]
    assert f"wrote {len(committed)} vectors" in out
    written = json.loads((work / "vectors" / "manifest.json").read_text())["vectors"]
    assert [(e["path"], e["sha256"]) for e in written] == [(e["path"], e["sha256"]) for e in committed]


def test_R_PKG_1_conform_with_the_default_vectors(venv) -> None:
    work, bin_, _ = venv
    out = sh([str(bin_ / "waterfall"), "conform", "--impl", f"{bin_ / 'python'} -m waterfall.conformance.adapter"], work)
    committed = json.loads((VECTORS_DIR / "manifest.json").read_text())["vectors"]
    steps = sum(e["steps"] for e in committed)
    assert f"{steps} of {steps} steps passed in {len(committed)} vectors" in out.stdout


def test_R_PKG_1_pytest_plugin_beside_a_users_own_model_module(venv) -> None:
    work, bin_, _ = venv
    toy = work / "toy"
    toy.mkdir()
    (toy / "model.py").write_text(TOY_MODEL)
    (toy / "test_toy.py").write_text(TOY_TEST)
    out = sh([str(bin_ / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
              "--waterfall-impl", f"{bin_ / 'python'} -m waterfall.conformance.adapter",
              "--waterfall-mechanism", "generic-socialized-loss", "--waterfall-filter", "op-deposit"], toy, ok=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    deposits = len(list((VECTORS_DIR / "generic-socialized-loss").glob("op-deposit*.json")))
    # its own test and one item for the mechanism, whose op-deposit* vectors all ran
    assert deposits >= 4 and "2 passed" in out.stdout and f"waterfall: {deposits} vectors" in out.stdout


def test_R_PKG_1_heavy_commands_name_the_extra_to_install(venv) -> None:
    work, bin_, _ = venv
    out = sh([str(bin_ / "waterfall"), "prove"], work, ok=False)
    assert out.returncode == 2 and "pip install 'loss-waterfall[prove]'" in out.stderr


def test_R_PKG_1_report_extra_then_report(venv) -> None:
    work, bin_, wheel = venv
    sh([str(bin_ / "python"), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), f"{wheel}[report]"], work)
    out = sh([str(bin_ / "waterfall"), "report", "--out", str(work / "report"), "--mechanism",
              "generic-socialized-loss", "--accounts", "2", "--markets", "1", "--fuzz-examples", "2", "--jobs", "1",
              "--time-n", ""], work, ok=False)
    # exit 3: with 2 accounts the claimed I-NONNEG is TRIVIAL and I-RESIDUE UNREACHED (not proved, not refuted)
    assert out.returncode == 3 and "report: " in out.stdout, out.stderr[-3000:]
    assert (work / "report" / "index.html").stat().st_size > 1_000
    assert json.loads((work / "report" / "report.json").read_text())["format"] == "waterfall-report"


def pip_user_block() -> list[tuple[str, str]]:
    """(command, comment) of each line of README.md's pip-user block."""
    from test_docs_commands import split_comment

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using it (after `pip install`)"):]
    block = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M).group(1)
    return [split_comment(line) for line in block.splitlines() if line.strip()]


def test_R_CLI_8_the_readme_pip_user_block_is_found() -> None:
    lines = [c for c, _ in pip_user_block()]
    assert lines[0] == "pip install 'loss-waterfall[all]'" and "waterfall run fund-empty" in lines
    assert not [c for c in lines if ".venv/" in c or c.startswith("make ") or "spec/" in c]


def readme_line(cmd: str, bin_: Path, wheel: Path) -> list[str] | None:
    """The argv that runs one README line here (None: node is not installed)."""
    from test_docs_commands import shorten

    words = shlex.split(cmd)
    if words[:2] == ["pip", "install"]:
        extras = re.search(r"(\[[a-z,]+\])?$", words[-1]).group(1) or ""
        return [str(bin_ / "python"), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), f"{wheel}{extras}"]
    if words[0] == "node":
        return words if shutil.which("node") else None
    if words[0] == "pytest":
        return [str(bin_ / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *words[1:],
                "--waterfall-filter", "op-deposit"]
    assert words[0] == "waterfall", f"README pip-user line that is not a command of the package: {cmd!r}"
    return shorten(words)


def test_R_CLI_8_every_readme_pip_user_command_works_as_printed(venv) -> None:
    from test_docs_commands import expected_exit

    work, bin_, wheel = venv
    user = work / "readme-user"  # a fresh folder: nothing but what the commands write
    user.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_}{os.pathsep}{env.get('PATH', '')}"
    ran = 0
    for cmd, comment in pip_user_block():
        argv = readme_line(cmd, bin_, wheel)
        if argv is None:
            continue
        out = subprocess.run(argv, cwd=user, env=env, capture_output=True, text=True, timeout=600)
        want = expected_exit(comment)
        assert out.returncode == want, f"`{cmd}` exited {out.returncode}, the README says {want}:\n" \
                                       f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        assert "Traceback" not in out.stderr, (cmd, out.stderr[-2000:])
        ran += 1
    assert ran >= 18
    assert (user / "report" / "index.html").is_file() and (user / "my-node" / "scenarios").is_dir()
    proofs = subprocess.run(["waterfall", "docs", "proofs"], cwd=user, env=env, capture_output=True, text=True)
    assert proofs.stdout == (ROOT / "docs" / "proofs.md").read_text(encoding="utf-8")  # shipped, not read from here
