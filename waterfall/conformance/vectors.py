"""Conformance vectors from the reference model (R-CONF-1, spec/conformance.md).

For every catalogue mechanism and every kit variant (waterfall/conformance/kit.py: the option values no
catalogue file uses): single operations on a small venue (each kind, the largest allowed
values, refused operations with their error codes), every stress scenario as a multi-step
sequence, the regression and finding scenarios under their own mechanism, and generated
scenarios (waterfall/conformance/venues.py) kept for coverage: a generated candidate is kept when it
reaches a branch of model/ (coverage.py, arcs measured per candidate) or a feature (an
event rule at a magnitude class, an error code, 10+ accounts, several markets, a special
case the generator tags: a tie between ids whose case-insensitive order differs, a margin
boundary; a probe: the outcome changes when a rule that decides ties or rounding is broken
on purpose, waterfall/conformance/kit.py) that the vectors kept before it for the same mechanism do not;
then, by the same rule, boundary scenarios (waterfall/conformance/edges.py: a value exactly on
the boundary a rule tests, tagged; tried last, so they only add vectors). Expected outcomes come from
model.step; files are canonical JSON so regenerating gives identical bytes.
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from waterfall import __version__
from pathlib import Path
from typing import Any, Callable, Iterator

from waterfall.model.codec import op_to_json, state_to_json
from waterfall.model.errors import WaterfallError
from waterfall.model.loader import catalogue, load_mechanism, load_scenario, scenario_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.replay import prepare
from waterfall.model.state import Account, Market, Position, State
from waterfall.model.step import step
from waterfall.model.units import MAX_INPUT
from waterfall.spec import FINDINGS_DIR, REGRESSIONS_DIR, SCENARIOS_DIR, SPEC_VERSION, VECTORS_DIR

from waterfall.proofs.mutation.model_copy import MODEL_DIR

SOURCES = (SCENARIOS_DIR, FINDINGS_DIR, REGRESSIONS_DIR)  # package data (waterfall.spec)
CANDIDATES = 80  # generated scenarios tried per mechanism (seeds 0..79)
CHAINED = 10  # chained copies per mechanism (R-CONF-3): the first kept vectors that involve time
LATE_EDGES = 30  # fourth-pass boundary scenarios (edges.LATE_BUILDERS), seeds EDGES.., tried last
FIFTH_EDGES = 20  # fifth-pass boundary scenarios (edges.FIFTH_BUILDERS), seeds EDGES+LATE_EDGES.., tried after those
EDGES = 40  # boundary scenarios tried per mechanism that has a rule they test (waterfall/conformance/edges.py)


@dataclass(frozen=True)
class Case:
    """One vector before its expectations are computed."""

    id: str
    description: str
    state: State
    ops: tuple[Op, ...]
    tags: frozenset[str] = frozenset()  # the generator's special cases (waterfall/conformance/venues.py)


def canonical(doc: Any) -> str:
    """R-CONF-1: sorted keys, two-space indent, LF, final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outcome(state: State, op: Op, mech: Mechanism) -> tuple[State, dict[str, Any]]:
    """One step's expectation: post-state and events, or the error code (state unchanged)."""
    try:
        post, events = step(state, op, mech)
    except WaterfallError as e:
        return state, {"ok": False, "error": e.code}
    return post, {"ok": True, "state": state_to_json(post), "events": [e.to_json() for e in events]}


def vector(mech: Mechanism, case: Case) -> dict[str, Any]:
    """A vector document: the case's operations chained through the model."""
    state = prepare(case.state, mech)
    start, steps = state, []
    for op in case.ops:
        state, expect = outcome(state, op, mech)
        steps.append({"op": op_to_json(op), "expect": expect})
    return {"format": "waterfall-vector", "version": 1, "id": case.id, "description": case.description,
            "mechanism": mechanism_doc(mech), "state": state_to_json(start), "steps": steps}


PROSE = ("description", "source", "claims", "relations", "family")


