"""The commands shown in README.md and the guides run, and exit with the code the text gives.

Every line of a ```sh block in DOCS that starts with a command word (`.venv/bin/waterfall`,
`waterfall`, `make`, `pytest`, `cp`) is either run or skipped with a reason (SKIP below), in
the order of the page, in one temporary workspace per page that holds `spec/` and `.venv/`
(symlinks to the repository) plus the files the designer guide tells you to write
(my-venue.toml, my-venue-adl.toml, made here as the guide says, from its own ```toml block).
The expected exit code is 0 unless the line's comment says "exit N".

Long commands are shortened by SHORTEN (fewer accounts, no all-N stage, a few seconds of
fuzzing, one CrossHair function, one conformance vector group), and `my-engine` stands for
the Node example implementation docs/examples/node-generic/waterfall-node.mjs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "docs/guide-designer.md", "docs/guide-auditor.md", "docs/implementers.md"]
WORDS = (".venv/bin/waterfall", "waterfall", "make", "pytest", "cp")
NODE_IMPL = f"node {ROOT / 'docs/examples/node-generic/waterfall-node.mjs'}"

# (command prefix, reason): shown in the docs, not run here
SKIP = [
    ("make verify", "the whole catalogue (minutes); its parts run here shortened"),
    ("make test", "the whole suite, which contains this test"),
    ("make fuzz", "the long Hypothesis campaigns (make fuzz, make fuzz-campaign: run forever)"),
    ("make bench", "benchmarks, ~5 minutes and ~1 GB"),
    ("make docs", "the site build: tests/test_docs_site.py, run by `make docs`"),
    ("make setup", "the venv this test runs in already exists"),
    ("make kit-mutate", "the vectors' mutation score (~30 minutes): docs/conformance.md"),
    ("make hostile", "every hostile input through every command (~6 minutes): tests/cli/test_hostile.py runs a subset"),
    ("pytest --waterfall-impl", "the pytest plugin over all vectors: tests/test_pytest_plugin.py covers it"),
    ("waterfall conform --impl 'node my-engine.mjs' --fuzz", "differential fuzzing, 2000 scenarios"),
]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def commands(doc: str) -> list[tuple[str, str]]:
    """(command, comment) for each command line of the page's ```sh blocks."""
    out = []
    for block in blocks((ROOT / doc).read_text(encoding="utf-8"), "sh"):
        for line in block.splitlines():
            line = line.strip()
            if not line.startswith(WORDS):
                continue
            cmd, comment = split_comment(line)
            out.append((cmd, comment))
    return out


