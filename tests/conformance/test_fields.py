"""R-CONF-3: every field the model records is compared (one definition, waterfall/conformance/fields.py,
derived from State's own fields), so an engine that drops or corrupts any of them fails a
committed vector; chained vectors feed the engine its own post-state."""
from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from waterfall.cli.main import main
from waterfall.conformance.engine import Engine
from waterfall.conformance.fields import compared_keys, state_diff, state_fields
from waterfall.conformance.runner import Runner, Vector, judge, normal_state
from waterfall.conformance.vectors import VECTORS_DIR
from waterfall.model.codec import state_to_json
from waterfall.model.state import Account, Market, Position, State

MANIFEST = json.loads((VECTORS_DIR / "manifest.json").read_text())


def full_state() -> State:
    """A state with every field of State (and of its records) away from its default."""
    m = Market("M0", 1_000, 100_000, 50_000, 990)
    return State({"M0": m}, {"a": Account(10, 9, {"M0": Position(1, 1_000)}),
                             "b": Account(20, 21, {"M0": Position(-1, -1_000)})},
                 {"insurance_fund": 5}, {"a": 3}, 7, 100, {"insurance_fund": (50, 4, 90, 5)},
                 {"insurance_fund:M0": 2}, {"a": -1}, {"M0": 6}, {"b": 80}, {"a": 2})


def test_R_CONF_3_compared_fields_are_every_field_of_State_and_the_codec_writes_each() -> None:
    st = full_state()
    for f in dataclasses.fields(State):  # every field set away from its default in full_state
        if f.default is not dataclasses.MISSING:
            assert getattr(st, f.name) != f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(st, f.name) != f.default_factory(), f.name
    assert [f.name for f in state_fields()] == [f.name for f in dataclasses.fields(State)]
    doc = state_to_json(st)
    assert set(doc) == {f.key for f in state_fields()}  # every key written is compared, and vice versa
    assert compared_keys() == [
        "markets[].mark", "markets[].im_ppm", "markets[].mm_ppm", "markets[].prev_mark",
        "accounts[].collateral", "accounts[].net_deposit", "accounts[].positions[].size",
        "accounts[].positions[].open_notional", "layers{}", "default_fund{}", "bad_debt", "clock",
        "layer_history{}", "layer_paid{}", "window_base{}", "deferred{}", "partial_at{}", "assessable{}"]


def leaves(doc: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every leaf of a state's JSON: (generic path like accounts[].positions[].size, access path)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            generic = f"{path}{{}}" if path.endswith(("layers", "default_fund", "layer_paid", "window_base",
                                                      "deferred", "partial_at", "assessable", "layer_history")) \
                else f"{path}.{k}".lstrip(".")
            if path.endswith("layer_history"):
                yield generic, [k]
                continue
            for g, acc in leaves(v, generic):
                yield g, [k, *acc]
        if not doc:
            return
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            if isinstance(v, dict):
                for g, acc in leaves({kk: vv for kk, vv in v.items() if kk not in ("id", "market")}, path + "[]"):
                    yield g, [i, *acc]
    else:
        yield path, []


def get(doc: Any, acc: list[Any]) -> Any:
    for a in acc:
        doc = doc[a]
    return doc


def drop(doc: Any, acc: list[Any]) -> Any:
    out = copy.deepcopy(doc)
    del get(out, acc[:-1])[acc[-1]]
    return out


def corrupt(doc: Any, acc: list[Any]) -> Any:
    out = copy.deepcopy(doc)
    parent, last = get(out, acc[:-1]), acc[-1]
    v = parent[last]
    parent[last] = [[p[0], str(int(p[1]) + 1)] for p in v] if isinstance(v, list) else str(int(v) + 1)
    return out


def first_steps() -> dict[str, tuple[dict[str, Any], list[Any], str]]:
    """For each generic leaf path, the first committed step whose expected state sets it
    away from its default (a map entry present, an integer not 0, a net deposit other than
    the collateral): (expect, access path, vector)."""
    found: dict[str, tuple[dict[str, Any], list[Any], str]] = {}
    for e in MANIFEST["vectors"]:
        doc = json.loads((VECTORS_DIR / e["path"]).read_text())
        for st in doc["steps"]:
            if st["expect"]["ok"]:
                state = st["expect"]["state"]
                for g, acc in leaves(state):
                    if g not in found and (g.endswith("{}") or get(state, acc) != "0") and \
                            not (g == "accounts[].net_deposit" and get(state, acc) == get(state, acc[:-1] + ["collateral"])):
                        found[g] = (st["expect"], acc, e["path"])
    return found


FIRST = first_steps()


