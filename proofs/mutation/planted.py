"""Planted bugs: one-line edits of model/'s source that break a claimed invariant, and the
runner that judges each with `waterfall prove` and the fuzzer (R-PROVE-10, `make mutate-proofs`).

A bug is a text substitution in one model file. `plant` copies model/ to a directory and
applies it; `python -m waterfall.proofs.mutation.planted judge NAME` (or any function here run in a
child process by `judge`) imports that copy as `waterfall.model` through a meta-path finder
placed before the installed package, so the prover and the fuzzer run the planted code and
nothing else changes. The list is the issue's own (the planted bugs a prover that checked a
copy of the rules reported PROVED), each with the mechanism whose claim it breaks and the
venue size that reaches it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from waterfall.proofs.mutation.model_copy import MODEL_DIR, use_model


@dataclass(frozen=True)
class Bug:
    """A one-line bug: file (in model/), the exact text and its replacement, where to look."""

    name: str
    file: str
    old: str
    new: str
    mechanism: str
    breaks: tuple[str, ...]  # claimed invariants it must break (any one refuted is a catch)
    accounts: int = 2
    markets: int = 1
    ops: tuple[str, ...] = ("liquidate",)
    samples: int | None = None  # the small-scope search's samples per case (None: the prover's own)
    narrow: bool = False  # ask only the invariants it breaks (`waterfall prove --invariant ...`)
    exact: bool = False  # only venues of exactly `accounts` accounts (no smaller ones first)


# issue 17 item 6: bugs that need three accounts to show (two payers of one residue, two
# holders of equal rank, a second counterparty in the queue walk): each judged by the path
# search alone (no small-scope search, samples=0), refuted at k = 3 and missed at k = 2
# (figures and commands: docs/proofs.md, "Bugs that need three accounts")
REACH: tuple[Bug, ...] = (
    Bug("queue-ties-to-larger-id", "queue.py", "key=lambda k: (-weights[k], ids[k]))",
        "key=lambda k: (weights[k], ids[k]), reverse=True)", "chitra-queue", ("I-QUEUE",), accounts=3, samples=0, narrow=True, exact=True),
    Bug("queue-walk-stops-at-head", "haircut.py", "    for k in order:\n        shares[k] = min(left, weights[k])",
        "    for k in order[:1]:\n        shares[k] = min(left, weights[k])", "chitra-queue", ("I-QUEUE",), accounts=3,
        samples=0, narrow=True, exact=True),
    Bug("adl-first-taker-takes-all", "adl.py", "q = min(remaining, abs(tx.accounts[j].positions[m].size))",
        "q = remaining", "hyperliquid-adl", ("I-ADL-BOUND",), accounts=3, samples=0, narrow=True, exact=True),
)

BUGS: tuple[Bug, ...] = (
    Bug("haircut-base-uncapped", "haircut.py", "w = profit if profit < eq else eq", "w = profit",
        "deribit", ("I-NONNEG", "I-BOUND")),
    Bug("lr-ties-extra-unit", "allocation.py", "above = [i for i, r in enumerate(rems) if r > cut]",
        "above = [i for i, r in enumerate(rems) if r >= cut]", "generic-socialized-loss",
        ("I-BUDGET", "I-PROP"), accounts=3),
    Bug("fee-uncapped", "waterfall.py",
        "amount = min(eq, ppm_of(notional(tx.base, tx.base.accounts[aid]), rule.fee_ppm, up=False))",
        "amount = ppm_of(notional(tx.base, tx.base.accounts[aid]), rule.fee_ppm, up=False)",
        "generic-socialized-loss", ("I-NOLOSS", "I-BUDGET")),
    Bug("layers-reversed", "layers.py", "    for spec in mech.layers:\n        if deficit == 0:",
        "    for spec in reversed(mech.layers):\n        if deficit == 0:", "drift-v2", ("I-ORDER",)),
    Bug("balance-pays-all-room", "layers.py", "amount = min(deficit - paid, can)", "amount = can",
        "generic-socialized-loss", ("I-EVENTS", "I-BUDGET", "I-NOLOSS")),
    Bug("assessment-uncapped", "layers.py",
        "caps = [min(left, max(0, tx.equity(m))) for m, left in zip(ids, allowance)]",
        "caps = [left for m, left in zip(ids, allowance)]",
        "clearing-house-vmgh", ("I-NONNEG",), accounts=3),
    Bug("solvency-check-sign", "fill_price.py", "eq_after = eq + side * (quote - q * mark)",
        "eq_after = eq - side * (quote - q * mark)", "dydx-v4-deleveraging", ("I-NONNEG",)),
    Bug("adl-own-side", "adl.py", "side = -1 if pos.size > 0 else 1", "side = 1 if pos.size > 0 else -1",
        "bitmex-adl", ("I-ADL-BOUND", "I-NOLOSS", "I-BUDGET"), accounts=3),
    Bug("flat-markets-dropped", "waterfall.py",
        "scope = sorted(state.accounts[aid].positions)  # R-WF-7", "scope = markets  # R-WF-7",
        "clearing-house-vmgh", ("I-PROP", "I-BOUND", "I-NONNEG", "I-ORDER"), markets=2),
    # issue 18: bugs on the rules that decide who pays, each passing every claim that existed
    # before (their checks asked the model itself, or nothing checked the rule) and refuted by
    # the claim the issue added (or rewrote over spec/reference/)
    Bug("levy-exempt-tests-bankrupt", "levy.py", "if i != aid and i not in policy.exempt}",
        "if i != aid and aid not in policy.exempt}", "drift-v2", ("I-EXEMPT",), accounts=3),
    Bug("queue-smallest-first", "queue.py", "    return sorted(range(len(ids)), key=lambda k: (-weights[k], ids[k]))",
        "    return sorted(range(len(ids)), key=lambda k: (weights[k], ids[k]))", "chitra-queue", ("I-QUEUE",), accounts=3),
    Bug("fund-first-lot-rounded-up", "waterfall.py", "q = max(0, min(q, budget // costs[m]))",
        "q = max(0, min(q, -(-budget // costs[m])))", "bitmex-adl", ("I-ADL-FUND",)),
    Bug("adl-previous-mark-ignored", "adl.py", "        return previous_mark(mk)\n    eq = tx.equity(aid)",
        "        return mk.mark\n    eq = tx.equity(aid)", "hyperliquid-adl", ("I-ADL-PRICE",)),
    Bug("mark-choice-with-trigger", "waterfall.py", "capacity(tx, mech, scope) >= -tx.equity(aid)",
        "capacity(tx, mech, scope, trigger=True) >= -tx.equity(aid)", "okx-adl", ("I-ADL-PRICE", "I-ADL-FUND")),
    Bug("reserve-dropped", "layers.py", "out = max(0, bal - spec.reserve)", "out = max(0, bal)",
        "drift-v2", ("I-RESERVE",)),
    Bug("lifetime-record-keeps-largest", "layers.py", "tx.layer_paid[record] = tx.layer_paid.get(record, 0) + paid",
        "tx.layer_paid[record] = max(tx.layer_paid.get(record, 0), paid)", "drift-v2", ("I-LIFETIME",)),
    # R-WF-8's level is reached by okx-adl's trigger (bybit-adl's shared pool is measured per
    # market since R-WF-14): a floored level lets the fund-first budget send one lot too many
    Bug("drawdown-level-floored", "layers.py", "level = div_ceil(top * (PPM - spec.drawdown_ppm), PPM)",
        "level = top * (PPM - spec.drawdown_ppm) // PPM", "okx-adl", ("I-ADL-FUND", "I-DRAWDOWN")),
    Bug("market-drawdown-ignored", "layers.py",
        "allowed = div_floor(top * spec.drawdown_ppm, PPM) - market_drawdown(tx, spec, market)",
        "allowed = div_floor(top * spec.drawdown_ppm, PPM)", "bybit-adl", ("I-DRAWDOWN",)),
    Bug("takeover-not-cumulative", "waterfall.py",
        "cap = max(0, cap - notional(tx.view(), tx.accounts[counterparty]))", "cap = max(0, cap)",
        "binance-adl", ("I-ADL-FUND",)),
    Bug("market-record-not-lowered", "history.py", "levels = tuple(x if k % 2 == 0 else max_(0, x - delta)",
        "levels = tuple(x if k % 2 == 0 else max_(0, x)", "bybit-adl", ("I-DRAWDOWN",)),
    Bug("rank-ties-to-larger-id", "ranking.py", "keys.append(-s * n + rank[k])", "keys.append(-s * n - rank[k])",
        "bitmex-adl", ("I-ADL-RANK",), accounts=3),
    # R-WF-15 (issue 19c): Drift's layers per market, shown with two markets: a pass that
    # draws for the whole account (the first market's allowance record, every fee pool), and
    # a split that gives the first market the whole deficit
    Bug("pass-draws-for-the-account", "waterfall.py", "    rest = draw_layers(tx, mech, aid, part, [market])",
        "    rest = draw_layers(tx, mech, aid, part, sorted(tx.accounts[aid].positions))", "drift-v2",
        ("I-LIFETIME", "I-ORDER"), markets=2),
    Bug("split-all-to-first-market", "levy.py", "    if sum(losses) == 0:\n        return [(markets[0], deficit)]",
        "    if True:\n        return [(markets[0], deficit)]", "drift-v2", ("I-BUDGET",), markets=2),
    # issue 17's harness limits, each shown only by a case the harness lacked before (R-PROVE-2):
    # a history of two points, a time record absent, the pool's own account operated
    Bug("history-prune-half-pair", "history.py", "kept = kept[2:]", "kept = kept[1:]",
        "okx-adl", ("I-VALID",), ops=("advance_time",)),
    Bug("partial-record-without-default", "partial.py", "last = state.partial_at.get(op.account)",
        "last = state.partial_at[op.account]", "hyperliquid-adl", ("I-VALID",)),
    Bug("pool-own-deficit-dropped", "pool.py", "    if aid == policy.account:\n        return deficit",
        "    if aid == policy.account:\n        return 0", "gmx-v2", ("I-CONS", "I-ZERO", "I-NOLOSS")),
)

NEW_IN_ISSUE_18 = ("I-EXEMPT", "I-QUEUE", "I-ADL-FUND", "I-ADL-PRICE", "I-RESERVE", "I-LIFETIME", "I-DRAWDOWN")
BY_NAME = {b.name: b for b in BUGS + REACH}


def plant(bug: Bug, into: Path) -> Path:
    """A copy of model/ under `into` with the bug applied (the text must occur exactly once)."""
    tree = into / "model"
    shutil.copytree(MODEL_DIR, tree, ignore=shutil.ignore_patterns("__pycache__"))
    path = tree / bug.file
    text = path.read_text()
    if text.count(bug.old) != 1:
        raise ValueError(f"planted bug {bug.name}: {bug.old!r} occurs {text.count(bug.old)} times in model/{bug.file}")
    path.write_text(text.replace(bug.old, bug.new))
    return tree


def prove_bug(bug: Bug, timeout: float) -> dict[str, Any]:
    """`waterfall prove` on the planted model (this process): did it refute a claimed
    invariant the bug breaks, with a replayed counterexample?"""
    from waterfall.model.loader import resolve_mechanism
    from waterfall.spec.invariants import REGISTRY

    from waterfall.proofs import verdict as V
    from waterfall.proofs.prove.harness import Sizes
    from waterfall.proofs.prove.prover import prove_mechanism
    mech = resolve_mechanism(bug.mechanism)
    t0 = time.perf_counter()
    extra = {} if bug.samples is None else {"samples": bug.samples}
    asked = [i for i in REGISTRY if i in bug.breaks] if bug.narrow else list(REGISTRY)
    sizes = Sizes(bug.accounts, bug.markets, smaller=not bug.exact)
    vs, _ = prove_mechanism(mech, asked, sizes, bug.ops, timeout,
                            stop_when_refuted=set(bug.breaks) or set(mech.claims), **extra)
    refuted = [v.invariant for v in vs if v.kind == V.COUNTEREXAMPLE and v.claimed]
    return {"refuted": refuted, "caught": bool(set(refuted) & set(bug.breaks)),
            "seconds": round(time.perf_counter() - t0, 1),
            "verdicts": {v.invariant: v.kind for v in vs if v.kind != V.NOT_APPLICABLE}}


def fuzz_bug(bug: Bug, examples: int) -> dict[str, Any]:
    """The fuzzer on the planted model (this process): does it see a claimed invariant broken?"""
    from hypothesis import HealthCheck, Phase, settings

    from waterfall.model.loader import resolve_mechanism

    from waterfall.proofs.fuzz.machines import Tally, search
    mech = resolve_mechanism(bug.mechanism)
    cfg = settings(max_examples=examples, stateful_step_count=25, derandomize=True, database=None,
                   deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    t0 = time.perf_counter()
    try:
        tally = search(mech, frozenset(mech.claims), cfg, Tally())
    except Exception as e:  # noqa: BLE001  (the model crashed on a valid state: I-VALID, R-STATE-5)
        crash = f"I-VALID ({type(e).__name__} in the model)"
        return {"broken": [crash] if "I-VALID" in mech.claims else [], "seconds": round(time.perf_counter() - t0, 1)}
    seen = sorted(set(tally.documented) | ({tally.failure["invariant"]} if tally.failure else set()))
    claimed = [i for i in seen if i in mech.claims]
    return {"broken": claimed, "seconds": round(time.perf_counter() - t0, 1)}


def judge(bug: Bug, timeout: float = 300.0, examples: int = 200, fuzz: bool = True) -> dict[str, Any]:
    """Plant the bug in a temporary copy and judge it in a child process (prove, then fuzz)."""
    with tempfile.TemporaryDirectory() as d:
        tree = plant(bug, Path(d))
        spec = Path(d) / "bug.json"
        spec.write_text(json.dumps(asdict(bug)))
        argv = [sys.executable, "-m", "waterfall.proofs.mutation.planted", "child", str(tree), str(spec), str(timeout),
                str(examples if fuzz else 0)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout * 3 + 600)
    if p.returncode != 0:
        return {"bug": bug.name, "error": (p.stderr or p.stdout).strip()[-2000:]}
    return {"bug": bug.name, **json.loads(p.stdout.strip().splitlines()[-1])}


def reach(bug: Bug, timeout: float = 600.0) -> dict[str, Any]:
    """Issue 17 item 6: the bug judged by the path search alone (no small-scope search), on
    venues of exactly its size (k = 3) and of one account fewer, asking only the invariants
    it breaks; shown when refuted at k and missed at k - 1 (no claim it breaks refuted)."""
    bug = replace(bug, samples=0, narrow=True, exact=True)
    big = judge(bug, timeout, fuzz=False)
    small = judge(replace(bug, accounts=bug.accounts - 1), timeout, fuzz=False)
    def brief(r: dict[str, Any]) -> dict[str, Any]:
        p = r.get("prove", {})
        return {"caught": p.get("caught", False), "refuted": p.get("refuted", []), "seconds": p.get("seconds"),
                "verdicts": {i: p.get("verdicts", {}).get(i) for i in bug.breaks}, "error": r.get("error", "")}
    at, below = brief(big), brief(small)
    return {"bug": bug.name, "mechanism": bug.mechanism, "ops": list(bug.ops), f"k={bug.accounts}": at,
            f"k={bug.accounts - 1}": below, "shown": at["caught"] and not below["caught"] and not below["error"]}


def main(argv: list[str] | None = None) -> int:
    """`child TREE BUG.json TIMEOUT EXAMPLES` (internal), `judge [NAME ...] [--timeout S] [--no-fuzz]`
    or `reach [NAME ...] [--timeout S]` (the bugs that need three accounts, at k = 3 and k = 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["child"]:
        tree, spec, timeout, examples = Path(args[1]), Path(args[2]), float(args[3]), int(args[4])
        use_model(tree)
        doc = json.loads(spec.read_text())
        bug = Bug(**{**doc, "breaks": tuple(doc["breaks"]), "ops": tuple(doc["ops"])})
        out = {"prove": prove_bug(bug, timeout)}
        if examples:
            out["fuzz"] = fuzz_bug(bug, examples)
        print(json.dumps(out))
        return 0
    timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 300.0
    if args[:1] == ["reach"]:
        picked = [a for a in args[1:] if a in BY_NAME] or [b.name for b in REACH]
        shown = 0
        for name in picked:
            r = reach(BY_NAME[name], timeout)
            shown += r["shown"]
            print(json.dumps(r), flush=True)
        print(f"refuted at k = 3 and missed at k = 2: {shown} of {len(picked)} bugs", file=sys.stderr)
        return 0 if shown == len(picked) else 1
    names = [a for a in args[1:] if not a.startswith("--") and a != str(timeout) and a in BY_NAME] or [b.name for b in BUGS]
    results = []
    for name in names:
        r = judge(BY_NAME[name], timeout, fuzz="--no-fuzz" not in args)
        results.append(r)
        print(json.dumps(r), flush=True)
    caught = sum(1 for r in results if r.get("prove", {}).get("caught"))
    print(f"prove refuted {caught} of {len(results)} planted bugs", file=sys.stderr)
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["BUGS", "REACH", "Bug", "asdict", "judge", "plant", "reach", "use_model"]