def mechanism_doc(mech: Mechanism) -> dict[str, Any]:
    """The mechanism file as JSON (its TOML keys), without its prose and references."""
    from waterfall.conformance.kit import KIT_DOCS
    doc = KIT_DOCS[mech.id] if mech.path.startswith("<kit") else \
        tomllib.loads(Path(mech.path).read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k not in PROSE}


def small_venue() -> State:
    """Two accounts long/short 10 lots at mark 1,000, 10,000 collateral each."""
    m = Market("M0", 1_000, 100_000, 50_000)
    return State({"M0": m}, {"a": Account(10_000, 10_000, {"M0": Position(10, 10_000)}),
                             "b": Account(10_000, 10_000, {"M0": Position(-10, -10_000)})})


SINGLE_OPS: tuple[tuple[str, str, Op], ...] = (
    ("deposit", "a deposit", Deposit("a", 1)),
    ("deposit-max", "the largest allowed deposit (MAX_INPUT)", Deposit("a", MAX_INPUT)),
    ("deposit-zero", "a zero deposit is refused (E-INVALID-AMOUNT)", Deposit("a", 0)),
    ("deposit-unknown", "a deposit to an unknown account (E-UNKNOWN-ACCOUNT)", Deposit("z", 1)),
    ("withdraw", "a withdrawal within initial margin", Withdraw("a", 1)),
    ("withdraw-too-much", "a withdrawal below initial margin (E-MARGIN)", Withdraw("a", 9_500)),
    ("trade", "a trade adding to both positions", Trade("a", "b", "M0", 1, 1_000)),
    ("trade-self", "a self-trade (E-SELF-TRADE)", Trade("a", "a", "M0", 1, 1_000)),
    ("trade-unknown-market", "a trade in an unknown market (E-UNKNOWN-MARKET)", Trade("a", "b", "M9", 1, 1)),
    ("set-mark", "a mark price move", SetMark("M0", 990)),
    ("set-mark-max", "the largest allowed mark (MAX_INPUT)", SetMark("M0", MAX_INPUT)),
    ("funding", "funding paid by longs to shorts", Funding("M0", 3)),
    ("liquidate-healthy", "liquidating a healthy account (E-HEALTHY)", Liquidate("a", "b", {"M0": 1_000}, "0")),
    # two faults at once: which error is reported is part of the spec (the order of the checks)
    ("deposit-unknown-zero", "unknown account and zero amount: the account is checked first",
     Deposit("z", 0)),
    ("withdraw-unknown-zero", "unknown account and zero amount: the account is checked first",
     Withdraw("z", 0)),
    ("withdraw-beyond-bound", "a withdrawal above MAX_INPUT (E-BOUND before the margin check)",
     Withdraw("a", MAX_INPUT + 1)),
    ("trade-unknown-all", "unknown buyer, seller and market, size 0: the buyer is checked first",
     Trade("y", "z", "M9", 0, 0)),
    ("trade-self-unknown-market", "a self-trade in an unknown market: the market is checked first",
     Trade("a", "a", "M9", 1, 1)),
    ("trade-self-zero", "a self-trade of size 0: the size is checked before the self-trade",
     Trade("a", "a", "M0", 0, 1)),
    ("trade-zero-price", "a trade at price 0 (E-INVALID-AMOUNT)", Trade("a", "b", "M0", 1, 0)),
    ("liquidate-self-healthy", "a healthy account as its own counterparty: E-SELF-TRADE before E-HEALTHY",
     Liquidate("a", "a", {}, "0")),
    ("liquidate-unknown-counterparty", "an unknown counterparty of a healthy account: checked before health",
     Liquidate("a", "z", {}, "0")),
    ("liquidate-unknown-fill-market", "a fill price in an unknown market: checked before health",
     Liquidate("a", "b", {"M9": 1}, "0")),
    ("liquidate-zero-fill", "a fill price of 0: checked before health", Liquidate("a", "b", {"M0": 0}, "0")),
    ("liquidate-healthy-alone", "a healthy account and no counterparty: E-HEALTHY before E-NO-COUNTERPARTY",
     Liquidate("a", None, {}, "0")),
    ("set-mark-unknown-zero", "unknown market and price 0: the market is checked first", SetMark("M9", 0)),
    ("set-mark-zero", "a mark of 0 (E-INVALID-AMOUNT)", SetMark("M0", 0)),
    ("trade-close-both", "a trade that closes both positions to exactly zero", Trade("b", "a", "M0", 10, 1_000)),
    ("set-mark-beyond-bound", "a mark above MAX_INPUT (E-BOUND)", SetMark("M0", MAX_INPUT + 1)),
    ("funding-beyond-bound", "a funding rate above MAX_INPUT (E-BOUND)", Funding("M0", MAX_INPUT + 1)),
)


