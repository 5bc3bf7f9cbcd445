"""Verdicts of the proof engines (R-VERIFY-4): exactly one kind each, never merged.

PROVED_ALL_N   the property holds for every number of accounts (sympy identity or induction);
PROVED_UP_TO   every path of model.step over every valid venue of up to `accounts` accounts
               and `markets` markets satisfies it, the exploration was exhaustive, and a
               witness path fires its trigger;
COUNTEREXAMPLE a path violates it, and the reference model replayed the state and failed too
               (a failure the model does not replay is ENCODING_MISMATCH, its own failure);
UNKNOWN        the solver gave up on a path or branch, or a construct was unsupported;
TIMEOUT        the time limit ran out before every path was explored.
Sanity failures, never shown as proved: VACUOUS (a case where no path applies its
operation), UNREACHED (no path fires the invariant's trigger), TRIVIAL (it holds whatever
numbers the step produces: a tautology).
CrossHair's "nothing found" is NO_COUNTEREXAMPLE_IN: a search result, not a proof.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROVED_ALL_N = "PROVED all N"
PROVED_UP_TO = "PROVED N<=k"
COUNTEREXAMPLE = "COUNTEREXAMPLE"
UNKNOWN = "UNKNOWN"
TIMEOUT = "TIMEOUT"
VACUOUS = "VACUOUS"
UNREACHED = "UNREACHED"
TRIVIAL = "TRIVIAL"
ENCODING_MISMATCH = "ENCODING MISMATCH"
NOT_APPLICABLE = "n/a"
NO_COUNTEREXAMPLE_IN = "no counterexample in T s"
KINDS = (PROVED_ALL_N, PROVED_UP_TO, COUNTEREXAMPLE, UNKNOWN, TIMEOUT, VACUOUS, UNREACHED, TRIVIAL,
         ENCODING_MISMATCH, NOT_APPLICABLE, NO_COUNTEREXAMPLE_IN)
# exit-code weight: a claimed property that is refuted or mis-encoded, or a case that is vacuous, is a
# finding (1); one undecided or not honestly proved (nothing exercised it, or it is a tautology) is 3
FINDINGS = (COUNTEREXAMPLE, VACUOUS, ENCODING_MISMATCH)
UNDECIDED = (UNKNOWN, TIMEOUT, UNREACHED, TRIVIAL)


@dataclass
class Verdict:
    """One (mechanism, invariant, N) result with its evidence."""

    mechanism: str
    invariant: str
    kind: str
    accounts: int | None = None          # k: venues of up to k accounts (None for all-N results)
    seconds: float = 0.0
    reason: str = ""                     # solver's reason (UNKNOWN), argument (all N), note
    witness: dict[str, Any] | None = None  # vacuity witness (a concrete state)
    counterexample: dict[str, Any] | None = None  # scenario document, replayed
    stats: dict[str, Any] = field(default_factory=dict)
    claimed: bool = True
    markets: int | None = None           # m: venues of up to m markets (None for all-N results)
    trigger: str = ""                    # the invariant's trigger, which a witness path fired

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown verdict kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def short(self) -> str:
        """The matrix cell: kind, N where it applies, time."""
        n = f" N<={self.accounts}" if self.kind == PROVED_UP_TO else ""
        if self.kind == PROVED_UP_TO and self.markets is not None:
            n += f" M<={self.markets}"
        kind = "PROVED" if self.kind == PROVED_UP_TO else self.kind
        return f"{kind}{n} {self.seconds:.1f}s"
