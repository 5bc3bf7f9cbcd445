"""Deliberately broken rules (seeded bugs): each is a patch of one model function and the
invariant that must catch it. Shared by tests/proofs/test_fuzz.py and bench/fuzz.py (and later the
proofs): a checker that misses one of these is not checking what it claims."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from waterfall.model import adl, haircut, layers, tx, waterfall
from waterfall.model.mechanism import Haircut, Mechanism
from waterfall.model.state import Position


@dataclass(frozen=True)
class SeededBug:
    """A named bug: where to patch, the broken replacement, the mechanism it needs, and the
    invariant(s) that must refute it."""

    name: str
    target: Any
    attribute: str
    replacement: Callable[..., Any]
    mechanism: str
    catches: frozenset[str]
    adapt: Callable[[Mechanism], Mechanism] = lambda m: m
    examples: int = 300  # fuzz budget that finds it (derandomized CI profile)


def _floor_residue_lost(tx_, mech, sink, aid, rest, residue, markets):
    return 0  # the shortfall of floor rounding (and the rest) simply vanishes


def _haircut_losers(tx_, policy, aid, markets):
    ids = [i for i in sorted(tx_.accounts) if i != aid]
    return ids, [max(0, tx_.equity(i)) for i in ids]  # everyone's equity is a base, losers too


def _ranking_ignored(state, ranking, market, side, exclude, seed):
    return iter(sorted(i for i, a in state.accounts.items()
                       if i != exclude and market in a.positions and a.positions[market].size * side > 0))


def _adl_overshoot(tx_, policy, aid, markets, seed, **_):
    for m in markets:
        pos = tx_.accounts[aid].positions.get(m)
        if not pos or not pos.size:
            continue
        side = -1 if pos.size > 0 else 1
        fills = [(j, abs(a.positions[m].size)) for j, a in sorted(tx_.accounts.items())
                 if j != aid and m in a.positions and a.positions[m].size * side > 0]
        tx_.fills("R-ADL-1", aid, m, fills, tx_.markets[m].mark, "adl", side)  # everyone closed in full


def _fund_negative(tx_, spec, aid, deficit, markets):
    tx_.pay("R-WF-3", "layer:" + spec.name, "account:" + aid, deficit, spec.name)
    return deficit


def _socialise_first(tx_, mech, aid, deficit, markets, deleveraged=False):
    return deficit  # the layers are skipped: straight to socialisation


ORIGINAL_MOVE = tx.Tx._move


def _average_entry(self, aid, market, dsize, dnotional):
    ORIGINAL_MOVE(self, aid, market, dsize, dnotional)
    p = self.accounts[aid].positions.get(market)
    if p and p.size:  # keep an integer average entry price: size * floor(notional / size)
        positions = dict(self.accounts[aid].positions)
        positions[market] = Position(p.size, p.size * (p.open_notional // p.size))
        self.accounts[aid] = self.accounts[aid]._replace(positions=positions)


def _with_floor(mech: Mechanism) -> Mechanism:
    return replace(mech, final=replace(mech.final, rounding="floor")) if isinstance(mech.final, Haircut) else mech


SEEDED_BUGS = (
    SeededBug("floor-without-residue-sink", haircut, "settle_residue", _floor_residue_lost,
              "generic-socialized-loss", frozenset({"I-NOLOSS", "I-BUDGET"}), _with_floor),
    SeededBug("haircut-charged-to-losers", haircut, "haircut_base", _haircut_losers,
              "generic-socialized-loss", frozenset({"I-BOUND", "I-NONNEG", "I-PROP"})),
    SeededBug("adl-ignores-ranking", adl, "ranked", _ranking_ignored, "bitmex-adl", frozenset({"I-ADL-RANK"}),
              examples=2000),  # needs >= 2 opposite holders whose id and score orders differ
    SeededBug("adl-overshoots", waterfall, "deleverage", _adl_overshoot, "bitmex-adl",
              frozenset({"I-ADL-BOUND", "I-ZERO"})),
    SeededBug("fund-allowed-negative", layers.DRAW, "balance", _fund_negative, "generic-socialized-loss",
              frozenset({"I-FUND"})),
    SeededBug("socialise-before-fund-exhausted", waterfall, "draw_layers", _socialise_first,
              "generic-socialized-loss", frozenset({"I-ORDER"})),
    SeededBug("average-entry-rounding", tx.Tx, "_move", _average_entry, "generic-socialized-loss",
              frozenset({"I-ZERO", "I-CONS"})),
)


def apply(bug: SeededBug, monkeypatch: Any) -> None:
    """Install a seeded bug with a pytest MonkeyPatch (or anything with setattr/setitem)."""
    if isinstance(bug.target, dict):
        monkeypatch.setitem(bug.target, bug.attribute, bug.replacement)
    else:
        monkeypatch.setattr(bug.target, bug.attribute, bug.replacement)