def bound_venue(notional: int | None = None) -> State:
    """Two accounts at the R-UNIT-3 bounds: mark 10^18, sizes 10^18 - 1, open notionals (size x
    mark, or `notional`: entered above the mark) and collateral just under 10^36."""
    size, mark = 10**18 - 1, 10**18
    on = size * mark if notional is None else notional
    m = Market("M0", mark, 100_000, 50_000)
    coll = 10**36 - 10
    return State({"M0": m}, {"a": Account(coll, coll, {"M0": Position(size, on)}),
                             "b": Account(coll, coll, {"M0": Position(-size, -on)})})


BOUND_OPS: tuple[tuple[str, str, Op], ...] = (
    ("bound-deposit", "a deposit that takes collateral beyond 10^36 (E-BOUND)", Deposit("a", 11)),
    ("bound-deposit-exact", "a deposit that takes collateral to exactly 10^36", Deposit("a", 10)),
    ("bound-trade", "a trade that takes both positions beyond 10^18 lots (E-BOUND)", Trade("a", "b", "M0", 2, 10**18)),
    ("bound-funding", "funding of 10^18 per lot on 10^18 - 1 lots (E-BOUND)", Funding("M0", 10**18)),
)


def single_cases() -> Iterator[Case]:
    """R-CONF-1: each operation kind once on the small venue, edge values, refusals with two
    faults, and operations at the R-UNIT-3 bounds."""
    for vid, text, op in SINGLE_OPS:
        yield Case(f"op-{vid}", text, small_venue(), (op,))
    for vid, text, op in BOUND_OPS:
        yield Case(f"op-{vid}", text, bound_venue(), (op,))
    from waterfall.conformance.limits import LIMIT_CASES  # the limits no compared balance shows (issue 20)
    for vid, text, state, op in LIMIT_CASES:
        yield Case(vid, text, state, (op,))
    yield Case("op-bound-trade-notional", "a trade of one lot, within the size bound, that takes open notionals "
               "entered above the mark beyond 10^36 (E-BOUND)", bound_venue(notional=10**36 - 10),
               (Trade("a", "b", "M0", 1, 10**18),))
    crash = (SetMark("M0", 400), Liquidate("a", "b", {"M0": 400}, "0"))
    yield Case("op-liquidate-deficit", "a gap to 400 bankrupts the long; closed to the short at 400",
               small_venue(), crash)


def scenario_cases(mech: Mechanism) -> Iterator[Case]:
    """Stress scenarios under every mechanism; findings and regressions under their own."""
    for directory in SOURCES:
        for path in sorted(directory.glob("*.json")):
            sc = load_scenario(path)
            own = directory == SOURCES[0] or scenario_mechanism(sc).id == mech.id
            if own:
                yield Case(f"{directory.name}-{path.stem}", sc.description.split("\n")[0][:200], sc.state, sc.ops)


def generated_case(mech: Mechanism, seed: int) -> Case:
    """The generated scenario of one seed (waterfall/conformance/venues.py), described by its shape."""
    from waterfall.conformance.venues import RandomDraw, scenario
    draw = RandomDraw(seed)
    state, ops = scenario(draw, mech)
    biggest = max([abs(a.collateral) for a in state.accounts.values()] + [m.mark for m in state.markets.values()])
    text = (f"generated (seed {seed}): {len(state.accounts)} accounts, {len(state.markets)} market(s), "
            f"largest balance or mark about 2^{biggest.bit_length()}, {len(ops)} operation(s): "
            + ", ".join(type(op).__name__ for op in ops))
    return Case(f"gen-{seed:03d}", text, state, ops, frozenset(draw.tags))


