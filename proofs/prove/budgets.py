"""The prover's solver budgets, in Z3's resource units (R-PROVE-11): importable without Z3,
so that the command line can state its defaults where only the conformance kit is installed."""
from __future__ import annotations

QUICK_RLIMIT = 300_000
"""R-PROVE-11: the incremental solver's budget on a branch, in Z3's resource units (rlimit)."""

DEFAULT_RLIMIT = 100_000_000
"""R-PROVE-11: the most solver work one query may take before its branch is UNKNOWN
(`waterfall prove --rlimit`); counted by Z3 itself, so the same on a quiet or a busy machine."""

LADDER: tuple[tuple[str, int], ...] = (("smt", 2_000_000), ("plain", 2_000_000), ("smt1", 2_000_000),
                                       ("smt2", 2_000_000), ("smt3", 2_000_000), ("nlsat", 2_000_000), ("smt", 20_000_000),
                                       ("smt1", 20_000_000), ("smt2", 20_000_000))
"""R-PROVE-11, R-PROVE-16: the fresh solvers a query the incremental solver gave up on is tried
with, in order, each with its own rlimit ("smtN": the smt core with random seed N, a fixed choice,
so still the same answer on any machine), then Z3's smt core with the whole budget. R-PROVE-16:
three more seeds come first at the first rung's budget: a non-linear query the first rung gives up
on is usually decided in under 2 M units by another seed, where nlsat and a larger budget with the
same seed cost seconds (docs/proofs.md, Speed: "A second solver, and cheaper rungs"). The rungs of
the ladder before R-PROVE-16 follow in their old order, so a query still meets each of them.
R-PROVE-18: "plain" is the first rung again without cofactoring term if-then-elses, tried only
when the first rung did cofactor: on some k = 3 goals cofactoring spends the whole budget where the
query without it is decided at once (docs/proofs.md, Speed)."""

DEFAULT_MEMORY_MB = 4096
"""R-PROVE-14: the address space one (mechanism, operation) task may use, in MB
(`waterfall prove --memory-mb`), set in its worker process before the task runs (RLIMIT_AS):
two workers stay within 8 GB whatever Z3 does; a task that needs more ends UNKNOWN with
`memory_reason`, never PROVED, and the machine's other processes are untouched."""

Z3_MEMORY_SHARE = 75
"""R-PROVE-14: the per cent of the task's budget Z3 may allocate itself (its `memory_max_size`):
Z3 then stops with its own 'out of memory' while Python still has room to record it."""

COFACTOR_MAX_CONDITIONS = 12
"""R-PROVE-14: the preamble cofactors term if-then-elses (Z3's cofactor-term-ite, which counts
no rlimit) only on a query with at most this many distinct if-then-else conditions: it copies
an atom once per truth assignment of its conditions, at most 2^12 copies. Above it, that step
is left out (clearing-house-vmgh liquidate at k = 2 grew past 20 GB in it: docs/proofs.md)."""


def memory_reason(megabytes: int | None) -> str:
    """R-PROVE-14: why a task that ran out of memory is undecided."""
    return (f"memory budget of {megabytes} MB exceeded" if megabytes is not None
            else "out of memory (no --memory-mb budget set in this process)")
