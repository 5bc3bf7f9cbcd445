"""Verdicts of the proof engines (R-VERIFY-4): exactly one of five kinds, never merged.

PROVED_ALL_N   the property holds for every number of accounts (sympy identity or induction);
PROVED_UP_TO   Z3 found no counterexample among states of up to `accounts` accounts, and the
               assumptions were satisfiable (vacuity check, with a witness);
COUNTEREXAMPLE Z3 found a state violating the property, and the reference model replayed it
               and failed too (an encoding mismatch is reported as ENCODING_MISMATCH, its
               own failure, never as a counterexample);
UNKNOWN        the solver gave up, with its reason;
TIMEOUT        the time limit ran out.
A query whose assumptions are unsatisfiable is VACUOUS: nothing was proved.
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
ENCODING_MISMATCH = "ENCODING MISMATCH"
NOT_APPLICABLE = "n/a"
NO_COUNTEREXAMPLE_IN = "no counterexample in T s"
KINDS = (PROVED_ALL_N, PROVED_UP_TO, COUNTEREXAMPLE, UNKNOWN, TIMEOUT, VACUOUS, ENCODING_MISMATCH,
         NOT_APPLICABLE, NO_COUNTEREXAMPLE_IN)
# exit-code weight: a claimed property that is refuted or mis-encoded is a finding (1)
FINDINGS = (COUNTEREXAMPLE, VACUOUS, ENCODING_MISMATCH)


@dataclass
class Verdict:
    """One (mechanism, invariant, N) result with its evidence."""

    mechanism: str
    invariant: str
    kind: str
    accounts: int | None = None          # N the query was about (None for all-N results)
    seconds: float = 0.0
    reason: str = ""                     # solver's reason (UNKNOWN), argument (all N), note
    witness: dict[str, Any] | None = None  # vacuity witness (a concrete state)
    counterexample: dict[str, Any] | None = None  # scenario document, replayed
    stats: dict[str, Any] = field(default_factory=dict)
    claimed: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown verdict kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def short(self) -> str:
        """The matrix cell: kind, N where it applies, time."""
        n = f" N<={self.accounts}" if self.kind == PROVED_UP_TO else ""
        kind = "PROVED" if self.kind == PROVED_UP_TO else self.kind
        return f"{kind}{n} {self.seconds:.1f}s"
