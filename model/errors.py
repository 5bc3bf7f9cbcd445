"""Typed errors of the reference model (R-ERR): each names the file, key, account or market."""
from __future__ import annotations


class WaterfallError(Exception):
    """Base of every error the suite raises on bad input; `code` is stable for conformance."""

    code = "E-WATERFALL"

    def __init__(self, message: str, **where: object) -> None:
        super().__init__(message)
        self.where = where

    def to_json(self) -> dict[str, object]:
        """Machine-readable form: code, message and the named location."""
        return {"code": self.code, "message": str(self), **{k: str(v) for k, v in self.where.items()}}


class UnknownAccount(WaterfallError):
    code = "E-UNKNOWN-ACCOUNT"


class UnknownMarket(WaterfallError):
    code = "E-UNKNOWN-MARKET"


class UnknownLayer(WaterfallError):
    code = "E-UNKNOWN-LAYER"


class InvalidAmount(WaterfallError):
    """A negative or zero amount, size or price where a positive one is required."""

    code = "E-INVALID-AMOUNT"


class BoundExceeded(WaterfallError):
    """An input or a resulting balance beyond the stated bounds (spec/rules.md R-UNIT-3)."""

    code = "E-BOUND"


class SelfTrade(WaterfallError):
    code = "E-SELF-TRADE"


class InsufficientMargin(WaterfallError):
    """A withdrawal or trade that would leave the account below initial margin (R-OP-2, R-OP-3)."""

    code = "E-MARGIN"


class HealthyAccount(WaterfallError):
    """Liquidation of an account whose equity covers its maintenance margin (R-LIQ-1)."""

    code = "E-HEALTHY"


class MissingCounterparty(WaterfallError):
    """A liquidation that needs a counterparty and names none (R-LIQ-2)."""

    code = "E-NO-COUNTERPARTY"


class AdlRefused(WaterfallError):
    """A keeper's deleveraging order the pool's rules refuse (R-POOL-3): not required, or it
    would not lower the PnL-to-pool factor, or would push it below its floor."""

    code = "E-ADL"


class InvalidState(WaterfallError):
    """A state that breaks a structural rule (R-STATE-*), e.g. positions not zero-sum."""

    code = "E-STATE"


class MechanismError(WaterfallError):
    """A mechanism file that does not validate; names the file and the key."""

    code = "E-MECHANISM"


class ScenarioError(WaterfallError):
    """A scenario file that does not validate; names the file and the JSON path."""

    code = "E-SCENARIO"


def closest(name: str, known: "list[str] | tuple[str, ...]") -> str:
    """The suffix of an 'unknown id' message: the closest known id (case-insensitive, difflib
    ratio >= 0.6) as ' (did you mean X?)', else the known ids listed."""
    from difflib import get_close_matches
    lower = {k.lower(): k for k in known}
    hit = get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    if hit:
        return f" (did you mean {lower[hit[0]]!r}?)"
    return f" (known: {', '.join(sorted(known))})" if known else ""
