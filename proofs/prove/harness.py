"""The proof harness: one case of `waterfall prove` as a venue of unknowns (R-PROVE-2).

A case fixes the structure (the operation kind and its variant, the number of accounts k
and of markets m, which markets the operated account has an entry in, a seed for dYdX's
cyclic order) and leaves every number unknown: marks and margin rates, collateral, net
deposits, sizes and open notionals, every layer balance the mechanism names, every
default-fund contribution, recorded bad debt, and the operation's amounts and prices.
`build` makes the state and the operation with one function `make(name)` for every number,
so the same code builds the symbolic venue (unknowns, proofs/prove/symexec.py) and the concrete
venue of a counterexample or a witness (the solver's values), which `model.step` replays.

Structure the harness fixes, and why it loses no state:
- accounts a00 .. a(k-1); the operation acts on a00 (a liquidation's bankrupt, a deposit's
  account, a trade's buyer, a01 being the seller or the liquidation's counterparty). Ids
  only order ties among the accounts a rule ranks or pays, and the bankrupt is never among
  them, so renaming covers every choice of account;
- every account but a00 has an entry in every market: an entry with size 0 and open
  notional 0 acts as no entry in every rule (R-WF-7 reads the bankrupt's entries only), so
  unknown entries cover both; a00's entries are enumerated (each subset of the markets);
- trades, marks and funding act on M0 (markets are symmetric outside a liquidation);
- with a pool as counterparty (R-POOL) the last account is the pool's;
- time (R-STATE-6): the clock and every market's previous mark are unknowns; the records a
  mechanism reads are unknowns where it reads them (`extras`): one history point per
  windowed layer key, or two in a case of its own, the lifetime payout per LAYER:MARKET,
  each account's window base, each market's deferred loss, a00's last partial liquidation
  time, each account's assessment allowance; one more case has no record at all (every
  reader's default);
- with a pool, one more case operates on the pool's own account.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Callable, Iterator

from waterfall.model.history import windows
from waterfall.model.mechanism import Adl, Haircut, Mechanism, Pool, WithdrawalHaircut
from waterfall.model.ops import AdvanceTime, Deleverage, Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.state import Account, Market, Position, State

OPERATIONS = ("deposit", "withdraw", "trade", "set_mark", "funding", "liquidate", "advance_time", "deleverage")
Make = Callable[[str], Any]


def account_ids(k: int, mech: Mechanism | None = None, pool_operated: bool = False) -> list[str]:
    """a00, a01, ...: code-point order is index order; with a pool (R-POOL) the last
    account is the pool's, or the first (the operated one) in a pool-operated case; with
    exempt accounts (R-HC-8, R-LEVY-5) and k >= 3 the last is the first exempt one (with 2
    accounts a00 and a01 stay: the bankrupt and a payer)."""
    ids = [f"a{i:02d}" for i in range(k)]
    if mech is not None and isinstance(mech.final, Pool):
        ids[0 if pool_operated else -1] = mech.final.account
    exempt = getattr(mech.final, "exempt", ()) if mech is not None else ()
    if exempt and k >= 3:
        ids[-1] = exempt[0]
    return ids


def operations_for(mech: Mechanism) -> list[str]:
    """The operation kinds a mechanism has: a keeper's deleverage order only with a pool."""
    return [op for op in OPERATIONS if op != "deleverage" or isinstance(mech.final, Pool)]


def market_ids(m: int) -> list[str]:
    """M0, M1, ..."""
    return [f"M{j}" for j in range(m)]