def edge_cases(mech: Mechanism) -> list[Case]:
    """R-CONF-1: the boundary scenarios of seeds 0..EDGES-1, then the late ones of seeds
    EDGES..EDGES+LATE_EDGES-1 where a late builder applies, then the fifth-pass ones of the
    next FIFTH_EDGES seeds where a fifth-pass builder applies (waterfall/conformance/edges.py)."""
    from waterfall.conformance.edges import edge_scenario, fifth_edge_scenario, late_edge_scenario
    from waterfall.conformance.venues import RandomDraw
    out = []
    for seed in range(EDGES + LATE_EDGES + FIFTH_EDGES):  # the late ones after the others, so they only add
        draw = RandomDraw(seed)
        scenario = (edge_scenario(draw, mech) if seed < EDGES else late_edge_scenario(draw, mech)
                    if seed < EDGES + LATE_EDGES else fifth_edge_scenario(draw, mech))
        if scenario is None:  # no late (or fifth-pass) builder applies to this mechanism
            continue
        state, ops = scenario
        out.append(Case(f"edge-{seed:03d}", f"boundary (seed {seed}): " + "; ".join(sorted(draw.tags)) + ": "
                        + ", ".join(type(op).__name__ for op in ops), state, ops, frozenset(draw.tags)))
    return out


