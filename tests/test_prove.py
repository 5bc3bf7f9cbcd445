"""The Z3 prover (R-PROVE-*): the symbolic step agrees with the model, every verdict kind
is produced honestly, seeded bugs are refuted with replayed counterexamples."""
from __future__ import annotations

import json
from pathlib import Path
import os
import random
from dataclasses import replace

import pytest
import z3

import seeded_bugs
from waterfall.model.codec import state_to_json
from waterfall.model.loader import catalogue, load_mechanism
from waterfall.model.mechanism import Adl
from waterfall.model.ops import Liquidate
from waterfall.model.state import Account, Market, Position, State, equity, margin_requirement
from waterfall.model.ranking import ranked
from waterfall.model.step import step
from waterfall.proofs import prove as P
from waterfall.proofs import symbolic as S
from waterfall.proofs import verdict as V
from waterfall.proofs.cli import main

CAT = catalogue()


def before_issue_11(mid: str) -> bool:
    """Whether a catalogue mechanism uses only rules proofs/symbolic.py encodes: that encoding
    predates time, drawdown and lifetime caps, fund-first and per-fill ADL, window gains and
    settlement haircuts (issue 11), which `waterfall prove` is to check by executing
    model.step itself (proofs/symexec.py, being written)."""
    m = load_mechanism(CAT[mid])
    layers_old = all(not (s.drawdown_ppm or s.lifetime_cap) for s in m.layers)
    f = m.final
    final_old = (not isinstance(f, Adl) or (not f.fund_first and f.pricing == "uniform"
                                           and f.close_price in ("bankruptcy", "mark", "previous_mark")))
    haircut_old = not hasattr(f, "timing") or (f.timing == "liquidation" and f.profit != "window_gain"
                                                and f.order == "pro_rata" and f.severity_ppm == 1_000_000)
    known = type(f).__name__ in ("Haircut", "Adl", "Levy", "BadDebtOnly")
    return layers_old and final_old and haircut_old and known and not m.liquidation.step_ppm


ENCODED = [m for m in sorted(CAT) if m not in ("clearing-house-vmgh", "capped-pro-rata") and before_issue_11(m)]  # exactly
STATES = int(os.environ.get("WATERFALL_DIFF_STATES", "150"))  # per mechanism: ~2,300 states in all


def mech(mid: str):
    return load_mechanism(CAT[mid])


# ---- fidelity: the symbolic step evaluated on concrete states = model.step ------------------