@dataclass(frozen=True)
class Case:
    """One structure of venue and operation; every number in it is unknown."""

    op: str
    accounts: int
    markets: int
    held: tuple[str, ...]  # the markets a00 has an entry in
    counterparty: bool = True  # liquidation: a01 takes the positions (else ADL / none)
    seed: str = "0"  # liquidation: dYdX's cyclic start
    fills: bool = True  # liquidation with a counterparty: fill prices given (else omitted: the mark)
    records: str = "one"  # time records: "one" history point per key, "two" (a peak behind a lower
    #                       later point), "absent" (no record at all: every reader's default)
    pool_operated: bool = False  # R-POOL: the pool's own account is the operated one (a00's place)

    def label(self) -> str:
        """A short name: 'liquidate k=3 m=2 a00:M0,M1 cp seed=0'."""
        extra = ""
        if self.op == "liquidate":
            extra = (" cp" if self.counterparty else " no-cp") + (f" seed={self.seed}" if self.seed != "0" else "")
            extra += "" if self.fills else " fills-omitted"
        extra += "" if self.records == "one" else f" records={self.records}"
        extra += " pool-operated" if self.pool_operated else ""
        return f"{self.op} k={self.accounts} m={self.markets} a00:{','.join(self.held) or '-'}{extra}"


def build(mech: Mechanism, case: Case, make: Make) -> tuple[State, Op]:
    """The state and operation of a case, every number from make(name)."""
    ids, mids = account_ids(case.accounts, mech, case.pool_operated), market_ids(case.markets)
    markets = {m: Market(m, make(f"mark_{m}"), make(f"im_{m}"), make(f"mm_{m}"), make(f"pm_{m}")) for m in mids}
    accounts = {}
    for a in ids:
        held = case.held if a == ids[0] else mids
        accounts[a] = Account(make(f"c_{a}"), make(f"d_{a}"), {m: position(make, a, m, markets[m].mark) for m in held})
    layers = {key: make(f"L_{key}") for key in mech.layer_keys(mids)}
    fund = {a: make(f"df_{a}") for a in ids}
    records = {} if case.records == "absent" else extras(mech, ids, mids, make, points=2 if case.records == "two" else 1)
    state = State(markets, accounts, layers, fund, make("bad_debt"), make("clock"), **records)
    return state, operation(case, ids, mids, make)


def extras(mech: Mechanism, ids: list[str], mids: list[str], make: Make, points: int = 1) -> dict[str, Any]:
    """The time records (R-STATE-6) the mechanism reads, every number unknown; `points`
    (time, balance) points per windowed layer key."""
    out: dict[str, Any] = {}
    spans = windows(mech)
    keys = [k for k in mech.layer_keys(mids) if k.partition(":")[0] in spans]
    keys += [k for s in mech.layers for k in s.market_records(mids)]  # R-WF-14: each shared market's PnL record
    if keys:  # R-TIME-3: `points` (time, balance) points per windowed key
        out["history"] = {k: tuple(x for j in range(points) for x in (make(f"ht{j or ''}_{k}"), make(f"hb{j or ''}_{k}")))
                          for k in keys}
    capped = [s.name for s in mech.layers if s.lifetime_cap]
    if capped:  # R-WF-9
        out["layer_paid"] = {f"{n}:{m}": make(f"lp_{n}:{m}") for n in capped for m in mids}
    f = mech.final
    if (isinstance(f, Haircut) and f.profit == "window_gain") or (isinstance(f, WithdrawalHaircut) and f.window):
        out["window_base"] = {a: make(f"wb_{a}") for a in ids}  # R-HC-6, R-WH-3
    if (isinstance(f, Haircut) and f.timing == "settlement") or isinstance(f, WithdrawalHaircut):
        out["deferred"] = {m: make(f"def_{m}") for m in mids}  # R-HC-7, R-WH-1
    if mech.liquidation.step_ppm:
        out["partial_at"] = {ids[0]: make(f"pa_{ids[0]}")}  # R-LIQ-6
    if any(s.assessment_period for s in mech.layers):
        out["assessable"] = {a: make(f"as_{a}") for a in ids}  # R-CH-4
    return out


