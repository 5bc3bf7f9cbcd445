"""R-CLI-9 / R-REPLAY-3: every command a tool prints for the reader to run next works as
printed from any folder, for catalogue and user files alike; an emitted test runs on
another machine. Each hint is taken from the tool's own output and run with a shell in a
different folder, with only this environment's `waterfall` on the PATH."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from waterfall.cli.main import main
from waterfall.conformance.differential import save
from waterfall.conformance.vectors import VECTORS_DIR
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.report.hints import conform_hint, replay_hint
from waterfall.spec import FINDINGS_DIR

BIN = str(Path(sys.executable).parent)
FINDING = FINDINGS_DIR / "drift-v2-I-NONNEG-2aa24cb7.json"


def claiming_drift(folder: Path) -> Path:
    """drift-v2 as a user's file that claims I-NONNEG, which its levy breaks."""
    text = Path(catalogue()["drift-v2"]).read_text().replace('id = "drift-v2"', 'id = "drift-claims"')
    path = folder / "drift-claims.toml"
    path.write_text(text.replace("claims = [", 'claims = ["I-NONNEG", ', 1))
    return path


def run_as_printed(hint: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a printed command with a shell, from `cwd`, with this environment's bin first on PATH."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(hint, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def elsewhere(tmp_path: Path) -> Path:
    other = tmp_path / "somewhere" / "else"
    other.mkdir(parents=True)
    return other


def test_R_CLI_9_fuzz_hint_for_a_users_file_works_from_another_folder(tmp_path, capsys, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    claiming_drift(work)
    monkeypatch.chdir(work)  # the user's folder: relative names, as typed
    code = main(["fuzz", "--mechanism", "drift-claims.toml", "--seconds", "60", "--no-database", "--no-shrink"])
    out = capsys.readouterr().out
    assert code == 1, out
    hint = re.search(r"replay: (waterfall replay .*)$", out, re.M).group(1)
    assert "--mechanism" in hint
    proc = run_as_printed(hint, elsewhere(tmp_path))
    assert proc.returncode == 1 and "I-NONNEG claimed and violated" in proc.stdout, proc.stderr[-2000:]


def test_R_CLI_9_prove_save_hint_works_from_another_folder(tmp_path, capsys, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    claiming_drift(work)
    monkeypatch.chdir(work)
    code = main(["prove", "--mechanism", "drift-claims.toml", "--invariant", "I-NONNEG", "--operation", "liquidate",
                 "--accounts", "3", "--markets", "1", "--no-all-n", "--jobs", "1", "--save", "cex"])
    out = capsys.readouterr().out
    assert code == 1, out
    hints = re.findall(r"\(replay: (waterfall replay [^)]*)\)", out)
    assert hints, out
    other = elsewhere(tmp_path)
    for hint in hints:
        proc = run_as_printed(hint, other)
        assert proc.returncode == 1 and "I-NONNEG claimed and violated" in proc.stdout, proc.stderr[-2000:]


def test_R_CLI_9_report_replay_command_names_a_users_file(tmp_path) -> None:
    from waterfall.report.document import replay_command

    user = load_mechanism(claiming_drift(tmp_path))
    saved = tmp_path / "cex.json"
    shutil.copyfile(FINDING, saved)
    hint = replay_command(Path(os.path.relpath(saved)), user)
    assert hint.startswith(f"waterfall replay {saved}") and f"--mechanism {tmp_path / 'drift-claims.toml'}" in hint
    assert run_as_printed(hint, elsewhere(tmp_path)).returncode == 1
    # the catalogue's own drift-v2 is named by its id; a user's copy with the same id is not
    assert replay_hint(saved, load_mechanism(catalogue()["drift-v2"])) == f"waterfall replay {saved}"
    copy = tmp_path / "copy" / "drift-v2.toml"
    copy.parent.mkdir()
    shutil.copyfile(catalogue()["drift-v2"], copy)
    assert f"--mechanism {copy}" in replay_hint(saved, load_mechanism(copy))


def test_R_CLI_9_conform_hint_runs_the_saved_vectors_again(tmp_path) -> None:
    import json

    doc = json.loads(next((VECTORS_DIR / "generic-socialized-loss").glob("op-deposit*.json")).read_text())
    folder = tmp_path / "found vectors"  # a space: the hint quotes it
    save(doc, folder)
    impl = f"{sys.executable} -m waterfall.conformance.adapter"
    proc = run_as_printed(conform_hint(impl, folder), elsewhere(tmp_path))
    assert proc.returncode == 0 and "passed in 1 vectors" in proc.stdout, proc.stdout + proc.stderr


def test_R_REPLAY_3_emitted_test_for_a_users_file_runs_elsewhere(tmp_path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mech = claiming_drift(mine)
    test = mine / "test_playback.py"
    assert main(["replay", str(FINDING), "--mechanism", str(mech), "--emit-test", str(test)]) == 1
    text = test.read_text()
    assert str(tmp_path) not in text and "MECHANISM_TOML" in text
    other = elsewhere(tmp_path)  # "another machine": the test alone, the mechanism file gone
    shutil.move(test, other / test.name)
    shutil.rmtree(mine)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test.name],
                         cwd=other, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "claimed invariants still violated: ['I-NONNEG']" in out.stdout, out.stdout[-2000:]


def test_R_CLI_9_a_scenario_of_a_users_file_says_how_to_run_it(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    claiming_drift(tmp_path)
    saved = tmp_path / "found.json"
    saved.write_text(FINDING.read_text().replace('"mechanism": "drift-v2"', '"mechanism": "drift-claims"'))
    for command in ("run", "replay"):
        assert main([command, str(saved)]) == 2
        err = capsys.readouterr().err
        assert "'drift-claims' is not a catalogue id" in err and err.rstrip().endswith("add --mechanism drift-claims.toml")
    assert main(["replay", str(saved), "--mechanism", "drift-claims.toml"]) == 1  # the fix it names works


def test_R_CLI_9_init_next_hint_works_from_another_folder(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "mine.toml", "--family", "levy"]) == 0
    hint = capsys.readouterr().out.rsplit("next: ", 1)[1].strip()
    assert hint == f"waterfall verify --mechanism {tmp_path / 'mine.toml'}"
    assert run_as_printed(hint, elsewhere(tmp_path)).returncode == 0
