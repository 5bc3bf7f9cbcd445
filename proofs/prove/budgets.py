"""The prover's solver budgets, in Z3's resource units (R-PROVE-11): importable without Z3,
so that the command line can state its defaults where only the conformance kit is installed."""
from __future__ import annotations

QUICK_RLIMIT = 300_000
"""R-PROVE-11: the incremental solver's budget on a branch, in Z3's resource units (rlimit)."""

DEFAULT_RLIMIT = 100_000_000
"""R-PROVE-11: the most solver work one query may take before its branch is UNKNOWN
(`waterfall prove --rlimit`); counted by Z3 itself, so the same on a quiet or a busy machine."""

LADDER: tuple[tuple[str, int], ...] = (("smt", 2_000_000), ("nlsat", 2_000_000), ("smt", 20_000_000),
                                       ("smt1", 20_000_000), ("smt2", 20_000_000))
"""R-PROVE-11: the fresh solvers a query the incremental solver gave up on is tried with, in
order, each with its own rlimit ("smt1": the smt core with random seed 1, a fixed choice, so
still the same answer on any machine), then Z3's smt core with the whole budget. Measured on 30
queries of generic-socialized-loss liquidate at k = 3 that the incremental solver gave up on:
this ladder decided 30 of 30 in 16.5 s, plain smt with a growing budget 27 of 30 in 298 s
(docs/proofs.md, Deterministic budgets)."""
