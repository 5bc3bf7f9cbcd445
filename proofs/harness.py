"""The proof harness: one case of `waterfall prove` as a venue of unknowns (R-PROVE-2).

A case fixes the structure (the operation kind and its variant, the number of accounts k
and of markets m, which markets the operated account has an entry in, a seed for dYdX's
cyclic order) and leaves every number unknown: marks and margin rates, collateral, net
deposits, sizes and open notionals, every layer balance the mechanism names, every
default-fund contribution, recorded bad debt, and the operation's amounts and prices.
`build` makes the state and the operation with one function `make(name)` for every number,
so the same code builds the symbolic venue (unknowns, proofs/symexec.py) and the concrete
venue of a counterexample or a witness (the solver's values), which `model.step` replays.

Structure the harness fixes, and why it loses no state:
- accounts a00 .. a(k-1); the operation acts on a00 (a liquidation's bankrupt, a deposit's
  account, a trade's buyer, a01 being the seller or the liquidation's counterparty). Ids
  only order ties among the accounts a rule ranks or pays, and the bankrupt is never among
  them, so renaming covers every choice of account;
- every account but a00 has an entry in every market: an entry with size 0 and open
  notional 0 acts as no entry in every rule (R-WF-7 reads the bankrupt's entries only), so
  unknown entries cover both; a00's entries are enumerated (each subset of the markets);
- trades, marks and funding act on M0 (markets are symmetric outside a liquidation).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Callable, Iterator

from waterfall.model.mechanism import Adl, Mechanism
from waterfall.model.ops import Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from waterfall.model.state import Account, Market, Position, State

OPERATIONS = ("deposit", "withdraw", "trade", "set_mark", "funding", "liquidate")
Make = Callable[[str], Any]


def account_ids(k: int) -> list[str]:
    """a00, a01, ...: code-point order is index order."""
    return [f"a{i:02d}" for i in range(k)]


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

    def label(self) -> str:
        """A short name: 'liquidate k=3 m=2 a00:M0,M1 cp seed=0'."""
        extra = ""
        if self.op == "liquidate":
            extra = (" cp" if self.counterparty else " no-cp") + (f" seed={self.seed}" if self.seed != "0" else "")
        return f"{self.op} k={self.accounts} m={self.markets} a00:{','.join(self.held) or '-'}{extra}"


def build(mech: Mechanism, case: Case, make: Make) -> tuple[State, Op]:
    """The state and operation of a case, every number from make(name)."""
    ids, mids = account_ids(case.accounts), market_ids(case.markets)
    markets = {m: Market(m, make(f"mark_{m}"), make(f"im_{m}"), make(f"mm_{m}")) for m in mids}
    accounts = {}
    for a in ids:
        held = case.held if a == ids[0] else mids
        accounts[a] = Account(make(f"c_{a}"), make(f"d_{a}"), {m: position(make, a, m, markets[m].mark) for m in held})
    layers = {key: make(f"L_{key}") for key in mech.layer_keys(mids)}
    fund = {a: make(f"df_{a}") for a in ids}
    return State(markets, accounts, layers, fund, make("bad_debt")), operation(case, mids, make)


def position(make: Make, a: str, m: str, mark: Any) -> Position:
    """A position named by its size and its unrealised PnL at the mark (u): the open
    notional is size x mark - u. Every (size, open notional) pair is one (size, u) pair, so
    no position is lost, and equities are linear in the unknowns, which Z3 decides far
    faster than the products size x mark they replace."""
    size = make(f"s_{a}_{m}")
    return Position(size, size * mark - make(f"u_{a}_{m}"))


def operation(case: Case, mids: list[str], make: Make) -> Op:
    """The case's operation on a00 (and a01), its amounts unknown."""
    if case.op == "deposit":
        return Deposit("a00", make("amount"))
    if case.op == "withdraw":
        return Withdraw("a00", make("amount"))
    if case.op == "trade":
        return Trade("a00", "a01", mids[0], make("size"), make("price"))
    if case.op == "set_mark":
        return SetMark(mids[0], make("price"))
    if case.op == "funding":
        return Funding(mids[0], make("rate"))
    if case.counterparty:
        return Liquidate("a00", "a01", {m: make(f"fill_{m}") for m in case.held}, case.seed)
    return Liquidate("a00", None, {}, case.seed)


def _start(seed: str, market: str, holders: int) -> int:
    """R-ADL-5's start offset for the bankrupt a00 (the model's own formula is in
    model/ranking.cyclic_order; this only chooses seeds, it proves nothing)."""
    return int.from_bytes(sha256(f"{seed}|{market}|a00".encode()).digest()[:8], "big") % holders


SMALL = {"mark": (1, 5), "im": (0, 3), "mm": (0, 3), "c": (-6, 12), "d": (-6, 12), "s": (-3, 3), "u": (-8, 8),
         "L": (0, 6), "df": (0, 6), "bad": (0, 2), "amount": (1, 6), "size": (1, 3), "price": (1, 6),
         "rate": (-3, 3), "fill": (1, 6)}
"""Ranges of the small-scope search, by the first part of an unknown's name; margin rates
are drawn from RATES by their index."""
RATES = (0, 1, 50_000, 100_000, 500_000, 1_000_000)


def small_values(mech: Mechanism, case: Case, rng: Any) -> dict[str, int]:
    """One random small venue of the case: every unknown of `build` drawn from its SMALL range."""
    names: list[str] = []
    build(mech, case, lambda name: names.append(name) or 1)
    out = {}
    for name in names:
        lo, hi = SMALL[name.split("_")[0]]
        v = rng.randint(lo, hi)
        out[name] = RATES[v] if name.split("_")[0] in ("im", "mm") else v
    last = account_ids(case.accounts)[-1]  # balances each market (R-STATE-5), else nearly no draw is valid
    for m in market_ids(case.markets):
        held = [a for a in account_ids(case.accounts) if f"s_{a}_{m}" in out and a != last]
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
    """Every case of one operation kind on k accounts and m markets."""
    mids = market_ids(m)
    if op != "liquidate":
        yield Case(op, k, m, tuple(mids))
        return
    adl = isinstance(mech.final, Adl)
    seeds = cyclic_seeds(k, m) if adl and mech.final.ranking == "cyclic" else ["0"]  # type: ignore[union-attr]
    for r in range(m, -1, -1):
        for held in itertools.combinations(mids, r):
            yield Case(op, k, m, held, True)
            if adl or not held:  # without an ADL final resort, a close needs a counterparty
                for s in seeds:
                    yield Case(op, k, m, held, False, s)


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
