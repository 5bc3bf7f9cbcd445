"""What a verdict means to a reader, in six categories with one colour each (R-REPORT-2):
the report's legend, its matrix colours, the summary line, JUnit and SARIF all use them.

Every verdict kind of proofs/verdict.py maps to a category, by name where the kind is known
and by its claim status for counterexamples; a kind added later that is not listed here
counts as undecided (never as proved) until it is.
"""
from __future__ import annotations

from waterfall.proofs import verdict as V

PROVED, BROKEN, PROPERTY, UNDECIDED, NA, SANITY = (
    "proved", "broken", "property", "undecided", "not-applicable", "sanity")

# category -> (label, colour, what it means); the order is the legend's
LEGEND: dict[str, tuple[str, str, str]] = {
    PROVED: ("proved", "#cdeccd", "every path of model.step over every valid venue of up to k accounts and "
                                  "m markets satisfies it, and a witness path exercises it"),
    BROKEN: ("claimed and broken", "#f4b6b6", "the mechanism claims the invariant and a counterexample, "
                                              "replayed through the model, refutes it: a bug"),
    PROPERTY: ("unclaimed property", "#d9e2ef", "violated, but the mechanism does not claim it: a documented "
                                               "property of the design, not a bug"),
    UNDECIDED: ("undecided", "#f6e7b0", "no proof and no counterexample: solver UNKNOWN or TIMEOUT, a "
                                        "check no path exercises at this size (UNREACHED) or that holds "
                                        "whatever the step does (TRIVIAL), or only searched (fuzzed) "
                                        "without finding a violation"),
    NA: ("not applicable", "#eeeeee", "the invariant does not apply to this family of mechanism"),
    SANITY: ("sanity failure", "#e0b3f0", "not honestly proved: a case where no path applies its operation "
                                          "(VACUOUS), a result the model does not replay, a prover error"),
}

# not a report category: a concrete check (waterfall verify) found no violation on the steps
# it ran; CI formats show it as a pass, never as a proof
CHECKED = "checked"

BY_KIND = {
    V.PROVED_ALL_N: PROVED, V.PROVED_UP_TO: PROVED,
    V.UNKNOWN: UNDECIDED, V.TIMEOUT: UNDECIDED, V.NO_COUNTEREXAMPLE_IN: UNDECIDED,
    V.NOT_APPLICABLE: NA,
    V.UNREACHED: UNDECIDED, V.TRIVIAL: UNDECIDED,  # not proved, not refuted: no evidence either way
    V.VACUOUS: SANITY, V.ENCODING_MISMATCH: SANITY,
}


def of_kind(kind: str, claimed: bool) -> str:
    """The category of a verdict kind: a counterexample is broken when claimed, a property
    otherwise; an unlisted kind is undecided."""
    if kind == V.COUNTEREXAMPLE:
        return BROKEN if claimed else PROPERTY
    return BY_KIND.get(kind, UNDECIDED)


def of_verdict(v: V.Verdict) -> str:
    """The category of a verdict (a prover crash is a sanity failure)."""
    if v.stats.get("error"):
        return SANITY
    return of_kind(v.kind, v.claimed)