def random_venue(rng: random.Random, n: int, m) -> tuple[State, Liquidate]:
    """A valid venue where a00 is below maintenance margin, and its liquidation."""
    mark = rng.randint(50, 2_000)
    sizes = [rng.choice([-1, 1]) * rng.randint(1, 50)] + [rng.randint(-50, 50) for _ in range(n - 2)]
    sizes.append(-sum(sizes))
    entries = [mark + rng.randint(-mark // 2, mark // 2) for _ in range(n - 1)]
    notionals = [s * e for s, e in zip(sizes, entries)]
    notionals.append(-sum(notionals))
    ids = S.account_ids(n)
    held = {a: {S.MARKET: Position(s, o)} for a, s, o in zip(ids, sizes, notionals)}
    markets = {S.MARKET: Market(S.MARKET, mark, S.IM_PPM, S.MM_PPM)}
    if S.markets_for(m) == 2:  # a01.. also hold zero-sum positions in M1
        mark1 = rng.randint(50, 2_000)
        markets[S.OTHER] = Market(S.OTHER, mark1, S.IM_PPM, S.MM_PPM)
        s1 = [rng.randint(-50, 50) for _ in range(n - 2)]
        s1.append(-sum(s1))
        o1 = [x * (mark1 + rng.randint(-mark1 // 2, mark1 // 2)) for x in s1[:-1]]
        o1.append(-sum(o1))
        for a, x, y in zip(ids[1:], s1, o1):
            held[a][S.OTHER] = Position(x, y)
    accounts = {a: Account(rng.randint(0, 30_000), rng.randint(0, 30_000),
                           {k: p for k, p in held[a].items() if p != (0, 0)}) for a in ids}
    state = State(markets, accounts,
                  {k: rng.choice([0, rng.randint(0, 5_000)]) for k in m.layer_keys(sorted(markets))},
                  {a: rng.randint(0, 3_000) for a in ids} if any(s.kind != "balance" for s in m.layers) else {},
                  rng.randint(0, 100))
    a0 = state.accounts[ids[0]]  # push a00 under water: collateral such that equity < mm - gap
    gap = rng.randint(0, 20_000)
    c0 = a0.collateral - (equity(state, a0) - margin_requirement(state, a0, initial=False)) - 1 - gap
    state = state.with_accounts({ids[0]: a0._replace(collateral=c0)})
    adl = isinstance(m.final, Adl)
    fill = max(1, mark + rng.randint(-mark // 10, mark // 10))
    if adl:
        state = in_rank_order(state, m)
    return state, Liquidate(ids[0], None if adl else ids[1], {} if adl else {S.MARKET: fill}, "0")


def in_rank_order(state: State, m) -> State:
    """The venue renamed so that the ADL ranking's order is the id order (the encoding's
    without-loss-of-generality order, proofs/symbolic.py)."""
    ids = sorted(state.accounts)
    side = -1 if state.accounts[ids[0]].positions[S.MARKET].size > 0 else 1
    order = list(ranked(state, m.final.ranking, S.MARKET, side, ids[0], "0"))
    order += [a for a in ids[1:] if a not in order]
    rename = {old: new for old, new in zip([ids[0]] + order, ids)}
    return State(state.markets, {rename[a]: x for a, x in state.accounts.items()}, state.layers,
                 {rename[a]: x for a, x in state.default_fund.items()}, state.bad_debt)


def symbolic_post(q: P.Query, state: State, op: Liquidate) -> tuple[dict, list]:
    """Fix the symbolic pre-state to `state`, solve, read the post-state and the events."""
    s = z3.Solver(ctx=q.ctx)
    s.add(q.assumed + pin(q, state, op))
    assert s.check() == z3.sat, "the symbolic step rejects a state the model accepts"
    mdl = s.model()
    val = lambda t: t if isinstance(t, int) else mdl.eval(t, model_completion=True).as_long()  # noqa: E731
    post = q.post
    got = {"accounts": {a: (val(x.collateral), val(x.positions[S.MARKET].size), val(x.positions[S.MARKET].open_notional))
                        for a, x in post.accounts.items()},
           "layers": {k: val(v) for k, v in post.layers.items() if val(v) != 0 or k in state.layers}, "fund": {k: val(v) for k, v in post.default_fund.items()},
           "bad_debt": val(post.bad_debt)}
    events = sorted((e.rule, e.src, e.dst, val(e.amount)) for e in q.events if val(e.amount) != 0)
    return got, events


def model_post(m, state: State, op: Liquidate) -> tuple[dict, list]:
    post, events = step(state, op, m)
    got = {"accounts": {a: (x.collateral, x.positions.get(S.MARKET, Position(0, 0)).size,
                            x.positions.get(S.MARKET, Position(0, 0)).open_notional) for a, x in post.accounts.items()},
           "layers": dict(post.layers), "fund": dict(post.default_fund), "bad_debt": post.bad_debt}
    norm = []
    for e in events:  # the symbolic step names a trade bankrupt -> counterparty whatever its direction
        src, dst = e.src, e.dst
        if e.kind == "trade" and dst == "account:" + op.account:
            src, dst = dst, src
        norm.append((e.rule, src, dst, e.amount))
    return got, sorted(norm)


@pytest.mark.parametrize("mid", ENCODED)
def test_R_PROVE_1_symbolic_step_equals_model_on_random_states(mid: str) -> None:
    m = mech(mid)
    rng = random.Random(f"diff-{mid}")
    queries = {n: P.Query(m, n, "named") for n in (2, 3, 4)}
    checked = 0
    for _ in range(STATES):
        n = rng.choice((2, 3, 4))
        state, op = random_venue(rng, n, m)
        expected = model_post(m, state, op)
        assert symbolic_post(queries[n], state, op) == expected, (mid, state_to_json(state), op)
        checked += 1
    assert checked == STATES


def pin(q: P.Query, state: State, op: Liquidate) -> list:
    """Constraints fixing the symbolic pre-state and operation to a concrete one."""
    w = q.w0
    fixed = [w.mark == state.markets[S.MARKET].mark, q.fill == op.fill_prices.get(S.MARKET, 1),
             w.bad_debt == state.bad_debt]
    for i, a in enumerate(w.ids):
        acc = state.accounts[a]
        pos = acc.positions.get(S.MARKET, Position(0, 0))
        fixed += [w.c[i] == acc.collateral, w.d[i] == acc.net_deposit, w.s[i] == pos.size, w.o[i] == pos.open_notional]
    if w.mark1 is not None:
        fixed.append(w.mark1 == state.markets[S.OTHER].mark)
        for i, a in enumerate(w.ids[1:], start=1):
            pos = state.accounts[a].positions.get(S.OTHER, Position(0, 0))
            fixed += [w.s1[i] == pos.size, w.o1[i] == pos.open_notional]
    return fixed + [v == state.layers[k] for k, v in w.layers.items()] + [v == state.default_fund[k] for k, v in w.fund.items()]


@pytest.mark.parametrize("mid", [m for m in sorted(CAT) if before_issue_11(m)])
def test_R_PROVE_1_lemma_encoding_allows_the_models_result(mid: str) -> None:
    """The 'lemmas' encoding over-approximates the allocation: on random states the model's
    own post-state must be one of the encoding's solutions (else a proof could be unsound)."""
    m = mech(mid)
    rng = random.Random(f"lemmas-{mid}")
    queries = {n: P.Query(m, n, "lemmas") for n in (2, 3, 4)}
    for _ in range(max(10, STATES // 3)):
        n = rng.choice((2, 3, 4))
        state, op = random_venue(rng, n, m)
        post, _ = step(state, op, m)
        q = queries[n]
        same = []
        for a, x in q.post.accounts.items():
            pos = post.accounts[a].positions.get(S.MARKET, Position(0, 0))
            same += [x.collateral == post.accounts[a].collateral, x.positions[S.MARKET].size == pos.size]
        same += [v == post.layers.get(k, 0) for k, v in q.post.layers.items()]
        same += [v == post.default_fund.get(k, 0) for k, v in q.post.default_fund.items()]
        same.append(q.post.bad_debt == post.bad_debt)
        s = z3.Solver(ctx=q.ctx)
        s.add(q.assumed + pin(q, state, op) + same)
        assert s.check() == z3.sat, (mid, state_to_json(state), op)


def test_R_PROVE_1_differential_test_catches_an_encoding_bug(monkeypatch) -> None:
    m = mech("generic-socialized-loss")
    monkeypatch.setitem(S.DRAW, "balance", _sym_skip_layers)  # the symbolic step forgets the fund
    rng = random.Random(7)
    misses = 0
    for _ in range(20):
        state, op = random_venue(rng, 3, m)
        misses += symbolic_post(P.Query(m, 3, "named"), state, op) != model_post(m, state, op)
    assert misses > 0


# ---- verdicts ----------------------------------------------------------------------------------

def test_R_PROVE_2_core_invariants_proved_with_a_witness() -> None:
    m = mech("generic-socialized-loss")
    for inv in ("I-CONS", "I-NONNEG", "I-PROP", "I-BOUND", "I-BUDGET"):
        v = P.prove(m, inv, 4, timeout_s=60)
        assert v.kind == V.PROVED_UP_TO and v.accounts == 4, (inv, v.kind, v.reason)
        assert v.witness and len(v.witness["accounts"]) == 4


def test_R_PROVE_2_adl_bound_proved() -> None:
    v = P.prove(mech("bitmex-adl"), "I-ADL-BOUND", 4, timeout_s=60)
    assert v.kind == V.PROVED_UP_TO, v.reason


def test_R_PROVE_3_vacuous_assumptions_are_reported(monkeypatch) -> None:
    real = S.assumptions
    monkeypatch.setattr(P, "assumptions", lambda w, fill: real(w, fill) + [w.mark < 0])
    v = P.prove(mech("generic-socialized-loss"), "I-CONS", 3)
    assert v.kind == V.VACUOUS


def test_R_PROVE_3_timeout_is_its_own_verdict(monkeypatch) -> None:
    def hard(self, inv):  # a goal Z3 cannot settle: no x^3 + y^3 = z^3 in positive integers
        x, y, z = z3.Ints("x y z", self.ctx)
        return z3.Not(z3.And(x > 0, y > 0, z > 0, x * x * x + y * y * y == z * z * z))
    monkeypatch.setattr(P.Query, "goal", hard)
    v = P.prove(mech("generic-socialized-loss"), "I-CONS", 2, timeout_s=2.0)
    assert v.kind == V.TIMEOUT and v.reason == "timeout" and v.seconds < 10


def test_R_PROVE_4_documented_counterexample_replays() -> None:
    m = mech("mango-v4")  # levy charges losers too: I-NONNEG is not claimed
    v = P.prove(m, "I-NONNEG", 4)
    assert v.kind == V.COUNTEREXAMPLE and not v.claimed
    fails, _ = P.replay(m, "I-NONNEG", *_scenario(v))
    assert fails
    assert len(v.counterexample["state"]["accounts"]) <= 4


def _scenario(v: V.Verdict):
    from waterfall.model.loader import scenario_from_doc
    sc = scenario_from_doc(v.counterexample)
    return sc.state, sc.ops[0]


def test_R_PROVE_4_mismatch_when_only_the_encoding_is_broken(monkeypatch) -> None:
    monkeypatch.setattr(S, "draw_balance", _sym_fund_negative)
    monkeypatch.setitem(S.DRAW, "balance", _sym_fund_negative)
    v = P.prove(mech("generic-socialized-loss"), "I-FUND", 3)
    assert v.kind == V.ENCODING_MISMATCH  # the model (unpatched) keeps the fund >= 0


# ---- seeded bugs: Z3 refutes each, the patched model replays the counterexample ---------------

def _sym_floor_lost(w, mech_, sink, rest, collected, residue, surplus_key, stage):
    return 0


def _sym_losers(w, policy):
    return [S.max_(0, w.equity(i)) for i in range(1, w.n)]


def _sym_fund_negative(w, spec, deficit):
    key = f"{spec.name}:{S.MARKET}" if spec.scope == "market" else spec.name
    w.pay("R-WF-3", S.layer(key), S.acct(w.ids[0]), deficit, spec.name)
    return deficit


def _sym_skip_layers(w, spec, deficit):
    return 0


def _sym_overshoot(w, policy):
    size, lots = w.s[0], 0
    for j in range(1, w.n):
        sj = w.s[j]
        q = S.ite(sj * size < 0, S.ite(sj >= 0, sj, -sj), 0)
        w.move(j, w.by_side(q, -q), w.by_side(q * w.mark, -q * w.mark))
        w.events.append(S.Event("R-ADL-1", "trade", S.acct(w.ids[0]), S.acct(w.ids[j]), q * w.mark, "adl",
                                S.MARKET, q, w.mark))
        lots = lots + q
    w.move(0, w.by_side(-lots, lots), w.by_side(-lots * w.mark, lots * w.mark))


ORIGINAL_MOVE = S.Work.move


def _sym_average_entry(self, i, dsize, dnotional):
    ORIGINAL_MOVE(self, i, dsize, dnotional)
    s = self.s[i]
    # keep size * floor(notional / size), as the model's patched _move does (R-PNL average entry)
    self.o[i] = S.ite(s == 0, self.o[i], S.ite(s > 0, s * S.floor_div(self.o[i], s), s * S.floor_div(-self.o[i], -s)))


SYMBOLIC = {  # seeded bug name -> (symbolic patch target, attribute, replacement, invariant Z3 must refute)
    "floor-without-residue-sink": (S, "after_collection", _sym_floor_lost, "I-NOLOSS"),
    "haircut-charged-to-losers": (S, "haircut_weights", _sym_losers, "I-BOUND"),
    "adl-overshoots": (S, "deleverage", _sym_overshoot, "I-ADL-BOUND"),
    "fund-allowed-negative": (S.DRAW, "balance", _sym_fund_negative, "I-FUND"),
    "socialise-before-fund-exhausted": (S.DRAW, "balance", _sym_skip_layers, "I-ORDER"),
    "average-entry-rounding": (S.Work, "move", _sym_average_entry, "I-ZERO"),
}


@pytest.mark.parametrize("bug", [b for b in seeded_bugs.SEEDED_BUGS if b.name in SYMBOLIC], ids=lambda b: b.name)
def test_R_PROVE_5_seeded_bug_refuted_and_replayed(bug, monkeypatch) -> None:
    target, attr, replacement, inv = SYMBOLIC[bug.name]
    assert inv in bug.catches
    seeded_bugs.apply(bug, monkeypatch)
    if isinstance(target, dict):
        monkeypatch.setitem(target, attr, replacement)
    else:
        monkeypatch.setattr(target, attr, replacement)
    m = bug.adapt(mech(bug.mechanism))
    v = P.prove(m, inv, 3, timeout_s=60)
    assert v.kind == V.COUNTEREXAMPLE, (bug.name, v.kind, v.reason)
    fails, note = P.replay(m, inv, *_scenario(v))
    assert fails, note


def profit_ranked(mid: str = "bitmex-adl"):
    m = mech(mid)
    return replace(m, final=replace(m.final, ranking="profit"))


def test_R_PROVE_5_ratio_rankings_are_outside_the_encoding() -> None:
    v = P.prove(mech("bitmex-adl"), "I-ADL-RANK", 3)
    assert v.kind == V.NOT_APPLICABLE and "index order" in v.reason


def test_R_PROVE_5_profit_ranking_proved() -> None:
    v = P.prove(profit_ranked(), "I-ADL-RANK", 4)
    assert v.kind == V.PROVED_UP_TO


def test_R_PROVE_5_ranking_bug_refuted_and_replayed(monkeypatch) -> None:
    bug = next(b for b in seeded_bugs.SEEDED_BUGS if b.name == "adl-ignores-ranking")
    seeded_bugs.apply(bug, monkeypatch)  # the model fills in id order
    monkeypatch.setattr(P, "rank_assumptions", lambda w0: [])  # so does the encoding: no ranking order
    m = profit_ranked()
    v = P.prove(m, "I-ADL-RANK", 4)  # 3 accounts cannot show it: two opposite holders take all
    assert v.kind == V.COUNTEREXAMPLE, (v.kind, v.reason)
    fails, note = P.replay(m, "I-ADL-RANK", *_scenario(v))
    assert fails, note


@pytest.mark.parametrize("buggy", [False, True])
def test_R_PROVE_1_profit_rank_encoding_equals_the_registry(buggy: bool, monkeypatch) -> None:
    """The separate I-ADL-RANK encoding agrees with the registry predicate on concrete ADL
    outcomes of the model, correct and with the ranking ignored (so both verdicts occur)."""
    from waterfall.spec.invariants import REGISTRY
    m = profit_ranked()
    if buggy:
        seeded_bugs.apply(next(b for b in seeded_bugs.SEEDED_BUGS if b.name == "adl-ignores-ranking"), monkeypatch)
    rng = random.Random(f"rank-{buggy}")
    seen = set()
    for _ in range(60):
        state, op = random_venue(rng, rng.choice((3, 4, 5)), mech("bitmex-adl"))  # any order of ids
        post, events = step(state, op, m)
        ids = sorted(state.accounts)
        size = lambda st, a: st.accounts[a].positions.get(S.MARKET, Position(0, 0)).size  # noqa: E731
        s0 = size(state, ids[0])
        upnl = [size(state, a) * state.markets[S.MARKET].mark - state.accounts[a].positions.get(S.MARKET, Position(0, 0)).open_notional for a in ids]
        opp = [size(state, a) * s0 < 0 for a in ids]
        filled = [sum(e.size for e in events if e.rule == "R-ADL-1" and a in (e.src[8:], e.dst[8:])) if a != ids[0] else 0
                  for a in ids]
        ours = S.ranked_by_profit(upnl, opp, filled, [size(post, a) for a in ids])
        theirs = REGISTRY["I-ADL-RANK"].holds(state, op, post, events, m)
        assert bool(ours) == bool(theirs), state_to_json(state)
        seen.add(bool(theirs))
    assert seen == ({True, False} if buggy else {True})


# ---- CLI -----------------------------------------------------------------------------------------

def test_R_PROVE_7_cli_json_and_exit_codes(capsys, tmp_path) -> None:
    code = main(["prove", "--mechanism", "drift-v2", "--invariant", "I-NONNEG", "--invariant", "I-CONS",
                 "--accounts", "3", "--jobs", "1", "--no-all-n", "--json", "--save", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    kinds = {v["invariant"]: v["kind"] for v in out["verdicts"]}
    assert kinds == {"I-NONNEG": V.COUNTEREXAMPLE, "I-CONS": V.PROVED_UP_TO}
    assert code == 0  # the counterexample is to an unclaimed invariant: a documented property
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1
    capsys.readouterr()
    assert main(["run", str(saved[0])]) == 0  # replaying it shows the (documented) violation
    assert "I-NONNEG violated (not claimed" in capsys.readouterr().out


def test_R_PROVE_7_cli_bad_input(capsys) -> None:
    assert main(["prove", "--invariant", "I-NOPE", "--no-all-n"]) == 2
    assert main(["prove", "--accounts", "1", "--no-all-n"]) == 2
    assert main(["prove", "--mechanism", "no-such-venue", "--no-all-n"]) == 2
    err = capsys.readouterr().err
    assert "I-NOPE" in err and "--accounts" in err and "no-such-venue" in err


@pytest.mark.parametrize("path", [p for p in sorted((Path(__file__).parent.parent / "spec" / "findings").glob("*-z3.json"))
                                  if before_issue_11(p.stem.rsplit("-I-", 1)[0])], ids=lambda p: p.stem)
def test_R_PROVE_4_committed_z3_findings_are_found_again(path: Path) -> None:
    """A documented property Z3 found (spec/findings/*-z3.json) is found again, never
    silenced, and stays unclaimed by its mechanism."""
    from waterfall.model.loader import load_scenario, scenario_mechanism
    sc = load_scenario(path)
    m = scenario_mechanism(sc)
    invariant = "I-" + sc.name.rsplit("-I-", 1)[1]
    assert invariant not in m.claims
    v = P.prove(m, invariant, 4)
    assert v.kind == V.COUNTEREXAMPLE and not v.claimed


def _boom(path, invariant, n, timeout, encoding):
    raise RuntimeError("injected")


def test_R_PROVE_7_a_prover_crash_is_reported_not_raised(capsys, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from waterfall.proofs import prove_cli
    monkeypatch.setattr(prove_cli, "ProcessPoolExecutor", ThreadPoolExecutor)
    monkeypatch.setattr(prove_cli, "_job", _boom)
    code = main(["prove", "--mechanism", "drift-v2", "--invariant", "I-CONS", "--no-all-n", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["verdicts"][0]["reason"] == "prover error: RuntimeError: injected"
