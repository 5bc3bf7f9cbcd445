"""R-PROVE-12: relational claims (I-PATH, I-SCALE, I-SPLIT) proved on model.step by
self-composition (proofs/prove/relational.py), with the prover's sanity gates, replayed
counterexamples and k/m in the verdict; the catalogue states its relational claims under
`relations` (loader-checked).

Each verdict kind is made to happen on a real mechanism (a proof, a refutation, an
unreached trigger), the tautology gate on a relation that holds whatever its runs return,
and a planted bug (a dust threshold in the haircut, a realistic one-line edit of model/)
breaks I-SCALE on a mechanism where it is proved, and is refuted there.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from waterfall.cli.main import main
from waterfall.model.codec import op_from_json, state_from_json
from waterfall.model.errors import MechanismError
from waterfall.model.loader import catalogue, load_mechanism, mechanism_from_doc
from waterfall.proofs import verdict as V
from waterfall.proofs.mutation import planted
from waterfall.proofs.prove import relational as R
from waterfall.proofs.prove.harness import Sizes
from waterfall.proofs.prove.prover import Evidence, prove_mechanism
from waterfall.spec import invariants as spec_invariants
from waterfall.spec.invariants import RELATIONS

CAT = catalogue()
K2 = Sizes(2, 1)


def mech(mid: str) -> Any:
    return load_mechanism(CAT[mid])


def prove(mid: str, rid: str, sizes: Sizes = K2, timeout: float = 120.0, samples: int = 0) -> V.Verdict:
    """The exploration alone unless samples (the small-scope search) is asked."""
    m = mech(mid)
    cells = R.prove_relations(m, [rid], sizes, timeout, samples=samples)
    return R.verdict(m, rid, sizes, cells[rid])


# ---- verdicts on the code -----------------------------------------------------------------

def test_R_PROVE_12_relation_proved_by_self_composition_with_a_replayed_witness() -> None:
    v = prove("chitra-queue", "I-PATH")
    assert v.kind == V.PROVED_UP_TO and (v.accounts, v.markets) == (2, 1), v.reason
    assert v.short().startswith("PROVED N<=2 M<=1")
    assert v.stats["paths"] > 0 and v.stats["explored"] >= v.stats["paths"]
    # the witness is a venue where both orders apply and the loss reaches another account
    state, op = state_from_json(v.witness["state"]), op_from_json(v.witness["op"])
    assert RELATIONS["I-PATH"].holds(state, op, mech("chitra-queue"), v.witness["parameter"]) is True
    assert RELATIONS["I-PATH"].trigger(state, op, mech("chitra-queue"), v.witness["parameter"])


@pytest.mark.parametrize("rid", ["I-PATH", "I-SCALE"])
def test_R_PROVE_12_counterexample_replayed_through_the_model(rid: str) -> None:
    """bybit-adl: the queue's second liquidation sees the first one's fills (I-PATH) and the
    bankruptcy price is rounded per lot (I-SCALE): refuted on the code, and the saved
    scenario fails the relation's own check on Python integers."""
    m = mech("bybit-adl")
    v = prove("bybit-adl", rid)
    assert v.kind == V.COUNTEREXAMPLE and not v.claimed, v.reason
    doc = v.counterexample
    state, op = state_from_json(doc["state"]), op_from_json(doc["ops"][0])
    assert RELATIONS[rid].holds(state, op, m, v.stats["parameter"]) is False
    from waterfall.report.trace import build
    t = build(doc, m, rid)  # `waterfall replay`: the violation at step 1, both runs shown
    assert t.violated_at == 1 and len(t.runs) == 2


def test_R_PROVE_12_unreached_trigger_is_not_a_proof() -> None:
    """With two accounts and a counterparty there is no third account to split; the only
    split case (a bankrupt without positions) never changes the split account's equity in
    bitmex-2015's weekly settlement: UNREACHED, never PROVED."""
    v = prove("bitmex-2015-profit-equalisation", "I-SPLIT")
    assert v.kind == V.UNREACHED and "trigger" in v.reason


