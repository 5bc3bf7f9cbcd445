"""R-CONF-7: the kit mutation run's survivor reasons (waterfall/conformance/mutation.py): a
reason is kept on a rerun only for the same diff, since mutmut renumbers a function's
mutants when its code changes."""
from __future__ import annotations

import json
from pathlib import Path

from waterfall.conformance.mutation import survivors


def results(path: Path, diffs: dict[str, str]) -> Path:
    doc = {"results": {f"waterfall.{n}": {"status": "survived", "diff": d} for n, d in diffs.items()}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_R_CONF_7_a_reason_is_kept_only_for_the_same_diff(tmp_path: Path) -> None:
    reasons = tmp_path / "reasons.txt"
    reasons.write_text("# head\n\n"
                       "model.adl.x_f__mutmut_1  EQUIVALENT: same diff\n    -    a = 1 | +    a = 2\n"
                       "model.adl.x_f__mutmut_2  EQUIVALENT: written for another mutant\n    -    b > 0 | +    b >= 0\n",
                       encoding="utf-8")
    res = results(tmp_path / "r.json", {"model.adl.x_f__mutmut_1": "-    a = 1\n+    a = 2",
                                        "model.adl.x_f__mutmut_2": "-    c < 1\n+    c <= 1"})
    assert survivors(res, reasons) == 1
    text = reasons.read_text(encoding="utf-8")
    assert "model.adl.x_f__mutmut_1  EQUIVALENT: same diff\n" in text
    assert "model.adl.x_f__mutmut_2  UNEXPLAINED\n    -    c < 1 | +    c <= 1" in text
    assert survivors(res, reasons) == 1  # a rerun keeps the kept reason and the same diff lines
    assert reasons.read_text(encoding="utf-8") == text
