"""`waterfall replay FILE` (R-REPLAY-1) re-runs a saved counterexample as a failing sequence,
and `--emit-test` writes it as a pytest test (concrete playback, R-REPLAY-2)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from waterfall.model.loader import catalogue, load_mechanism
from waterfall.cli.main import main
from waterfall.spec import FINDINGS_DIR

FINDING = FINDINGS_DIR / "drift-v2-I-NONNEG-2aa24cb7.json"


def claiming_drift(tmp_path: Path) -> Path:
    """drift-v2 as a file that claims I-NONNEG, which its levy breaks."""
    text = Path(catalogue()["drift-v2"]).read_text().replace('id = "drift-v2"', 'id = "drift-claims"')
    path = tmp_path / "drift-claims.toml"
    path.write_text(text.replace("claims = [", 'claims = ["I-NONNEG", ', 1))
    return path


def test_R_REPLAY_1_a_documented_finding_replays_as_a_sequence(capsys) -> None:
    assert main(["replay", str(FINDING)]) == 0  # unclaimed: a property, not a finding
    out = capsys.readouterr().out
    assert out.startswith("[FAIL: I-NONNEG violated, not claimed: a property of this design] drift-v2 at step 1 of 1")
    assert "  >   1  liquidate account=a0 counterparty=a1 fills=M0@49 seed=0" in out
    assert "R-LEVY-2 account:a2 -> account:a0 1 [levy]" in out and "account a2: equity before 0, after -1" in out


def test_R_REPLAY_1_a_relational_counterexample_shows_both_runs(capsys) -> None:
    assert main(["replay", str(FINDING), "--invariant", "i-path", "--json"]) == 0  # ids are case-insensitive
    (t,) = json.loads(capsys.readouterr().out)["violations"]
    assert t["invariant"] == "I-PATH" and [r["label"] for r in t["runs"]] == ["a0 then a2", "a2 then a0"]
    assert t["runs"][0]["outcome"] != t["runs"][1]["outcome"] and t["terms"][0] == "the two orders end differently:"


def test_R_REPLAY_1_a_claimed_violation_exits_1(tmp_path: Path, capsys) -> None:
    assert main(["replay", str(FINDING), "--mechanism", str(claiming_drift(tmp_path))]) == 1
    assert "[FAIL: I-NONNEG claimed and violated] drift-claims" in capsys.readouterr().out


def test_R_REPLAY_1_a_fixed_counterexample_says_so(capsys) -> None:
    assert main(["replay", "fund-empty"]) == 0
    assert "no invariant is violated at any of its" in capsys.readouterr().out


def test_R_REPLAY_1_unknown_invariant_names_the_closest(capsys) -> None:
    assert main(["replay", str(FINDING), "--invariant", "I-NONEG"]) == 2
    assert "[E-INVARIANT]: unknown invariant 'I-NONEG' (did you mean 'I-NONNEG'?)" in capsys.readouterr().err


def run_test(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                          capture_output=True, text=True, cwd=path.parent, timeout=300)


def test_R_REPLAY_2_emitted_test_fails_while_a_claim_is_broken(tmp_path: Path) -> None:
    mech = claiming_drift(tmp_path)
    test = tmp_path / "test_playback.py"
    assert main(["replay", str(FINDING), "--mechanism", str(mech), "--emit-test", str(test)]) == 1
    out = run_test(test)
    assert out.returncode == 1 and "claimed invariants still violated: ['I-NONNEG']" in out.stdout
    # the same counterexample under the catalogue's drift-v2 (not claimed): the property still shows
    documented = tmp_path / "test_documented.py"
    assert main(["replay", str(FINDING), "--emit-test", str(documented)]) == 0
    assert run_test(documented).returncode == 0


def test_R_REPLAY_2_nothing_to_emit_is_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["replay", "fund-empty", "--emit-test", str(tmp_path / "t.py")]) == 2
    assert "nothing to emit" in capsys.readouterr().err and not (tmp_path / "t.py").exists()


@pytest.mark.parametrize("mid", ["drift-v2"])
def test_R_REPLAY_1_prove_save_then_replay(tmp_path: Path, mid: str, capsys) -> None:
    from waterfall.proofs.prove.prover import prove
    v = prove(load_mechanism(catalogue()[mid]), "I-NONNEG", 3, operations=["liquidate"])
    path = tmp_path / "cex.json"
    path.write_text(json.dumps(v.counterexample))
    assert main(["replay", str(path), "--invariant", "I-NONNEG"]) == 0
    assert "[Violation] I-NONNEG (no negative balances)" in capsys.readouterr().out