def position(make: Make, a: str, m: str, mark: Any) -> Position:
    """A position named by its size and its unrealised PnL at the mark (u): the open
    notional is size x mark - u. Every (size, open notional) pair is one (size, u) pair, so
    no position is lost, and equities are linear in the unknowns, which Z3 decides far
    faster than the products size x mark they replace."""
    size = make(f"s_{a}_{m}")
    return Position(size, size * mark - make(f"u_{a}_{m}"))


def operation(case: Case, ids: list[str], mids: list[str], make: Make) -> Op:
    """The case's operation on a00 (and the second account), its amounts unknown."""
    if case.op == "deposit":
        return Deposit(ids[0], make("amount"))
    if case.op == "withdraw":
        return Withdraw(ids[0], make("amount"))
    if case.op == "trade":
        return Trade(ids[0], ids[1], mids[0], make("size"), make("price"))
    if case.op == "set_mark":
        return SetMark(mids[0], make("price"))
    if case.op == "funding":
        return Funding(mids[0], make("rate"))
    if case.op == "advance_time":
        return AdvanceTime(make("seconds"))
    if case.op == "deleverage":
        return Deleverage(ids[0], mids[0], make("size"))
    if case.counterparty:
        fills = {m: make(f"fill_{m}") for m in case.held} if case.fills else {}
        return Liquidate(ids[0], ids[1], fills, case.seed)
    return Liquidate(ids[0], None, {}, case.seed)


def _start(seed: str, market: str, holders: int) -> int:
    """R-ADL-5's start offset for the bankrupt a00 (the model's own formula is in
    model/ranking.cyclic_order; this only chooses seeds, it proves nothing)."""
    return int.from_bytes(sha256(f"{seed}|{market}|a00".encode()).digest()[:8], "big") % holders


SMALL = {"mark": (1, 5), "im": (0, 3), "mm": (0, 3), "c": (-6, 12), "d": (-6, 12), "s": (-3, 3), "u": (-8, 8),
         "L": (0, 6), "df": (0, 6), "bad": (0, 2), "amount": (1, 6), "size": (1, 3), "price": (1, 6),
         "rate": (-3, 3), "fill": (1, 6), "pm": (0, 5), "hb": (0, 8), "lp": (0, 6), "wb": (-6, 6),
         "hb1": (0, 8), "def": (0, 4), "as": (0, 6)}
"""Ranges of the small-scope search, by the first part of an unknown's name; margin rates
are drawn from RATES by their index; times from TIMES."""
RATES = (0, 1, 50_000, 100_000, 500_000, 1_000_000)
TIMES = {"clock", "ht", "ht1", "pa", "seconds"}


def small_time(rng: Any) -> int:
    """A time for the small-scope search: small, or up to two weeks so windows roll."""
    return rng.randint(0, 30) if rng.random() < 0.5 else rng.randint(0, 1_300_000)


def small_values(mech: Mechanism, case: Case, rng: Any) -> dict[str, int]:
    """One random small venue of the case: every unknown of `build` drawn from its SMALL range."""
    names: list[str] = []
    build(mech, case, lambda name: names.append(name) or 1)
    out = {}
    for name in names:
        kind = name.split("_")[0]
        if kind in TIMES:
            out[name] = small_time(rng) + (1 if kind == "seconds" else 0)
            continue
        lo, hi = SMALL[kind]
        v = rng.randint(lo, hi)
        out[name] = RATES[v] if kind in ("im", "mm") else v
    for name in names:  # times no later than the clock (R-STATE-6), else nearly no draw is valid
        if name.split("_")[0] in ("ht", "ht1", "pa"):
            out[name] = min(out[name], out["clock"])
    ids = account_ids(case.accounts, mech, case.pool_operated)
    last = ids[-1]  # balances each market (R-STATE-5), else nearly no draw is valid
    for m in market_ids(case.markets):
        held = [a for a in ids if f"s_{a}_{m}" in out and a != last]
        size = -sum(out[f"s_{a}_{m}"] for a in held)
        notional = -sum(out[f"s_{a}_{m}"] * out[f"mark_{m}"] - out[f"u_{a}_{m}"] for a in held)
        out[f"s_{last}_{m}"], out[f"u_{last}_{m}"] = size, size * out[f"mark_{m}"] - notional
    return out