def test_R_PROVE_12_tautology_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A relation that compares nothing the runs return holds whatever they return: TRIVIAL.
    The real I-PATH on the same witness is not a tautology."""
    m = mech("chitra-queue")
    witness = R.prove_relations(m, ["I-PATH"], K2, 120)["I-PATH"].witness
    assert witness is not None and R.fires(m, "I-PATH", witness)
    assert not R.tautology(m, "I-PATH", witness)

    def compares_nothing(state: Any, op: Any, mech_: Any, other: object) -> bool | None:
        ab = spec_invariants._run(state, [op], mech_)
        return None if ab is None else (ab.bad_debt == ab.bad_debt)
    monkeypatch.setitem(RELATIONS, "I-PATH", replace(RELATIONS["I-PATH"], holds=compares_nothing))
    assert R.tautology(m, "I-PATH", witness)
    assert prove("chitra-queue", "I-PATH").kind == V.TRIVIAL


def test_R_PROVE_12_verdicts_through_prove_and_its_json() -> None:
    """prove_mechanism carries the relation's evidence through Evidence's JSON (the matrix's
    worker processes) and gives the same verdict; a relation is claimed where the file says so."""
    m = mech("chitra-queue")
    vs, _ = prove_mechanism(m, ["I-PATH"], K2, ["liquidate"], 120)
    assert [(v.invariant, v.kind) for v in vs] == [("I-PATH", V.PROVED_UP_TO)]
    ev = Evidence(m.id, {}, [], [], relations={"I-PATH": {"paths": 3, "counterexample": None}})
    assert Evidence.from_json(json.loads(json.dumps(ev.to_json()))).relations == ev.relations
    vs, _ = prove_mechanism(m, ["I-PATH"], K2, ["deposit"], 60)
    assert vs[0].kind == V.NOT_APPLICABLE and "proved on liquidations" in vs[0].reason


def test_R_PROVE_12_cli_shows_relational_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["prove", "--mechanism", "bybit-adl", "--invariant", "I-PATH", "--operation", "liquidate",
                 "--accounts", "2", "--markets", "1", "--jobs", "1", "--no-all-n", "--json"])
    out = json.loads(capsys.readouterr().out)
    (v,) = out["verdicts"]
    assert v["kind"] == V.COUNTEREXAMPLE and v["counterexample"]["ops"][0]["op"] == "liquidate"
    assert code == 0  # not claimed by bybit-adl: a documented property, not a finding


# ---- a planted bug breaks a relation and is refuted --------------------------------------

DUST = planted.Bug("haircut-dust-threshold", "haircut.py", "if profit <= 0 or (net and total <= 0):",
                   "if profit <= 5 or (net and total <= 0):", "generic-socialized-loss", ("I-SCALE",))
"""Profits of up to 5 base units are not haircut (a dust threshold in absolute units): at
scale 3 the same account's profit is above it, so the scaled venue haircuts an account the
original spares."""

CHILD = """
import json, sys
from pathlib import Path
from waterfall.proofs.mutation.model_copy import use_model
use_model(Path(sys.argv[1]))
from waterfall.model.loader import resolve_mechanism
from waterfall.model.codec import op_from_json, state_from_json
from waterfall.proofs.prove import relational as R
from waterfall.proofs.prove.harness import Sizes
from waterfall.spec.invariants import RELATIONS
m = resolve_mechanism("generic-socialized-loss")
v = R.verdict(m, "I-SCALE", Sizes(2, 1), R.prove_relations(m, ["I-SCALE"], Sizes(2, 1), 240, samples=0)["I-SCALE"])
doc = v.counterexample
fails = doc is not None and RELATIONS["I-SCALE"].holds(state_from_json(doc["state"]),
                                                       op_from_json(doc["ops"][0]), m, 3) is False