def features(doc: dict[str, Any]) -> set[tuple[str, ...]]:
    """What a vector exercises besides branches: each event rule at the magnitude class of
    the vector's largest number (fits int32, fits int64, beyond: its products pass 2^128),
    each error code, 10+ accounts, the number of markets."""
    numbers = [abs(int(x)) for x in _strings(doc["state"]) if x.lstrip("-").isdigit()]
    bits = max(numbers, default=0).bit_length()
    mag = "int32" if bits <= 31 else "int64" if bits <= 63 else "beyond-int64"
    out: set[tuple[str, ...]] = {("markets", str(len(doc["state"]["markets"]))),
                                 ("accounts", str(min(len(doc["state"]["accounts"]) // 10, 1)))}
    out |= {("record", k) for k in TIME_KEYS if doc["state"].get(k)}
    for st in doc["steps"]:
        e = st["expect"]
        out.add(("op", st["op"]["op"], str(e["ok"])))
        if e["ok"]:
            out |= {("rule", ev["rule"], mag) for ev in e["events"]}
        else:
            out.add(("error", e["error"]))
    return out


def _strings(x: Any) -> Iterator[str]:
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)


def mechanisms_all() -> list[Mechanism]:
    """Every catalogue mechanism, then every kit variant."""
    from waterfall.conformance.kit import kit_mechanisms
    return [load_mechanism(p) for _, p in sorted(catalogue().items())] + kit_mechanisms()


def documents(mech: Mechanism) -> Iterator[dict[str, Any]]:
    """The vectors of one mechanism: the fixed cases, then the generated ones that reach a
    branch, a feature or a rule (waterfall/conformance/reach.py) the earlier vectors of this
    mechanism did not (coverage.py); after each multi-step vector whose steps involve time,
    its chained copy (`chain-ID`, R-CONF-3). Each document carries, under the private key
    `_reach`, the rules each step reaches (taken out before it is written)."""
    import coverage
    from waterfall.conformance.reach import vector_rules
    fixed = [*single_cases(), *scenario_cases(mech)]
    cov = coverage.Coverage(branch=True, data_file=None, include=[str(MODEL_DIR / "*.py")], config_file=False)
    docs: list[tuple[Case, dict[str, Any]]] = []
    edges = edge_cases(mech)
    cov.start()
    try:
        for k, case in enumerate([*fixed, *(generated_case(mech, s) for s in range(CANDIDATES)), *edges]):
            cov.switch_context(str(k))
            docs.append((case, vector(mech, case)))
    finally:
        cov.stop()
    data = cov.get_data()
    files = sorted(data.measured_files())
    from waterfall.conformance.kit import PROBES, probed
    sensitive: dict[int, set[tuple[str, ...]]] = {k: set() for k in range(len(docs))}
    for name in PROBES:
        with probed(name):
            for k, (case, doc) in enumerate(docs):
                if k >= len(fixed) and vector(mech, case) != doc:
                    sensitive[k].add(("probe", name))
    seen: set[tuple[Any, ...]] = set()
    chained = 0
    # the fixed cases first, then the generated ones smallest first (a small vector that
    # reaches the same branches is kept instead of a large one), then the boundary scenarios
    # in seed order (last, so they only add to what the generated ones keep)
    generated = range(len(fixed), len(docs) - len(edges))
    order = list(range(len(fixed))) + sorted(generated, key=lambda k: (len(canonical(docs[k][1])), k)) \
        + list(range(len(docs) - len(edges), len(docs)))
    for k in order:
        case, doc = docs[k]
        reach = vector_rules(prepare(case.state, mech), case.ops, mech)
        data.set_query_contexts([f"^{k}$"])
        reached = {(f, a) for f in files for a in (data.arcs(f) or ())} | features(doc) | sensitive[k] \
            | {("tag", t) for t in case.tags} | {("reach", r, ok) for ok, ids in reach for r in ids}
        if k < len(fixed) or not reached <= seen:
            seen |= reached
            yield {**doc, "_reach": reach}
            if chains(doc) and chained < CHAINED:
                chained += 1
                yield {**doc, "id": f"chain-{doc['id']}", "chain": True, "_reach": reach,
                       "description": "chained: each step's pre-state is the implementation's own post-state; "
                                      + doc["description"]}


TIME_KEYS = ("clock", "layer_history", "layer_paid", "window_base", "deferred", "partial_at", "assessable")


def chains(doc: dict[str, Any]) -> bool:
    """A vector worth a chained copy: two or more steps, one applied, and time involved (an
    advance_time or deleverage, or a time record in a state)."""
    steps = doc["steps"]
    if len(steps) < 2 or not any(st["expect"]["ok"] for st in steps):
        return False
    states = [doc["state"]] + [st["expect"]["state"] for st in steps if st["expect"]["ok"]]
    return any(st["op"]["op"] in ("advance_time", "deleverage") for st in steps) or \
        any(s.get(k) for s in states for k in TIME_KEYS)


def generate(out: Path, mechanisms: list[Mechanism] | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Write every vector and the manifest under `out`; returns the manifest. `progress(i, n,
    id)` is called before each mechanism (R-CLI-10)."""
    mechs = mechanisms or mechanisms_all()
    entries = []
    applied: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for i, mech in enumerate(mechs, 1):
        if progress:
            progress(i, len(mechs), mech.id)
        for doc in documents(mech):
            for ok, ids in doc.pop("_reach"):
                (applied if ok else refused).update(ids)
            text = canonical(doc)
            rel = Path(mech.id) / f"{doc['id']}.json"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text, encoding="utf-8", newline="\n")
            entries.append({"mechanism": mech.id, "id": doc["id"], "path": rel.as_posix(),
                            "steps": len(doc["steps"]), "sha256": hashlib.sha256(text.encode()).hexdigest()})
    from waterfall.conformance.reach import model_rules
    rules = model_rules()
    manifest = {"format": "waterfall-vectors", "spec_version": SPEC_VERSION,
                "model_version": __version__, "vectors": entries,
                # steps reaching each rule of spec/rules.md sections 1-8 (waterfall/conformance/reach.py)
                "rules_applied": {r: applied[r] for r in rules}, "rules_refused": {r: refused[r] for r in rules}}
    (out / "manifest.json").write_text(canonical(manifest), encoding="utf-8", newline="\n")
    return manifest
