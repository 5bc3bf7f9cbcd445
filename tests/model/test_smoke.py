"""Smoke test: the bundled gap-move scenario runs and conserves value."""
from waterfall.model.loader import load_scenario, resolve_mechanism
from waterfall.model.replay import run
from waterfall.model.state import value
from waterfall.spec import SCENARIOS_DIR


def test_gap_move_conserves_value() -> None:
    sc = load_scenario(SCENARIOS_DIR / "gap-move-large-account.json")
    results = run(sc, resolve_mechanism("generic-socialized-loss"))
    assert all(r.error is None for r in results)
    assert value(results[-1].post) == value(sc.state)
    assert results[-1].post.layers["insurance_fund"] == 0