print(json.dumps({"kind": v.kind, "claimed": v.claimed, "doc": doc, "fails_in_planted_model": fails}))
"""


def test_R_PROVE_12_planted_bug_breaking_a_relation_is_refuted(tmp_path: Path) -> None:
    tree = planted.plant(DUST, tmp_path)
    p = subprocess.run([sys.executable, "-c", CHILD, str(tree)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["kind"] == V.COUNTEREXAMPLE and out["claimed"] and out["fails_in_planted_model"], out
    doc, m = out["doc"], mech("generic-socialized-loss")
    # the same venue under the real model: the relation holds there (the bug, not the venue, breaks it)
    assert RELATIONS["I-SCALE"].holds(state_from_json(doc["state"]), op_from_json(doc["ops"][0]), m, 3) is True


# ---- the catalogue states its relational claims ------------------------------------------

def test_R_PROVE_12_every_catalogue_file_states_its_relations() -> None:
    import tomllib
    for mid, path in CAT.items():
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        assert "relations" in doc, mid
        m = load_mechanism(path)
        assert set(m.relations) == set(doc["relations"]) <= set(RELATIONS) and set(m.relations) <= set(m.claims)
        assert not set(doc.get("claims", ())) & set(RELATIONS), mid


def _doc(**extra: Any) -> dict[str, Any]:
    import tomllib
    return {**tomllib.loads(Path(CAT["generic-socialized-loss"]).read_text(encoding="utf-8")), **extra}


def test_R_PROVE_12_loader_refuses_a_relation_under_claims_and_an_invariant_under_relations() -> None:
    with pytest.raises(MechanismError) as e:
        mechanism_from_doc(_doc(claims=["I-CONS", "I-SPLIT"]), "x.toml")
    assert e.value.where["key"] == "claims[1]" and "relations" in str(e.value)
    with pytest.raises(MechanismError) as e:
        mechanism_from_doc(_doc(relations=["I-SCALE", "I-CONS"]), "x.toml")
    assert e.value.where["key"] == "relations[1]" and "claims" in str(e.value)
    with pytest.raises(MechanismError) as e:
        mechanism_from_doc(_doc(relations=["I-SPLT"]), "x.toml")
    assert e.value.where["key"] == "relations[0]"
    m = mechanism_from_doc(_doc(relations=["I-PATH"]), "x.toml")
    assert m.relations == ("I-PATH",) and "I-PATH" in m.claims


def test_R_PROVE_12_default_runs_prove_claimed_relations_only() -> None:
    """`waterfall prove` / `report` without --invariant prove a relation where the mechanism
    claims it; an unclaimed one is n/a with the reason (the fuzzer checks it)."""
    from waterfall.proofs.prove.prover import prove_operation, verdict
    m = mech("bybit-adl")  # claims no relation
    ev = prove_operation(m, ["I-PATH"], K2, "liquidate", 60, relations="claimed")
    assert ev.relations == {} and "when asked by name" in verdict(ev, m, "I-PATH", K2).reason
    ev = prove_operation(m, ["I-PATH"], K2, "liquidate", 60, relations="all")
    assert verdict(ev, m, "I-PATH", K2).kind == V.COUNTEREXAMPLE


def test_R_PROVE_12_small_scope_search_finds_relational_counterexamples_first() -> None:
    """R-PROVE-5 for relations: random small venues (seeded) through the relation's own check
    before the exploration; what it finds is replayed like any counterexample."""
    m = mech("bybit-adl")
    p = R.RelProver(m, ["I-SCALE"], float("inf"), 1000)
    case = next(c for c in R.cases(m, "liquidate", 2, 1) if c.counterparty)
    p.sample("I-SCALE", case, 3, 200)
    doc = p.cells["I-SCALE"].counterexample
    assert doc is not None and "small-scope search" in doc["description"]
    assert RELATIONS["I-SCALE"].holds(state_from_json(doc["state"]), op_from_json(doc["ops"][0]), m, 3) is False
    q = R.RelProver(mech("chitra-queue"), ["I-SCALE"], float("inf"), 1000)
    q.sample("I-SCALE", next(iter(R.cases(mech("chitra-queue"), "liquidate", 2, 1))), 3, 200)
    assert q.cells["I-SCALE"].counterexample is None  # proved there: nothing to find