def cyclic_seeds(k: int, m: int) -> list[str]:
    """Seeds that together reach every combination, over the markets, of a number of
    opposite holders 1..k-1 and a start offset below it (R-ADL-5), so that the cyclic order
    is proved for every start: chosen greedily among '0', '1', ..."""
    mids = market_ids(m)
    per_market = [(n, o) for n in range(1, k) for o in range(n)]
    need = set(itertools.product(per_market, repeat=m))
    seeds: list[str] = []
    got: set[Any] = set()
    for s in map(str, range(10_000)):
        reach = {tuple((n, _start(s, mk, n)) for mk, n in zip(mids, ns))
                 for ns in itertools.product(range(1, k), repeat=m)}
        if reach - got:
            seeds.append(s)
            got |= reach
        if got >= need:
            return seeds
    raise AssertionError("no seed set reaches every cyclic start")


def cases(mech: Mechanism, op: str, k: int, m: int) -> Iterator[Case]:
    """Every case of one operation kind on k accounts and m markets (none for an operation
    the mechanism does not have)."""
    mids = market_ids(m)
    if op not in operations_for(mech):
        return
    if op != "liquidate":
        yield Case(op, k, m, tuple(mids))
        yield from variants(mech, op, k, m)
        return
    yield from variants(mech, op, k, m)
    adl = isinstance(mech.final, Adl)
    seeds = cyclic_seeds(k, m) if adl and mech.final.ranking == "cyclic" else ["0"]  # type: ignore[union-attr]
    for r in range(m, -1, -1):
        for held in itertools.combinations(mids, r):
            yield Case(op, k, m, held, True)
            if held and r == m:  # R-LIQ-3's default price: no fill price given, the mark is used
                yield Case(op, k, m, held, True, fills=False)
            if adl or not held:  # without an ADL final resort, a close needs a counterparty
                for s in seeds:
                    yield Case(op, k, m, held, False, s)


def variants(mech: Mechanism, op: str, k: int, m: int) -> Iterator[Case]:
    """The cases that lift the harness's structural limits (R-PROVE-2), each with a00 holding
    every market: the time records absent (every reader's default), histories of two points
    (a peak behind a later, lower point: R-TIME-3's pruning), and with a pool the pool's
    own account operated (its own deficit, its own deposit or trade)."""
    held = tuple(market_ids(m))
    probe = extras(mech, account_ids(k, mech), list(held), lambda name: 0)
    if probe:
        yield Case(op, k, m, held, records="absent")
    if "history" in probe:
        yield Case(op, k, m, held, records="two")
    if isinstance(mech.final, Pool) and op != "deleverage":
        yield Case(op, k, m, held, pool_operated=True)


@dataclass
class Sizes:
    """The k and m of a run (every k' <= k and m' <= m is a case of its own)."""

    accounts: int = 3
    markets: int = 2
    smaller: bool = True  # also prove every smaller venue (no inertness argument)
    search_accounts: int = 4  # the small-scope search also samples venues this large (R-PROVE-5)
    search_markets: int = 2

    def search_pairs(self) -> list[tuple[int, int]]:
        """(k', m') pairs the small-scope search samples: up to the larger of the proof's
        sizes and the search's own."""
        ka, ma = max(self.accounts, self.search_accounts), max(self.markets, self.search_markets)
        return [(k, m) for k in range(2, ka + 1) for m in range(1, ma + 1)]

    def pairs(self) -> list[tuple[int, int]]:
        """(k', m') pairs to prove, smallest first."""
        if not self.smaller:
            return [(self.accounts, self.markets)]
        return [(k, m) for k in range(2, self.accounts + 1) for m in range(1, self.markets + 1)]