def split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing `# comment` (a # inside quotes belongs to the command)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


def skip_reason(cmd: str) -> str | None:
    bare = cmd.removeprefix(".venv/bin/")
    return next((why for prefix, why in SKIP if bare.startswith(prefix)), None)


def set_option(args: list[str], flag: str, value: str | None) -> list[str]:
    """Replace or add `flag value` (or a bare flag when value is None)."""
    if flag in args:
        i = args.index(flag)
        del args[i:i + (1 if value is None else 2)]
    return args + ([flag] if value is None else [flag, value])


def shorten(args: list[str]) -> list[str]:
    sub = args[1] if len(args) > 1 else ""
    if sub == "prove":
        args = set_option(args, "--accounts", "2")
        args = set_option(args, "--markets", "1")
        args = set_option(args, "--timeout", "20")
        args = set_option(args, "--jobs", "2")
        args = set_option(args, "--no-all-n", None)
    elif sub == "fuzz":
        args = set_option(args, "--seconds", "2")
        if "--mechanism" not in args:
            args += ["--mechanism", "generic-socialized-loss"]
    elif sub == "crosshair":
        args = set_option(args, "--per-condition-timeout", "1")
        args = set_option(args, "--function", "waterfall.model.layers.clip")
    elif sub == "diff":
        args = set_option(args, "--seconds", "2")
    elif sub == "report":
        for opt, val in (("--accounts", "2"), ("--markets", "1"), ("--fuzz-examples", "2"), ("--jobs", "2"),
                         ("--timeout", "20"), ("--time-n", "")):
            args = set_option(args, opt, val)
        if "--mechanism" not in args:
            args += ["--mechanism", "generic-socialized-loss"]
    elif sub == "vectors":
        args = set_option(args, "--mechanism", "generic-socialized-loss")
    elif sub == "conform":
        args = set_option(args, "--filter", "op-deposit")
        i = args.index("--impl")
        if "my-engine" in args[i + 1]:  # the Node example implements this one mechanism
            args[i + 1] = NODE_IMPL
            args = set_option(args, "--mechanism", "generic-socialized-loss")
    return args


def designer_files(ws: Path) -> None:
    """my-venue.toml and my-venue-adl.toml, written as docs/guide-designer.md says."""
    seed = (ROOT / "spec/mechanisms/generic-socialized-loss.toml").read_text(encoding="utf-8")
    mine = (seed.replace('id = "generic-socialized-loss"', 'id = "my-venue"')
            .replace("fee_ppm = 5000", "fee_ppm = 10000")
            .replace('residue_sink = "bad_debt"', 'residue_sink = "insurance_fund"'))
    assert mine.count("my-venue") == 1 and "fee_ppm = 10000" in mine and '"insurance_fund"\n' in mine
    (ws / "my-venue.toml").write_text(mine, encoding="utf-8")
    final = next(b for b in blocks((ROOT / "docs/guide-designer.md").read_text(encoding="utf-8"), "toml")
                 if b.startswith("[final]"))
    adl = (mine[:mine.index("[final]")] + final).replace('id = "my-venue"', 'id = "my-venue-adl"')
    (ws / "my-venue-adl.toml").write_text(adl.replace('"I-PROP", "I-BOUND", ', ""), encoding="utf-8")


def workspace(tmp_path: Path) -> Path:
    for name in ("spec", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    designer_files(tmp_path)
    return tmp_path


def run_line(cmd: str, ws: Path) -> subprocess.CompletedProcess:
    words = shlex.split(cmd)
    out = None
    if ">" in words:
        k = words.index(">")
        words, out = words[:k], ws / words[k + 1]
    if words[0] == "cp":
        shutil.copy(ws / words[1], ws / words[2])
        return subprocess.CompletedProcess(words, 0, "", "")
    if words[0] == "waterfall":
        words[0] = ".venv/bin/waterfall"
    words = shorten(words)
    if not words[0].startswith(".venv/"):
        raise AssertionError(f"not a waterfall command and not in SKIP: {cmd!r}")
    words[0] = str(ws / words[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(words, cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    if out is not None:
        out.write_text(proc.stdout, encoding="utf-8")
    return proc


def expected_exit(comment: str) -> int:
    m = re.search(r"\bexit (\d)\b", comment)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("doc", DOCS)
def test_documented_commands_exit_as_documented(doc: str, tmp_path: Path) -> None:
    if "my-engine" in (ROOT / doc).read_text(encoding="utf-8") and shutil.which("node") is None:
        pytest.skip("node is not installed: the conformance commands need the Node example")
    ws = workspace(tmp_path)
    ran = 0
    for cmd, comment in commands(doc):
        if skip_reason(cmd):
            continue
        if cmd.startswith("cp ") and "my-venue" in cmd:
            continue  # the workspace already holds my-venue.toml, edited as the guide says
        proc = run_line(cmd, ws)
        want = expected_exit(comment)
        assert proc.returncode == want, (f"{doc}: `{cmd}` exited {proc.returncode}, the text says {want}\n"
                                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        assert "Traceback" not in proc.stderr, (doc, cmd, proc.stderr[-2000:])
        ran += 1
    assert ran >= 2, f"{doc}: only {ran} commands ran; is the extraction broken?"


def test_extraction_finds_the_commands_and_every_skip_is_used() -> None:
    found = {doc: commands(doc) for doc in DOCS}
    readme = [c for c, _ in found["README.md"]]
    assert ".venv/bin/waterfall mechanisms" in readme and "make fuzz" in readme
    assert any(c.startswith(".venv/bin/waterfall prove --mechanism my-venue-adl.toml")
               for c, _ in found["docs/guide-designer.md"])
    assert [expected_exit(k) for c, k in found["docs/guide-designer.md"] if "run cex/" in c] == [1]
    every = [c for cmds in found.values() for c, _ in cmds]
    for prefix, _ in SKIP:
        assert any(c.removeprefix(".venv/bin/").startswith(prefix) for c in every), f"stale skip {prefix!r}"


def test_a_wrong_documented_exit_code_fails(tmp_path: Path) -> None:
    """The check can fail: a documented finding that is not there, or a subcommand that is not."""
    ws = workspace(tmp_path)
    assert run_line(".venv/bin/waterfall verify --mechanism my-venue.toml", ws).returncode != 1
    assert run_line(".venv/bin/waterfall no-such-command", ws).returncode != 0
