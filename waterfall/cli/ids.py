"""Invariant ids given on the command line (R-CLI-2): matched case-insensitively, an
unknown one refused with the closest registered id (errors.closest)."""
from __future__ import annotations

from waterfall.model.errors import WaterfallError, closest
from waterfall.spec.invariants import REGISTRY, RELATIONS

ALL = list(REGISTRY) + list(RELATIONS)


class UnknownInvariant(WaterfallError):
    """An invariant id that is not registered (spec/invariants.py)."""

    code = "E-INVARIANT"


def resolve_invariant(name: str) -> str:
    """The registered id `name` stands for (`i-nonneg` is I-NONNEG); E-INVARIANT otherwise."""
    by_lower = {i.lower(): i for i in ALL}
    if name.strip().lower() in by_lower:
        return by_lower[name.strip().lower()]
    raise UnknownInvariant(f"unknown invariant {name!r}{closest(name, ALL)}", invariant=name)


def resolve_invariants(names: list[str] | None) -> list[str]:
    """Every name resolved, in order, without repeats; all registered ids when none given."""
    return list(dict.fromkeys(resolve_invariant(n) for n in names)) if names else list(ALL)
