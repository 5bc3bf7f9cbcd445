"""Benchmark: one liquidation with socialisation over N accounts, model vs a NumPy floor.

For N = 10^3 .. 10^6 accounts (one market) this times `model.step.step(state, Liquidate(...),
mech)` end to end for four final-resort policies:

  haircut/largest_remainder  model.mechanism.Haircut(rounding="largest_remainder")
  haircut/floor              model.mechanism.Haircut(rounding="floor")
  adl/profit                 model.mechanism.Adl(ranking="profit")
  adl/bitmex                 model.mechanism.Adl(ranking="bitmex")

and, in the same run, a NumPy computation of the SAME allocation from a columnar copy of
the same state (the "practical floor"). Each NumPy allocation is compared with the
allocation the model reports in its events; any difference aborts the run (exit 1).

The state (built directly, excluded from timing): row 0 is the bankrupt (one large long),
row 1 the liquidator (flat; takes the bankrupt's position at mark), rows 2..N-1 hold ~70 %
shorts / ~30 % longs of 1..100 lots entered between 85,000 and 105,000; the mark has dropped
to 90,000, so most shorts are in profit. Sizes and open notionals sum to zero (the bankrupt
holds the balancing position). ~3 % of accounts have negative collateral, so the haircut
base min(profit, equity) is capped at equity for some and zero for others. The insurance
fund is small, so the haircut runs over every profitable account (~57 % of N; the deficit
left is ~37 % of their base, so remainders and ties at the cut matter). For ADL the fill
to the liquidator leaves a deficit the fund cannot cover, so R-LIQ-2 deleverages instead:
every short (~70 % of N) is ranked and about half of them are filled. Account ids are
zero-padded ("a0000042"), so id (code-point) order is row order; the NumPy code uses row
order as the tie-break key order.

Timed: the model from `step(...)` call to return (state construction, verification and
deallocation of the result excluded); NumPy from the columnar int64 arrays (size, open
notional, collateral) to the allocation vector, including the close, the fund draw and
the base; it builds no new state and no events. A sample runs the step back to back until
it lasts >= --min-sample seconds (so small and large N average over the same kind of
window on a noisy host); best and median of --repeats samples are reported.

Integer magnitudes: |upnl| <= 100 * 15,000 = 1.5e6, so haircut products target * w <=
N * 1.5e6^2 <= 2.25e18 < 2^63 at N = 10^6; the bench checks target * max(w) < 2^63 and
otherwise switches to object (Python int) arrays. The bitmex score floor(1e18 * a / b)
(a, b < 1e15) does not fit int64, so it is kept exactly as the pair (a // b, floor(1e18 *
(a % b) / b)) computed by int64 long division in base 1000; the pair orders like the score.

Usage: .venv/bin/python bench/allocation.py [--max-n 100000] [--min-n 1000] [--repeats 3]
           [--policies ...] [--gc on|off|freeze] [--profile POLICY] [--out PATH]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from waterfall.model.events import Event  # noqa: E402
from waterfall.model.mechanism import Adl, Haircut, LayerSpec, Liquidation, Mechanism  # noqa: E402
from waterfall.model.ops import Liquidate  # noqa: E402
from waterfall.model.state import Account, Market, Position, State, validate_state, value  # noqa: E402
from waterfall.model.step import step  # noqa: E402
from waterfall.model.units import RANK_SCALE  # noqa: E402

MARKET = "BTC-PERP"
MARK = 90_000
IM_PPM, MM_PPM = 100_000, 50_000
FUND = 1_000_000           # insurance fund: covers a sliver of the deficit
HAIRCUT_FRACTION = 0.3719  # deficit left after the fund, as a fraction of the haircut base
INT64_MAX = 2**63 - 1
POLICIES = ("haircut/largest_remainder", "haircut/floor", "adl/profit", "adl/bitmex")
SIZES = (10**3, 10**4, 10**5, 10**6)


class Mismatch(AssertionError):
    """The NumPy allocation differs from the model's: the comparison would be dishonest."""


# --------------------------------------------------------------------------------------------
# The scenario: columnar arrays first, then the model State built from exactly those numbers.
# --------------------------------------------------------------------------------------------

