"""Fuzz targets for long campaigns under HypoFuzz (R-FUZZ-7): one Hypothesis state machine
test per catalogue mechanism, failing on the invariants it claims (proofs/fuzz/machines.py).

    make fuzz-campaign                 # HypoFuzz on every core, dashboard on localhost
    WATERFALL_FUZZ_DB=/shared/wf make fuzz-campaign   # several machines, one database

Not collected by the normal suite (the name does not start with test_); HypoFuzz collects
it through pytest with the "fuzz" profile loaded (HYPOTHESIS_PROFILE=fuzz), whose example
database (proofs/fuzz/machines.py, database_path) every target uses: failures found by any worker or
machine are replayed first by all of them, and by `waterfall fuzz` and `make fuzz`.
"""
from __future__ import annotations

from waterfall.model.loader import catalogue, load_mechanism
from waterfall.proofs.fuzz.machines import Tally, machine_for


def _target(mech_id: str) -> type:
    mech = load_mechanism(catalogue()[mech_id])
    return machine_for(mech, frozenset(mech.claims), Tally()).TestCase


TARGETS = {f"TestFuzz_{mid.replace('-', '_')}": _target(mid) for mid in sorted(catalogue())}
globals().update(TARGETS)
