"""Hostile inputs for every command (issue 13 §5): bad files, bad numbers, bad paths, bad
command lines, names with control characters. Each input is run through every command that
reads it, as a subprocess with a time bound; every run must exit 2 with a typed error
(`waterfall: error [E-...]` naming the file or option), no traceback, no hang, no raw
control character on the terminal, and nothing written.

    .venv/bin/python tests/hostile.py            # the full set (make hostile), totals at the end
    tests/cli/test_hostile.py                        # a bounded subset in CI

Classes: float numbers (5000.0, 1e9, inf, nan), repeated keys, keys of another layer kind,
unknown keys, wrong types, out-of-range values, huge integers, not UTF-8, empty, nested too
deeply, too large, too many layers / accounts / markets / operations, a FIFO, /dev/zero, a
directory, a missing file; CLI numbers negative, zero, NaN, infinite, not numbers, beyond
their bound; output paths that are files, devices or under a file; command lines that do
not parse; names with escape sequences.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
MECH = (ROOT / "spec" / "mechanisms" / "generic-socialized-loss.toml").read_text()
CCP = (ROOT / "spec" / "mechanisms" / "clearing-house-vmgh.toml").read_text()
SCEN = json.loads((ROOT / "spec" / "scenarios" / "fund-empty.json").read_text())
LIMIT = 60.0  # seconds per run: more is a hang
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Hostile:
    """One hostile input: how to make it in a directory, and the command lines that read it
    ('{f}' is the file, '{d}' the directory)."""

    name: str
    cls: str
    make: Callable[[Path], str]  # writes the input under the directory; returns the '{f}' path
    commands: list[list[str]]
    mentions: list[str] = field(default_factory=list)  # text the error must contain ('{f}' allowed)
    codes: tuple[int, ...] = (2,)  # acceptable exit codes (a valid input that was mishandled: 0 or 1)


def text(name: str, body: str | bytes) -> Callable[[Path], str]:
    def make(d: Path) -> str:
        p = d / name
        p.write_bytes(body if isinstance(body, bytes) else body.encode())
        return str(p)
    return make


def fifo(name: str) -> Callable[[Path], str]:
    def make(d: Path) -> str:
        p = d / name
        os.mkfifo(p)
        return str(p)
    return make


def fixed(path: str) -> Callable[[Path], str]:
    return lambda d: path


def scenario(edit: Callable[[dict], None]) -> str:
    doc = json.loads(json.dumps(SCEN))
    edit(doc)
    return json.dumps(doc)


MECH_COMMANDS = [["mechanisms", "{f}"], ["run", str(ROOT / "spec/scenarios/fund-empty.json"), "--mechanism", "{f}"],
                 ["vectors", "--out", "{d}/out", "--mechanism", "{f}"], ["verify", "--mechanism", "{f}"],
                 ["fuzz", "--mechanism", "{f}", "--examples", "1"], ["compare", str(ROOT / "spec/scenarios/fund-empty.json"),
                                                                    "--mechanisms", "{f}"],
                 ["prove", "--mechanism", "{f}", "--no-all-n", "--accounts", "2"], ["diff", "{f}", "deribit"],
                 ["conform", "--impl", "true", "--fuzz", "1", "--mechanism", "{f}"]]
SCEN_COMMANDS = [["run", "{f}"], ["compare", "{f}", "--mechanisms", "deribit"]]
SCEN_DIR_COMMANDS = [["verify", "--mechanism", "deribit", "--scenarios", "{d}"]]


def mechanism_inputs() -> list[Hostile]:
    """Mechanism files (TOML): every command that reads one."""
    out = []
    def m(name: str, cls: str, body: str | bytes, key: str = "") -> None:
        out.append(Hostile(name, cls, text("m.toml", body), MECH_COMMANDS, ["{f}"] + ([key] if key else [])))
    for v in ("5000.0", "5e3", "5.0E+3", "inf", "-inf", "nan", "1e9"):
        m(f"mech float fee_ppm={v}", "float", MECH.replace("fee_ppm = 5000", f"fee_ppm = {v}"), "liquidation.fee_ppm")
    m("mech float reserve", "float", MECH + '\n[[layers]]\nname = "f2"\nreserve = 1.0\n', "layers[1].reserve")
    m("mech float cap_ppm", "float", MECH.replace('residue_sink = "bad_debt"', 'residue_sink = "bad_debt"\ncap_ppm = 5e5'),
      "final.cap_ppm")
    m("mech float version", "float", MECH.replace("version = 1", "version = 1.0"), "version")
    for key, body in (("layers[1].cap_per_event", '\n[[layers]]\nname = "f2"\ncap_per_event = 1e3\n'),
                      ("layers[1].assessment_multiple_ppm",
                       '\n[[layers]]\nname = "f2"\nkind = "assessment"\nassessment_multiple_ppm = 2000000.0\n'),
                      ("layers[1].reserve", '\n[[layers]]\nname = "f2"\nreserve = -0.0\n'),
                      ("layers[1].reserve", '\n[[layers]]\nname = "f2"\nreserve = 1_000.5\n')):
        m(f"mech float {key} ({body.split(chr(10))[-2]})", "float", MECH + body, key)
    for key, line in (("final.rate_scale", "rate_scale = 1e9"), ("final.rate_scale", "rate_scale = 1000000000.0")):
        m(f"mech float {key} ({line})", "float", MECH.replace('policy = "haircut"\nprofit = "upnl"\nscope = "all_markets"\n'
                                                          'eligibility = "any_profit"\nrounding = "largest_remainder"',
                                                          f'policy = "levy"\n{line}'), key)
    m("mech float in claims", "float", MECH.replace('claims = ["I-CONS"', 'claims = [1.5, "I-CONS"'), "claims[0]")
    m("mech repeated key", "duplicate", MECH.replace("fee_ppm = 5000", "fee_ppm = 5000\nfee_ppm = 6000"))
    m("mech repeated table", "duplicate", MECH + "\n[liquidation]\nsurplus = \"all\"\n")
    for key, kind in (("cap_per_event = 1", "default_fund"), ("reserve = 5", "default_fund"),
                      ("scope = \"market\"", "assessment"), ("rounding = \"floor\"", "balance"),
                      ("assessment_multiple_ppm = 5", "balance"), ("reserve = 5", "defaulter_contribution"),
                      ("cap_per_event = 9", "assessment")):
        extra = "\nassessment_multiple_ppm = 1000000" if kind == "assessment" else ""
        m(f"mech {key.split()[0]} on a {kind} layer", "inapplicable key",
          MECH + f'\n[[layers]]\nname = "x"\nkind = "{kind}"{extra}\n{key}\n', f"layers[1].{key.split()[0]}")
    m("mech fee_ppm with surplus all", "inapplicable key", MECH.replace('surplus = "fee"', 'surplus = "all"'),
      "liquidation.fee_ppm")
    m("mech unknown key", "unknown key", MECH.replace("fee_ppm = 5000", "fee_ppm = 5000\nfees = 1"), "liquidation.fees")
    m("mech unknown final key", "unknown key", MECH.replace('policy = "haircut"', 'policy = "haircut"\nranking = "profit"'),
      "final.ranking")
    m("mech string for int", "type", MECH.replace("fee_ppm = 5000", 'fee_ppm = "5000"'), "liquidation.fee_ppm")
    m("mech bool for int", "type", MECH.replace("fee_ppm = 5000", "fee_ppm = true"), "liquidation.fee_ppm")
    m("mech negative fee", "range", MECH.replace("fee_ppm = 5000", "fee_ppm = -1"), "liquidation.fee_ppm")
    m("mech huge fee", "range", MECH.replace("fee_ppm = 5000", "fee_ppm = 1000000000000000000000000"), "liquidation.fee_ppm")
    m("mech huge reserve", "range", MECH + '\n[[layers]]\nname = "f2"\nreserve = 99999999999999999999999\n', "layers[1].reserve")
    m("mech 64-bit overflow int", "range", MECH.replace("fee_ppm = 5000", "fee_ppm = 99999999999999999999"),
      "liquidation.fee_ppm")
    m("mech unknown policy", "enum", MECH.replace('policy = "haircut"', 'policy = "lottery"'), "final.policy")
    m("mech residue sink missing", "semantic", MECH.replace('residue_sink = "bad_debt"', 'residue_sink = "nowhere"'),
      "final.residue_sink")
    m("mech layer named bad_debt", "semantic", MECH.replace('name = "insurance_fund"', 'name = "bad_debt"'),
      "layers[0].name")
    m("mech layers out of order", "semantic", CCP.replace('name = "defaulter_contribution"\nkind = "defaulter_contribution"',
                                                          'name = "dc"\nkind = "assessment"\nassessment_multiple_ppm = 1'),
      "layers[")
    m("mech unknown claim", "semantic", MECH.replace('claims = ["I-CONS"', 'claims = ["I-NOPE", "I-CONS"'), "claims[0]")
    m("mech empty file", "structure", "", "")
    m("mech not toml", "syntax", "this is = = not toml\n")
    m("mech not utf-8", "encoding", b"id = \"\xff\xfe\"\n")
    m("mech binary", "encoding", bytes(range(256)) * 4)
    m("mech nested too deeply", "structure", "x = " + "[" * 5000 + "]" * 5000 + "\n")
    m("mech too many layers", "count", MECH + "".join(f'\n[[layers]]\nname = "l{i}"\n' for i in range(60_000)), "layers")
    m("mech 33 layers", "count", MECH + "".join(f'\n[[layers]]\nname = "l{i}"\n' for i in range(32)), "layers")
    m("mech id with escape", "control", MECH.replace('id = "generic-socialized-loss"', 'id = "x\\u001b[2J"'), "id")
    m("mech name with escape", "control", MECH.replace("fee_ppm = 5000", "fee_ppm = 5000.0").replace(
        'name = "Generic', 'name = "\\u001b]0;pwned\\u0007Generic'), "liquidation.fee_ppm")
    out.append(Hostile("mech too large", "size", text("big.toml", "#" * (17 * 2**20)), MECH_COMMANDS[:3], ["{f}", "bytes"]))
    out.append(Hostile("mech FIFO", "file kind", fifo("fifo.toml"), MECH_COMMANDS[:4], ["{f}", "FIFO"]))
    out.append(Hostile("mech /dev/zero", "file kind", fixed("/dev/zero"), MECH_COMMANDS[:4], ["/dev/zero", "device"]))
    out.append(Hostile("mech a directory", "file kind", lambda d: str(d), MECH_COMMANDS[:1], ["directory"]))
    out.append(Hostile("mech missing file", "file kind", lambda d: str(d / "nope.toml"), MECH_COMMANDS[:4], ["nope.toml"]))
    return out


def scenario_inputs() -> list[Hostile]:
    """Scenario files (JSON): run and compare, and verify --scenarios on their directory."""
    out = []
    def s(name: str, cls: str, body: str | bytes, key: str = "") -> None:
        out.append(Hostile(name, cls, text("s.json", body), SCEN_COMMANDS + SCEN_DIR_COMMANDS,
                           ["s.json"] + ([key] if key else [])))
    base = json.dumps(SCEN)
    s("scen float version", "float", base.replace('"version": 1', '"version": 1.0'), "version")
    s("scen exponent version", "float", base.replace('"version": 1', '"version": 1e0'), "version")
    s("scen NaN", "float", base.replace('"version": 1', '"version": NaN'))
    s("scen Infinity", "float", base.replace('"version": 1', '"version": Infinity'))
    s("scen repeated key", "duplicate", base.replace('"version": 1', '"version": 1, "version": 1'), "version")
    s("scen repeated name", "duplicate", base.replace('"name": "fund-empty"', '"name": "a", "name": "b"'), "name")
    s("scen number for string int", "type", scenario(lambda d: d["state"]["accounts"][0].update(collateral=10000)),
      "collateral")
    s("scen float string int", "type", scenario(lambda d: d["state"]["accounts"][0].update(collateral="1e4")),
      "collateral")
    s("scen decimal string", "type", scenario(lambda d: d["state"]["accounts"][0].update(collateral="10000.0")),
      "collateral")
    s("scen collateral beyond bound", "range",
      scenario(lambda d: d["state"]["accounts"][0].update(collateral="1" + "0" * 40)), "collateral")
    s("scen op amount 10^400", "range", scenario(lambda d: d["ops"].insert(0, {"op": "deposit", "account": "alice",
                                                                              "amount": "1" + "0" * 400})), "ops[0]")
    s("scen not zero-sum", "semantic", scenario(lambda d: d["state"]["accounts"][0]["positions"][0].update(size="-61")),
      "state")
    s("scen unknown market", "semantic", scenario(lambda d: d["state"]["accounts"][0]["positions"][0].update(market="X")),
      "state")
    s("scen duplicate account", "semantic", scenario(lambda d: d["state"]["accounts"].append(d["state"]["accounts"][0])),
      "state")
    for op in ({"op": "deposit", "account": "alice", "amount": 5}, {"op": "deposit", "account": "alice", "amount": 5.0},
               {"op": "withdraw", "account": "alice", "amount": "5.0"}, {"op": "set_mark", "market": "BTC-PERP", "price": 1e3},
               {"op": "funding", "market": "BTC-PERP", "rate": "1e2"}, {"op": "deposit", "account": "alice", "amount": " 5"},
               {"op": "deposit", "account": "alice", "amount": "+5"}, {"op": "deposit", "account": "alice", "amount": True},
               {"op": "trade", "buyer": "alice", "seller": "bob", "market": "BTC-PERP", "size": [1], "price": "1"},
               {"op": "liquidate", "account": "alice", "fill_prices": {"BTC-PERP": 999.5}}):
        s(f"scen op {json.dumps(op)[:60]}", "op field", scenario(lambda d, op=op: d["ops"].insert(0, op)), "ops[0]")
    s("scen unknown op", "enum", scenario(lambda d: d["ops"].insert(0, {"op": "steal", "account": "alice"})), "ops[0]")
    s("scen unknown key", "unknown key", scenario(lambda d: d.update(extra=1)), "extra")
    s("scen too many accounts", "count", scenario(lambda d: d["state"]["accounts"].extend(
        {"id": f"x{i}", "collateral": "0"} for i in range(20_000))), "state.accounts")
    s("scen too many markets", "count", scenario(lambda d: d["state"]["markets"].extend(
        {"id": f"M{i}", "mark": "1", "im_ppm": "0", "mm_ppm": "0"} for i in range(200))), "state.markets")
    s("scen too many ops", "count", scenario(lambda d: d["ops"].extend(
        {"op": "set_mark", "market": "BTC-PERP", "price": "1"} for _ in range(5_000))), "ops")
    s("scen too many layers", "count", scenario(lambda d: d["state"].update(layers={f"l{i}": "1" for i in range(5_000)})),
      "state.layers")
    s("scen empty", "structure", "")
    s("scen a list", "structure", "[]")
    s("scen nested too deeply", "structure", "[" * 100_000 + "]" * 100_000)
    s("scen not utf-8", "encoding", b'{"format": "\xff"}')
    s("scen account with escape", "control", scenario(lambda d: d["state"]["accounts"][0].update(id="\u001b[31mred")
                                                      or d["state"]["accounts"][0]["positions"][0].update(size="1")),
      "state")
    s("scen name with escape and float", "control", scenario(lambda d: d.update(name="\u001b[2J\u202e", version=1.5)),
      "version")
    out.append(Hostile("scen too large", "size", text("s.json", b" " * (17 * 2**20) + b"{}"), SCEN_COMMANDS, ["bytes"]))
    out.append(Hostile("scen FIFO", "file kind", fifo("s.json"), SCEN_COMMANDS, ["FIFO"]))
    out.append(Hostile("scen /dev/zero", "file kind", fixed("/dev/zero"), SCEN_COMMANDS[:1], ["device"]))
    out.append(Hostile("scen directory", "file kind", lambda d: str(d), SCEN_COMMANDS[:1], ["directory"]))
    return out


def number_inputs() -> list[Hostile]:
    """Every numeric option with values that are negative, zero, not finite, not numbers, too large."""
    options = [(["fuzz", "--mechanism", "deribit"], "--steps", ("-1", "0", "nan", "1e3", "x", "1001", "")),
               (["fuzz", "--mechanism", "deribit"], "--examples", ("-5", "nan", "10000001", "1.5")),
               (["fuzz", "--mechanism", "deribit"], "--seconds", ("-1", "0", "nan", "inf", "-inf", "1e400", "x")),
               (["prove", "--no-all-n", "--mechanism", "deribit"], "--accounts", ("100000", "1", "0", "-3", "65", "nan")),
               (["prove", "--no-all-n", "--mechanism", "deribit"], "--timeout", ("-1", "0", "nan", "inf", "1e9")),
               (["prove", "--no-all-n", "--mechanism", "deribit"], "--jobs", ("0", "-1", "1000", "x")),
               (["report", "--mechanism", "deribit", "--out", "{d}/r"], "--accounts", ("100000", "1")),
               (["report", "--mechanism", "deribit", "--out", "{d}/r"], "--fuzz-examples", ("-1", "0", "nan")),
               (["report", "--mechanism", "deribit", "--out", "{d}/r"], "--time-n", ("1,2", "2,x", "100000")),
               (["crosshair", "--function", "waterfall.model.units.div_floor"], "--per-condition-timeout",
                ("-1", "0", "nan", "inf")),
               (["crosshair", "--function", "waterfall.model.units.div_floor"], "--max-uninteresting-iterations",
                ("-1", "0", "x")),
               (["diff", "deribit", "capped-pro-rata"], "--seconds", ("-1", "0", "nan", "inf")),
               (["conform", "--impl", "true"], "--timeout", ("-1", "0", "nan", "inf", "1e9")),
               (["conform", "--impl", "true"], "--deadline", ("-1", "0", "nan", "inf")),
               (["conform", "--impl", "true"], "--fuzz", ("-1", "0", "nan", "1e3")),
               (["conform", "--impl", "true", "--fuzz", "1"], "--seed", ("-1", "x", "1.5", "99999999999999999999999")),
               (["conform", "--impl", "true"], "--stop-after", ("0", "-1", "nan")),
               (["vectors", "--out", "{d}/o"], "--mechanism", ("no-such-mechanism", "generic")),
               (["run", str(ROOT / "spec/scenarios/fund-empty.json")], "--mechanism", ("no-such", "deribitt")),
               (["compare", str(ROOT / "spec/scenarios/fund-empty.json")], "--mechanisms", (",", "deribit,nope"))]
    out = []
    for head, opt, values in options:
        for v in values:
            named = v.split(",")[-1] if opt.startswith("--mechanism") else opt  # an unknown id is named itself
            out.append(Hostile(f"{head[0]} {opt} {v!r}", "cli number" if named == opt else "cli id", lambda d: "",
                               [[*head, opt, v]], [named]))
    return out


def path_inputs() -> list[Hostile]:
    """Output paths checked before any work, and command lines that do not parse."""
    def afile(d: Path) -> str:
        (d / "file").write_text("x")
        return str(d / "file")
    cases = [("vectors --out is a file", afile, ["vectors", "--out", "{f}"], "--out"),
             ("vectors --out under a file", afile, ["vectors", "--out", "{f}/sub"], "--out"),
             ("vectors --out /dev/null", fixed("/dev/null"), ["vectors", "--out", "{f}"], "--out"),
             ("vectors --out empty", fixed(""), ["vectors", "--out", ""], "--out"),
             ("report --out is a file", afile, ["report", "--mechanism", "deribit", "--out", "{f}"], "--out"),
             ("fuzz --save is a file", afile, ["fuzz", "--mechanism", "deribit", "--save", "{f}"], "--save"),
             ("prove --save is a file", afile, ["prove", "--no-all-n", "--mechanism", "deribit", "--save", "{f}"], "--save"),
             ("conform --save is a file", afile, ["conform", "--impl", "true", "--fuzz", "1", "--save", "{f}"], "--save"),
             ("conform --junit is a directory", lambda d: str(d), ["conform", "--impl", "true", "--junit", "{f}"],
              "--junit"),
             ("conform --junit under a file", afile, ["conform", "--impl", "true", "--junit", "{f}/j.xml"], "--junit"),
             ("conform --junit a device", fixed("/dev/zero"), ["conform", "--impl", "true", "--junit", "{f}"], "--junit"),
             ("conform --impl unbalanced quote", fixed(""), ["conform", "--impl", "python 'oops"], "--impl"),
             ("conform --impl empty", fixed(""), ["conform", "--impl", "  "], "--impl"),
             ("conform --impl missing program", fixed(""), ["conform", "--impl", "no-such-program-xyz"], "no-such-program"),
             ("conform --impl a directory", lambda d: str(d), ["conform", "--impl", "{f}"], "cannot start"),
             ("conform --vectors missing", fixed("/nonexistent/v"), ["conform", "--impl", "true", "--vectors", "{f}"],
              "/nonexistent/v"),
             ("conform --vectors is a file", afile, ["conform", "--impl", "true", "--vectors", "{f}"], "file"),
             ("conform unknown mechanism", fixed(""), ["conform", "--impl", "true", "--mechanism", "generic"],
              "generic-socialized-loss"),
             ("conform misspelt mechanism", fixed(""), ["conform", "--impl", "true", "--mechanism", "drift-v3"],
              "did you mean 'drift-v2'?"),
             ("conform empty filter", fixed(""), ["conform", "--impl", "true", "--filter", "zzz-no-such"], "--filter"),
             ("verify --scenarios empty dir", lambda d: str(d), ["verify", "--mechanism", "deribit", "--scenarios", "{f}"],
              "no scenario"),
             ("prove unknown invariant", fixed(""), ["prove", "--no-all-n", "--invariant", "I-NOPE"], "I-NOPE"),
             ("crosshair unknown function", fixed(""), ["crosshair", "--function", "os.system"], "os.system"),
             ("mechanisms unknown id", fixed(""), ["mechanisms", "no-such-mech"], "no-such-mech"),
             ("compare neither file nor all", fixed(""), ["compare"], "scenario")]
    return [Hostile(n, "cli path", make, [argv], [mention]) for n, make, argv, mention in cases]


def vector_inputs() -> list[Hostile]:
    """Vector directories: tampered, unlisted, without manifest, bad JSON."""
    src = ROOT / "spec" / "vectors"
    manifest = json.loads((src / "manifest.json").read_text())
    entry = next(e for e in manifest["vectors"] if e["path"] == "generic-socialized-loss/op-deposit.json")

    def make(edit_text: Callable[[str], str], listed: bool = True, with_manifest: bool = True) -> Callable[[Path], str]:
        def build(d: Path) -> str:
            v = d / "v"
            (v / "generic-socialized-loss").mkdir(parents=True)
            body = edit_text((src / entry["path"]).read_text())
            (v / entry["path"]).write_text(body)
            if not listed:  # a second file, not in the manifest
                (v / "generic-socialized-loss" / "extra.json").write_text(body)
            if with_manifest:
                (v / "manifest.json").write_text(json.dumps({**manifest, "vectors": [entry]}))
            return str(v)
        return build
    cmd = [["conform", "--impl", "true", "--vectors", "{f}"]]
    return [Hostile("vectors tampered expectation", "vectors", make(lambda t: t.replace('"10001"', '"10002"')), cmd,
                    ["SHA-256"]),
            Hostile("vectors not JSON", "vectors", make(lambda t: t[:-5]), cmd, ["op-deposit.json"]),
            Hostile("vectors unlisted file", "vectors", make(lambda t: t, listed=False), cmd, ["not listed"]),
            Hostile("vectors no manifest", "vectors", make(lambda t: t, with_manifest=False), cmd, ["manifest.json"])]


FAMILY_EXAMPLES = ("generic-socialized-loss", "capped-pro-rata", "drift-v2", "bitmex-adl", "paradex-withdrawal-haircut",
                   "gmx-v2", "clearing-house-vmgh", "chitra-queue", "percolator-warmup")


def issue21_inputs() -> list[Hostile]:
    """Issue 21: init, replay --emit-test, diff on every family, every output option under a
    file, under /proc or through a symlink loop, long ids and path components, a scenario's
    own unknown mechanism, the new mechanism keys, time operations and records, records for
    layers or markets that do not exist."""
    out: list[Hostile] = []

    def afile(d: Path) -> str:
        (d / "file").write_text("x")
        return str(d / "file")

    def loop(d: Path) -> str:
        os.symlink(d / "loop-b", d / "loop-a")
        os.symlink(d / "loop-a", d / "loop-b")
        return str(d / "loop-a")
    finding = str(ROOT / "spec/findings/drift-v2-I-NONNEG-2aa24cb7.json")
    fund = str(ROOT / "spec/scenarios/fund-empty.json")
    paths = [("init under a file", afile, ["init", "{f}/x.toml", "--family", "levy"], "FILE"),
             ("init on a symlink loop", loop, ["init", "{f}", "--family", "levy"], "FILE"),
             ("init under a symlink loop", loop, ["init", "{f}/x.toml", "--family", "levy"], "FILE"),
             ("init under /proc", fixed("/proc/x"), ["init", "{f}/y/x.toml", "--family", "levy"], "FILE"),
             ("init a long file name", fixed(""), ["init", "{d}/" + "a" * 300 + ".toml", "--family", "levy"], "FILE"),
             ("replay --emit-test a directory", lambda d: str(d), ["replay", finding, "--emit-test", "{f}"],
              "--emit-test"),
             ("replay --emit-test under a file", afile, ["replay", finding, "--emit-test", "{f}/t.py"], "--emit-test"),
             ("replay --emit-test a symlink loop", loop, ["replay", finding, "--emit-test", "{f}"], "--emit-test"),
             ("vectors --out under /proc", fixed("/proc/x/out"), ["vectors", "--out", "{f}"], "--out"),
             ("vectors --out a symlink loop", loop, ["vectors", "--out", "{f}/v"], "--out"),
             ("vectors --out a long component", fixed(""), ["vectors", "--out", "{d}/" + "v" * 300], "--out"),
             ("prove --save under /proc", fixed("/proc/x/out"),
              ["prove", "--no-all-n", "--mechanism", "deribit", "--accounts", "2", "--save", "{f}"], "--save"),
             ("prove --junit under /proc", fixed("/proc/x/j.xml"),
              ["prove", "--no-all-n", "--mechanism", "deribit", "--accounts", "2", "--junit", "{f}"], "--junit"),
             ("prove --sarif under a file", afile,
              ["prove", "--no-all-n", "--mechanism", "deribit", "--accounts", "2", "--sarif", "{f}/s.json"], "--sarif"),
             ("report --out under /proc", fixed("/proc/x/out"), ["report", "--mechanism", "deribit", "--out", "{f}"],
              "--out"),
             ("report --junit under /proc", fixed("/proc/x/j.xml"),
              ["report", "--mechanism", "deribit", "--out", "{d}/r", "--junit", "{f}"], "--junit"),
             ("fuzz --save under /proc", fixed("/proc/x/out"), ["fuzz", "--mechanism", "deribit", "--save", "{f}"],
              "--save"),
             ("fuzz --database under /proc", fixed("/proc/x/db"),
              ["fuzz", "--mechanism", "deribit", "--database", "{f}"], "--database"),
             ("conform --save under /proc", fixed("/proc/x/out"),
              ["conform", "--impl", "true", "--fuzz", "1", "--save", "{f}"], "--save"),
             ("conform --junit under /proc", fixed("/proc/x/j.xml"), ["conform", "--impl", "true", "--junit", "{f}"],
              "--junit")]
    out += [Hostile(n, "cli path (issue 21)", make, [argv], [m]) for n, make, argv, m in paths]
    for a in FAMILY_EXAMPLES:
        out.append(Hostile(f"diff gmx-v2 {a}", "diff family", fixed(""), [["diff", "gmx-v2", a, "--seconds", "1"]],
                           codes=(0, 1)))
    long_id = "a" * 240
    out.append(Hostile("mech id longer than a file name", "long id",
                       text("m.toml", MECH.replace('id = "generic-socialized-loss"', f'id = "{long_id}"')),
                       [["vectors", "--out", "{d}/out", "--mechanism", "{f}"], ["fuzz", "--mechanism", "{f}", "--seconds",
                                                                                "1", "--save", "{d}/s"]], ["id"]))
    def own(name: str, edit: Callable[[dict], None], key: str, commands: list[list[str]]) -> None:
        out.append(Hostile(name, "scenario (issue 21)", text("s.json", scenario(edit)), commands, ["s.json", key]))
    named = [["run", "{f}", "--mechanism", "deribit"], ["compare", "{f}", "--mechanisms", "deribit"],
             ["verify", "--mechanism", "deribit", "--scenarios", "{d}"], ["replay", "{f}", "--mechanism", "deribit"]]
    own("scen names an unknown mechanism", lambda d: d.update(mechanism="deribitt"), "mechanism", named)
    own("scen names a missing mechanism file", lambda d: d.update(mechanism="nope.toml"), "mechanism", named)
    own("scen mechanisms lists an unknown id", lambda d: d.update(mechanisms=["deribit", "nope"]), "mechanisms[1]",
        [["compare", "{f}"]])
    run_it = [["run", "{f}", "--mechanism", "deribit"], ["run", "{f}", "--mechanism", "bybit-adl"]]
    own("scen history of a layer the mechanism lacks", lambda d: d["state"].update(
        layer_history={"no_such_layer": [["0", "5"]]}), "no_such_layer", run_it)
    own("scen deferred of an unknown market", lambda d: d["state"].update(deferred={"NOPE": "5"}), "NOPE", run_it)
    own("scen layer_paid of an unknown market", lambda d: d["state"].update(layer_paid={"insurance_fund:NOPE": "5"}),
        "insurance_fund:NOPE", run_it)
    own("scen layer_paid without a lifetime cap", lambda d: d["state"].update(
        layer_paid={"insurance_fund:BTC-PERP": "5"}), "insurance_fund:BTC-PERP", [run_it[0]])
    own("scen partial_at of an unknown account", lambda d: d["state"].update(partial_at={"zed": "0"}), "zed", run_it)
    own("scen partial_at after the clock", lambda d: d["state"].update(clock="10", partial_at={"alice": "11"}),
        "alice", run_it)
    own("scen window_base of an unknown account", lambda d: d["state"].update(window_base={"zed": "0"}), "zed", run_it)
    own("scen assessable of an unknown account", lambda d: d["state"].update(assessable={"zed": "0"}), "zed", run_it)
    own("scen history after the clock", lambda d: d["state"].update(
        clock="5", layer_history={"insurance_fund:BTC-PERP": [["6", "1"]]}), "layer", [run_it[1]])
    own("scen history a lone point", lambda d: d["state"].update(layer_history={"insurance_fund": [["1"]]}),
        "layer_history", run_it)
    own("scen clock float", lambda d: d["state"].update(clock=1.5), "clock", run_it)
    own("scen clock beyond the bound", lambda d: d["state"].update(clock="1" + "0" * 30), "clock", run_it)
    own("scen clock negative", lambda d: d["state"].update(clock="-1"), "clock", run_it)
    own("scen prev_mark negative", lambda d: d["state"]["markets"][0].update(prev_mark="-1"), "prev_mark", run_it)
    for op in ({"op": "advance_time", "seconds": 1.5}, {"op": "advance_time", "seconds": "1e3"},
               {"op": "advance_time"}, {"op": "advance_time", "seconds": "1" + "0" * 400},
               {"op": "deleverage", "account": "alice", "market": "BTC-PERP", "size": 1.0},
               {"op": "deleverage", "account": "alice", "market": "BTC-PERP"}):
        own(f"scen time op {json.dumps(op)[:90]}", lambda d, op=op: d["ops"].insert(0, op), "ops[0]", run_it)
    mkeys = (("drawdown_ppm float", "[[layers]]\nname = \"f2\"\ndrawdown_ppm = 1e5\ndrawdown_window = 10\n", "drawdown_ppm"),
             ("drawdown_mode unknown", "[[layers]]\nname = \"f2\"\ndrawdown_ppm = 1\ndrawdown_window = 1\n"
              "drawdown_mode = \"sometimes\"\n", "drawdown_mode"),
             ("lifetime_cap negative", "[[layers]]\nname = \"f2\"\nlifetime_cap = -1\n", "lifetime_cap"),
             ("assessment_period on a balance", "[[layers]]\nname = \"f2\"\nassessment_period = 60\n",
              "assessment_period"),
             ("isolated not a list", "[[layers]]\nname = \"f2\"\nisolated = \"M\"\n", "isolated"))
    for name, layer, key in mkeys:
        out.append(Hostile(f"mech {name}", "mech key (issue 21)", text("m.toml", MECH + "\n" + layer), MECH_COMMANDS[:4],
                           ["{f}", key]))
    finals = (("severity above 10^6", "severity_ppm = 2000000", "severity_ppm"),
              ("severity float", "severity_ppm = 5e5", "severity_ppm"),
              ("exempt not a list", 'exempt = "amm"', "exempt"),
              ("window negative", "window = -1", "window"),
              ("timing unknown", 'timing = "later"', "timing"),
              ("order unknown", 'order = "random"', "order"))
    for name, line, key in finals:
        out.append(Hostile(f"mech {name}", "mech key (issue 21)",
                           text("m.toml", MECH.replace('residue_sink = "bad_debt"', f'residue_sink = "bad_debt"\n{line}')),
                           MECH_COMMANDS[:4], ["{f}", key]))
    out.append(Hostile("mech step_cooldown not an integer", "mech key (issue 21)",
                       text("m.toml", MECH.replace("fee_ppm = 5000", 'fee_ppm = 5000\nstep_cooldown = "30"')),
                       MECH_COMMANDS[:4], ["{f}", "step_cooldown"]))
    return out


def all_inputs() -> list[Hostile]:
    return (mechanism_inputs() + scenario_inputs() + number_inputs() + path_inputs() + vector_inputs()
            + issue21_inputs())


@dataclass
class Run:
    """One command on one hostile input, and what went wrong (empty: nothing)."""

    input: str
    argv: list[str]
    code: int | None
    seconds: float
    problems: list[str]


def run_one(h: Hostile, argv: list[str], work: Path) -> Run:
    """Run `waterfall ARGV` on the input made in a fresh directory; judge the outcome."""
    d = Path(tempfile.mkdtemp(dir=work))
    f = h.make(d)
    args = [a.replace("{f}", f).replace("{d}", str(d)) for a in argv]
    before = sorted(p.relative_to(d) for p in d.rglob("*")) if d.exists() else []
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "waterfall.cli.main", *args], capture_output=True, timeout=LIMIT,
                           stdin=subprocess.DEVNULL, cwd=d)
        code, out, err = p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return Run(h.name, args, None, LIMIT, ["hang"])
    spent = time.monotonic() - t0
    problems = []
    if "Traceback" in out + err:
        problems.append("traceback")
    if code not in h.codes:
        problems.append("silent acceptance" if code == 0 else f"exit {code}")
    if RAW_CONTROL.search((out + err).replace("\n", "").replace("\t", "").replace("\r", "")):
        problems.append("raw control character")
    after = sorted(p.relative_to(d) for p in d.rglob("*"))
    if after != before:
        problems.append(f"wrote {sorted(set(after) - set(before))[:3]}")
    for m in h.mentions:
        m = m.replace("{f}", f)
        if m and m not in out + err and code == 2 and 2 in h.codes:
            problems.append(f"does not name {m!r}")
    return Run(h.name, args, code, spent, problems)


def main() -> int:
    """The full set: every input through every command that reads it; totals."""
    inputs = all_inputs()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for h in inputs:
            for argv in h.commands:
                r = run_one(h, argv, Path(tmp))
                runs.append(r)
                mark = "ok" if not r.problems else "PROBLEM " + "; ".join(r.problems)
                print(f"[{len(runs):4}] {r.seconds:5.1f}s exit {r.code}  {h.name}: {' '.join(argv)[:70]}  {mark}",
                      flush=True)
    count = {k: sum(any(p.startswith(k) for p in r.problems) for r in runs)
             for k in ("traceback", "hang", "silent acceptance", "exit", "raw control", "wrote", "does not name")}
    print(f"\n{len(inputs)} hostile inputs, {len(runs)} runs: {count['traceback']} tracebacks, {count['hang']} hangs, "
          f"{count['silent acceptance']} silent acceptances, {count['exit']} wrong exit codes, "
          f"{count['raw control']} raw control characters, {count['wrote']} runs that wrote files, "
          f"{count['does not name']} errors not naming the file / key / option; slowest run "
          f"{max(r.seconds for r in runs):.1f} s")
    return 1 if any(r.problems for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