@dataclass
class Book:
    """Columnar copy of the state (int64 arrays, row i = account ids[i]) and scalars."""

    n: int
    ids: list[str]
    size: np.ndarray
    on: np.ndarray
    coll: np.ndarray
    bankrupt: int
    liquidator: int
    fill: int
    fund: int


def make_book(n: int, seed: int = 12345) -> Book:
    """The arrays of one scenario with n >= 3 accounts (see module docstring)."""
    rng = np.random.default_rng(seed + n)
    k = n - 2
    lots = rng.integers(1, 101, k, dtype=np.int64)
    short = rng.random(k) < 0.7
    size = np.where(short, -lots, lots)
    entry = 85_000 + 500 * rng.integers(0, 41, k, dtype=np.int64)
    on = size * entry
    coll = lots * entry * IM_PPM // 1_000_000 * rng.integers(1, 4, k, dtype=np.int64)
    neg = rng.random(k) < 0.03
    coll = np.where(neg, -rng.integers(0, 1_500_000, k, dtype=np.int64), coll)
    s_bankrupt = -int(size.sum())
    assert s_bankrupt > 0, "the bankrupt must be long"
    on_bankrupt = -int(on.sum())
    # Haircut base of the others after the liquidator takes the long at mark (its upnl is 0).
    u = size * MARK - on
    w = np.minimum(u, coll + u)
    wsum = int(w[w > 0].sum())
    deficit = FUND + int(HAIRCUT_FRACTION * wsum) + 1
    fill = MARK
    # Bankrupt equity after the close at `fill`: coll_b + S * fill - on_b = -deficit.
    coll_bankrupt = -deficit - s_bankrupt * fill + on_bankrupt
    full = lambda head, tail: np.concatenate([np.array(head, dtype=np.int64), tail])  # noqa: E731
    width = max(7, len(str(n - 1)))
    return Book(n=n, ids=[f"a{i:0{width}d}" for i in range(n)],
                size=full([s_bankrupt, 0], size), on=full([on_bankrupt, 0], on),
                coll=full([coll_bankrupt, 10**12], coll), bankrupt=0, liquidator=1, fill=fill, fund=FUND)


def make_state(b: Book) -> State:
    """The model State holding exactly the book's numbers (Python ints)."""
    sizes, ons, colls = b.size.tolist(), b.on.tolist(), b.coll.tolist()
    accounts = {}
    for aid, s, o, c in zip(b.ids, sizes, ons, colls):
        positions = {MARKET: Position(s, o)} if s or o else {}
        accounts[aid] = Account(c, max(c, 0), positions)
    return validate_state(State(markets={MARKET: Market(MARKET, MARK, IM_PPM, MM_PPM)},
                                accounts=accounts, layers={"insurance_fund": b.fund}))


def mechanism(policy: str) -> Mechanism:
    kind, variant = policy.split("/")
    final = Haircut(rounding=variant) if kind == "haircut" else Adl(ranking=variant)
    return Mechanism(id=f"bench-{kind}-{variant}", name=policy,
                     liquidation=Liquidation(surplus="fee", fee_ppm=5000, surplus_sink="insurance_fund"),
                     layers=(LayerSpec("insurance_fund"),), final=final)


def operation(b: Book) -> Liquidate:
    return Liquidate(account=b.ids[b.bankrupt], counterparty=b.ids[b.liquidator],
                     fill_prices={MARKET: b.fill})


# --------------------------------------------------------------------------------------------
# The NumPy floor: the same allocation from the columnar book.
# --------------------------------------------------------------------------------------------

def np_haircut(b: Book, rounding: str) -> tuple[np.ndarray, np.ndarray, int]:
    """R-LIQ-3 close at fill, R-WF-3 fund draw, R-HC-1 base, R-ALLOC-1/2 shares.

    Returns (rows charged, their shares, rest after fund). Tie-break key order = row order."""
    size, on, coll = b.size, b.on, b.coll
    u = size * MARK - on
    s = int(size[b.bankrupt])
    u[b.liquidator] += s * MARK - s * b.fill                 # the liquidator took the long at fill
    eq_bankrupt = int(coll[b.bankrupt]) + s * b.fill - int(on[b.bankrupt])
    rest = -eq_bankrupt - min(-eq_bankrupt, b.fund)
    w = np.minimum(u, coll + u)                              # max(0, min(profit, equity)) below
    w[b.bankrupt] = 0
    rows = np.flatnonzero(w > 0)
    w = w[rows]
    wsum = int(w.sum())
    target = min(rest, wsum)
    if target * int(w.max()) > INT64_MAX:                    # does not happen at these magnitudes
        w = w.astype(object)
    prod = target * w
    if rounding == "floor":
        return rows, prod // wsum, rest
    q, r = np.divmod(prod, wsum)
    extra = target - int(q.sum())
    if extra:
        m = len(r)
        cut = np.partition(r, m - extra)[m - extra]          # the extra-th largest remainder
        above = r > cut
        ties = np.flatnonzero(r == cut)[: extra - int(above.sum())]  # smaller key first
        q = q + above
        q[ties] += 1
    return rows, q, rest


