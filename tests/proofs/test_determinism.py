"""R-PROVE-11: the same cell gives byte-identical verdicts on a quiet and on a saturated CPU."""
from __future__ import annotations

import json
import multiprocessing
import os
from typing import Any

from waterfall.cli.main import main

TIMING = {"seconds", "time", "elapsed", "wall_seconds"}
CELL = ["prove", "--mechanism", "generic-socialized-loss", "--accounts", "2", "--operation", "liquidate",
        "--jobs", "1", "--no-all-n", "--json"]


def _spin() -> None:
    """Burn one core until terminated."""
    while True:
        pass


def _without_timing(x: Any) -> Any:
    """The JSON with every timing field removed (the only thing allowed to differ)."""
    if isinstance(x, dict):
        return {k: _without_timing(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [_without_timing(v) for v in x]
    return x


def _run(capsys: Any) -> str:
    """One run of the cell: its JSON, timings removed, as bytes-stable text."""
    main(CELL)
    return json.dumps(_without_timing(json.loads(capsys.readouterr().out)), sort_keys=True)


def test_R_PROVE_11_same_verdicts_on_a_saturated_cpu(capsys: Any) -> None:
    quiet = _run(capsys)
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(2 * (os.cpu_count() or 1))]
    for p in spinners:
        p.start()
    try:
        busy = _run(capsys)
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    doc = json.loads(quiet)
    assert doc["verdicts"] and any(v["kind"].startswith("PROVED") for v in doc["verdicts"])
    assert any(v.get("witness") for v in doc["verdicts"])  # witnesses (solver models) are compared too
    assert quiet == busy


def test_R_PROVE_11_timing_is_all_that_is_stripped() -> None:
    doc = {"a": 1, "seconds": 2.5, "b": [{"seconds": 1, "paths": 3}]}
    assert _without_timing(doc) == {"a": 1, "b": [{"paths": 3}]}