def test_R_CONF_3_committed_vectors_set_every_recorded_field() -> None:
    """Every compared leaf is away from its default in some expected state of the committed set."""
    want = set(compared_keys())
    assert want <= set(FIRST), sorted(want - set(FIRST))


@pytest.mark.parametrize("how", ["drop", "corrupt"])
@pytest.mark.parametrize("path", compared_keys())
def test_R_CONF_3_an_engine_dropping_or_corrupting_a_recorded_field_fails_a_vector(path: str, how: str) -> None:
    expect, acc, where = FIRST[path]
    state = (drop if how == "drop" else corrupt)(expect["state"], acc)
    resp = {"type": "result", "id": "x", "ok": True, "state": state, "events": expect["events"]}
    reason, detail = judge(expect, resp, "x")
    assert reason in ("mismatch", "types"), (where, path, how)
    if reason == "mismatch":
        assert len(detail.splitlines()) >= 2  # names the differing field


def test_R_CONF_3_state_diff_names_every_time_record() -> None:
    want = normal_state(state_to_json(full_state()))
    bare = {"M0": full_state().markets["M0"]._replace(prev_mark=0)}
    got = normal_state(state_to_json(State(bare, full_state().accounts, {"insurance_fund": 5}, {"a": 3}, 7)))
    text = "\n".join(state_diff(want, got))
    for needle in ("market M0: prev_mark: expected 990, got 0", "clock: expected 100, got 0",
                   'layer_history insurance_fund: expected [["50","4"],["90","5"]], got (absent)',
                   "layer_paid insurance_fund:M0: expected 2", "window_base a: expected -1",
                   "deferred M0: expected 6", "partial_at b: expected 80", "assessable a: expected 2"):
        assert needle in text, text


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return f"{sys.executable} {path}"


TIME_KEYS = ("clock", "layer_history", "layer_paid", "window_base", "deferred", "partial_at", "assessable")
FORGETFUL = ("import json, sys\n"
             "from waterfall.conformance.adapter import answer\n"
             "for line in sys.stdin:\n"
             "    out = answer(json.loads(line))\n"
             "    if out.get('ok'):\n"
             f"        for k in {TIME_KEYS!r}:\n"
             "            MODE\n"
             "        for m in out['state']['markets']:\n"
             "            m.pop('prev_mark', None)\n"
             "    print(json.dumps(out), flush=True)\n")


@pytest.mark.parametrize("mode", ["out['state'].pop(k, None)",
                                  "out['state'][k] = '1' if k == 'clock' else {}"])
def test_R_CONF_3_an_engine_without_time_records_fails_through_the_runner(capsys, tmp_path: Path, mode: str) -> None:
    impl = script(tmp_path, "forgetful", FORGETFUL.replace("MODE", mode))
    assert main(["conform", "--impl", impl, "--mechanism", "deribit", "--filter", "weekly-settlement",
                 "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] >= 1 and any("clock: expected" in r["detail"] for r in out["results"])


CORRUPT_ONCE = ("import json, sys\n"
                "from waterfall.conformance.adapter import answer\n"
                "for line in sys.stdin:\n"
                "    req = json.loads(line)\n"
                "    out = answer(req)\n"
                "    if req.get('id', '').endswith('#1') and out.get('ok'):\n"
                "        out['state']['bad_debt'] = str(int(out['state']['bad_debt']) + 1)\n"
                "    print(json.dumps(out), flush=True)\n")


@pytest.mark.parametrize("chain, failing", [(False, [1]), (True, [1, 2, 3])])  # steps numbered from 1 (R-CLI-9)
def test_R_CONF_3_a_chained_vector_carries_the_engines_own_state_forward(tmp_path: Path, chain: bool,
                                                                        failing: list[int]) -> None:
    doc = json.loads((VECTORS_DIR / "generic-socialized-loss/op-deposit.json").read_text())
    steps = [{"op": {"op": "deposit", "account": "a", "amount": str(k + 1)}} for k in range(3)]
    from waterfall.conformance.vectors import outcome
    from waterfall.model.codec import op_from_json, state_from_json
    from waterfall.conformance.adapter import mechanism
    st, mech = state_from_json(doc["state"]), mechanism(doc["mechanism"])
    for s in steps:
        st, s["expect"] = outcome(st, op_from_json(s["op"]), mech)
    vec = {**doc, "steps": steps, **({"chain": True} if chain else {})}
    runner = Runner(Engine(script(tmp_path, "once", CORRUPT_ONCE), 10.0))
    results = list(runner.run([Vector("generic-socialized-loss/chain", vec)]))
    assert [r.step for r in results if r.status == "fail"] == failing
    if chain:
        assert "own post-state of step 1" in results[1].detail