def _frac_scaled(rem: np.ndarray, den: np.ndarray) -> np.ndarray:
    """floor(RANK_SCALE * rem / den) for 0 <= rem < den < 9.2e15, in int64 long division."""
    f = np.zeros_like(rem)
    r = rem
    for _ in range(6):                                       # 1000^6 = 10^18 = RANK_SCALE
        r = r * 1000
        d = r // den
        r = r - d * den
        f = f * 1000 + d
    return f


def np_adl(b: Book, ranking: str) -> tuple[np.ndarray, np.ndarray, int]:
    """R-ADL-2 bankruptcy price, R-ADL-3/4 ranking of the shorts, R-ADL-1 fills.

    Returns (rows in fill order, fill sizes, price)."""
    assert RANK_SCALE == 10**18
    size, on, coll = b.size, b.on, b.coll
    s = int(size[b.bankrupt])
    eq_bankrupt = int(coll[b.bankrupt]) + s * MARK - int(on[b.bankrupt])
    price = max(1, MARK - (eq_bankrupt // s))                # mark + ceil(-eq / size), long
    h = np.flatnonzero(size < 0)                             # opposite side; ascending = id order
    sz, o = size[h], on[h]
    u = sz * MARK - o
    if ranking == "profit":
        order = h[np.argsort(-u, kind="stable")]            # stable: ties stay in id order
    elif ranking == "bitmex":
        eq = coll[h] + u
        entry, val = np.abs(o), np.abs(sz) * MARK
        scored = (eq > 0) & (entry != 0)
        pos = u > 0
        num = np.where(pos, u * val, u * eq)
        den = np.where(pos, entry * eq, entry * val)
        den = np.where(scored, den, 1)
        assert int(np.abs(num).max()) < 9 * 10**15 and int(den.max()) < 9 * 10**15
        q = num // den
        f = _frac_scaled(num - q * den, den)
        q = np.where(scored, q, 0)
        f = np.where(scored, f, 0)
        order = h[np.lexsort((-f, -q, ~scored))]             # stable: ties stay in id order
    else:
        raise ValueError(ranking)
    avail = -size[order]
    cs = np.cumsum(avail)
    k = int(np.searchsorted(cs, s))                          # first prefix that covers s
    if k >= len(cs):
        raise Mismatch("the opposite side cannot absorb the bankrupt size")
    fills = avail[: k + 1].copy()
    fills[k] = s - (int(cs[k - 1]) if k else 0)
    return order[: k + 1], fills, price


# --------------------------------------------------------------------------------------------
# Checks: the model's allocation (from its events) must equal the NumPy one.
# --------------------------------------------------------------------------------------------

def row_of(endpoint: str) -> int:
    return int(endpoint[len("account:a"):])


def check_haircut(b: Book, pre: State, post: State, events: list[Event], rows: np.ndarray,
                  shares: np.ndarray, rest: int) -> None:
    charged = [(row_of(e.src), e.amount) for e in events if e.rule == "R-HC-2"]
    model = np.zeros(b.n, dtype=object)
    for r, a in charged:
        model[r] += a
    mine = np.zeros(b.n, dtype=object)
    mine[rows] = np.asarray(shares).astype(object)
    if len(charged) != int((mine != 0).sum()) or not np.array_equal(model, mine):
        bad = np.flatnonzero(model != mine)[:5].tolist()
        raise Mismatch(f"haircut shares differ at rows {bad}: model "
                       f"{[model[i] for i in bad]} numpy {[mine[i] for i in bad]}")
    collected = int(sum(int(x) for x in shares))
    if post.bad_debt != rest - collected:
        raise Mismatch(f"bad debt {post.bad_debt} != rest {rest} - collected {collected}")
    if value(post) != value(pre):
        raise Mismatch("I-CONS broken")


def check_adl(b: Book, pre: State, post: State, events: list[Event], rows: np.ndarray,
              fills: np.ndarray, price: int) -> None:
    trades = [e for e in events if e.rule == "R-ADL-1"]
    model_rows = [row_of(e.dst) for e in trades]
    model_fills = [e.size for e in trades]
    if model_rows != rows.tolist() or model_fills != fills.tolist():
        first = next((i for i, (a, c) in enumerate(zip(model_rows, rows.tolist())) if a != c),
                     min(len(model_rows), len(rows)))
        raise Mismatch(f"ADL queue differs: model fills {len(trades)} accounts, numpy {len(rows)}; "
                       f"first difference at position {first}")
    prices = {e.price for e in trades}
    if prices != {price}:
        raise Mismatch(f"ADL price: model {sorted(prices)} numpy {price}")
    if value(post) != value(pre):
        raise Mismatch("I-CONS broken")


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

def time_model(state: State, op: Liquidate, mech: Mechanism, repeats: int, gc_mode: str,
               check: Callable[[State, list[Event]], None], min_sample: float) -> tuple[list[float], int]:
    """Seconds per model step: one untimed warm-up step whose result is verified, then
    `repeats` samples of `inner` back-to-back steps each, inner chosen so that a sample
    lasts >= min_sample (timeit-style autorange). The results are kept until the clock
    stops, so their deallocation is not timed (at any N)."""
    gc.collect()
    t0 = time.perf_counter()
    post, events = step(state, op, mech)
    first = time.perf_counter() - t0
    check(post, events)
    del post, events
    inner = max(1, math.ceil(min_sample / first))
    samples = []
    for _ in range(repeats):
        gc.collect()
        if gc_mode == "off":
            gc.disable()
        keep = []
        t0 = time.perf_counter()
        for _ in range(inner):
            keep.append(step(state, op, mech))
        dt = time.perf_counter() - t0
        gc.enable()
        samples.append(dt / inner)
        del keep
    gc.collect()
    return samples, inner


def time_numpy(fn: Callable[[], tuple], repeats: int, min_sample: float) -> tuple[list[float], tuple]:
    """Seconds per NumPy allocation, same autorange scheme; returns the last result."""
    t0 = time.perf_counter()
    out = fn()
    inner = max(1, math.ceil(min_sample / max(time.perf_counter() - t0, 1e-6)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = fn()
        samples.append((time.perf_counter() - t0) / inner)
    return samples, out


def profile(state: State, op: Liquidate, mech: Mechanism, top: int = 25) -> str:
    gc.collect()
    pr = cProfile.Profile()
    pr.enable()
    post, events = step(state, op, mech)
    pr.disable()
    del post, events
    s = io.StringIO()
    stats = pstats.Stats(pr, stream=s)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return s.getvalue()


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-n", type=int, default=10**6, help="largest N (default 1000000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed samples per cell (default 3); "
                    "best and median are reported")
    ap.add_argument("--min-sample", type=float, default=0.5, help="seconds one sample lasts at "
                    "least: small N repeat the step inside a sample (default 0.5)")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    ap.add_argument("--min-n", type=int, default=SIZES[0], help="smallest N (default 1000)")
    ap.add_argument("--gc", choices=("on", "off", "freeze"), default="on",
                    help="cyclic GC during the timed model step: on (default, as the model runs), "
                    "off (gc.disable()), freeze (gc.freeze() after building the state; in 3.11 this "
                    "can make full collections more frequent, see README)")
    ap.add_argument("--profile", choices=POLICIES, action="append", default=[],
                    help="cProfile one model step of this policy at the largest N (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "allocation.json")
    args = ap.parse_args(argv)

    sizes = [n for n in SIZES if args.min_n <= n <= args.max_n]
    if not sizes:
        ap.error(f"no N in {SIZES} between --min-n and --max-n")
    rows: list[dict] = []
    profiles: dict[str, str] = {}
    print(f"bench/allocation.py: N = {sizes}, repeats = {args.repeats}, GC {args.gc}"
          f" in timed region; python {platform.python_version()}, numpy {np.__version__}", flush=True)
    for n in sizes:
        t0 = time.perf_counter()
        b = make_book(n)
        state = make_state(b)
        op = operation(b)
        if args.gc == "freeze":
            gc.collect()
            gc.freeze()
        print(f"  N={n}: state built in {time.perf_counter() - t0:.2f}s", flush=True)
        for policy in args.policies:
            kind, variant = policy.split("/")
            mech = mechanism(policy)
            if kind == "haircut":
                np_fn = lambda: np_haircut(b, variant)  # noqa: E731
                np_times, (r_, sh_, rest_) = time_numpy(np_fn, args.repeats, args.min_sample / 2)
                check = lambda post, ev: check_haircut(b, state, post, ev, r_, sh_, rest_)  # noqa: E731
                touched = len(r_)
            else:
                np_fn = lambda: np_adl(b, variant)  # noqa: E731
                np_times, (r_, fi_, price_) = time_numpy(np_fn, args.repeats, args.min_sample / 2)
                check = lambda post, ev: check_adl(b, state, post, ev, r_, fi_, price_)  # noqa: E731
                touched = len(r_)
            m_times, inner = time_model(state, op, mech, args.repeats, args.gc, check, args.min_sample)
            row = {"policy": policy, "n": n, "repeats": args.repeats, "steps_per_sample": inner,
                   "accounts_charged": touched,
                   "model_best_s": min(m_times), "model_median_s": median(m_times),
                   "numpy_best_s": min(np_times), "numpy_median_s": median(np_times),
                   "model_times_s": m_times, "verified": True}
            row["model_ns_per_account"] = row["model_best_s"] / n * 1e9
            row["numpy_ns_per_account"] = row["numpy_best_s"] / n * 1e9
            row["ratio_model_numpy"] = row["model_best_s"] / row["numpy_best_s"]
            base = next(r for r in rows + [row] if r["policy"] == policy)
            row["linearity"] = row["model_ns_per_account"] / base["model_ns_per_account"]
            row["numpy_linearity"] = row["numpy_ns_per_account"] / base["numpy_ns_per_account"]
            rows.append(row)
            print(f"    {policy:26s} model {row['model_best_s']:9.4f}s  numpy {row['numpy_best_s']:8.5f}s  "
                  f"x{row['ratio_model_numpy']:7.1f}  verified ({touched} accounts)", flush=True)
            if n == sizes[-1] and policy in args.profile:
                profiles[policy] = profile(state, op, mech)
        del state, b, op
        gc.unfreeze()
        gc.collect()

    hdr = (f"{'policy':26s} {'N':>9s} {'model s':>9s} {'(median)':>9s} {'ns/acct':>8s} "
           f"{'numpy s':>9s} {'model/np':>9s} {'lin.':>6s} {'np lin.':>7s} {'charged':>8s}")
    print("\n" + hdr + "\n" + "-" * len(hdr))
    for r in rows:
        print(f"{r['policy']:26s} {r['n']:9d} {r['model_best_s']:9.4f} {r['model_median_s']:9.4f} "
              f"{r['model_ns_per_account']:8.0f} {r['numpy_best_s']:9.5f} {r['ratio_model_numpy']:9.1f} "
              f"{r['linearity']:6.2f} {r['numpy_linearity']:7.2f} {r['accounts_charged']:8d}")
    print("model s / numpy s: per step, best of the samples; ns/acct = model best / N; lin. = ns/acct relative to "
          f"N={sizes[0]} (1.00 = linear; np lin. likewise for numpy); charged = accounts haircut or deleveraged.")
    for policy, text in profiles.items():
        print(f"\n=== cProfile: {policy}, N={sizes[-1]} ===\n{text}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform(), "cpus": os.cpu_count(),
            "git_commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "gc_in_timed_region": args.gc, "min_sample_s": args.min_sample, "sizes": sizes, "policies": args.policies}
    args.out.write_text(json.dumps({"meta": meta, "results": rows, "profiles": profiles}, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Mismatch as e:
        print(f"\nFAIL: NumPy allocation differs from the model's: {e}", file=sys.stderr)
        sys.exit(1)
