"""R-CLI-8: what ships is addressable by name from any folder: the documentation
(`waterfall docs`), the examples (`waterfall example`), scenarios and mechanisms; a path
that does not exist but names a bundled file gives the name to use."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from waterfall.cli.main import main
from waterfall.docs import DOCS_DIR
from waterfall.spec import VECTORS_DIR


def test_R_CLI_8_docs_lists_the_main_pages_where_they_are(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["docs"]) == 0
    out = capsys.readouterr().out
    for page in ("install.md", "concepts.md", "proofs.md", "rules.md"):
        line = next(ln for ln in out.splitlines() if ln.strip().endswith(page))
        assert Path(line.split()[-1]).is_file(), line
    assert str(DOCS_DIR) in out and "node-generic" in out


def test_R_CLI_8_docs_prints_a_page_and_names_the_closest_unknown(capsys) -> None:
    assert main(["docs", "proofs"]) == 0
    assert capsys.readouterr().out == (DOCS_DIR / "proofs.md").read_text(encoding="utf-8")
    assert main(["docs", "proof"]) == 2
    assert "[E-BUNDLED]: no bundled page 'proof' (did you mean 'proofs'?)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, name", [
    (["run", "spec/scenarios/fund-empty.json"], "fund-empty"),
    (["replay", "spec/findings/drift-v2-I-NONNEG-2aa24cb7.json"], "drift-v2-I-NONNEG-2aa24cb7"),
    (["mechanisms", "spec/mechanisms/drift-v2.toml"], "drift-v2"),
])
def test_R_CLI_8_a_missing_path_that_names_a_bundled_file_gives_its_name(argv, name, capsys, tmp_path,
                                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside the checkout: the path does not exist here
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"no such file; the " in err and err.rstrip().endswith(f"from any folder: {name}")
    assert main([argv[0], name]) in (0, 1)  # the name it gives works (replay: 0, an unclaimed property)


def test_R_CLI_8_example_refuses_a_folder_that_is_not_empty(capsys, tmp_path) -> None:
    (tmp_path / "x").write_text("mine", encoding="utf-8")
    assert main(["example", "node-generic", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "x").read_text() == "mine"
    assert main(["example", "node-generik", str(tmp_path / "new")]) == 2
    assert "(did you mean 'node-generic'?)" in capsys.readouterr().err


def test_R_CLI_8_example_is_self_contained_with_figures_from_the_vectors(capsys, tmp_path) -> None:
    dest = tmp_path / "copy"
    assert main(["example", "node-generic", str(dest)]) == 0
    entries = json.loads((VECTORS_DIR / "manifest.json").read_text())["vectors"]
    mine = [e for e in entries if e["mechanism"] == "generic-socialized-loss"]
    steps = sum(e["steps"] for e in mine)
    readme = (dest / "README.md").read_text(encoding="utf-8")
    assert f"{len(mine)} vectors, {steps} steps" in readme
    assert f"{steps} of {steps} steps passed in {len(mine)} vectors" in capsys.readouterr().out
    assert (dest / "scenarios" / "fund-short-by-one.json").is_file()
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the copy's own tests need it")
    out = subprocess.run(["node", "--test", "test/"], cwd=dest, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "# fail 0" in out.stdout, out.stdout[-3000:]


@pytest.mark.parametrize("where", ["loop/x", "loop", "afile/x", "afile"])
def test_R_CLI_8_example_into_a_hostile_path_is_bad_input(where, tmp_path, capsys) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "afile").write_text("mine", encoding="utf-8")
    assert main(["example", "node-generic", str(tmp_path / where)]) == 2
    assert "Traceback" not in capsys.readouterr().err and (tmp_path / "afile").read_text() == "mine"


def test_R_CLI_8_a_missing_path_close_to_a_bundled_name_names_it(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "spec/scenarios/fund-emty.json"]) == 2
    assert "the closest bundled scenario is 'fund-empty'" in capsys.readouterr().err
    assert main(["run", "nothing-like-it.json"]) == 2
    assert "No such file" in capsys.readouterr().err  # no suggestion when nothing is close
