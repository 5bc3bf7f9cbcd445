"""pytest plugin for implementers' CI (R-CONF-5): `pytest --waterfall-impl 'CMD'` runs the
conformance vectors through the runner of waterfall/conformance/runner.py and one
implementation process group for the whole session: one test item per mechanism (node id
`vectors/MECHANISM`, its failures listed vector by vector), so the default output stays short;
`--waterfall-per-vector` makes one item per vector (`vectors/MECHANISM/ID`). A mechanism the
implementation does not announce is one skip that says how many vectors it leaves unrun, and
the session ends with a line counting what ran and what was skipped (no vector skipped silently).

Installed with this package (entry point `pytest11`); inactive unless --waterfall-impl is
given. Options: --waterfall-vectors DIR, --waterfall-mechanism ID (repeatable),
--waterfall-filter TEXT, --waterfall-timeout S, --waterfall-stop-after N. Vectors of
mechanisms the implementation's hello does not announce are skipped with that reason; a
broken hello or repeated crashes fail one item with the protocol error and stop the session.
A failure shows the step, its operation and the differing accounts and fields, nothing else.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from waterfall.conformance.runner import Runner, StepResult, Vector, load_vectors
from waterfall.conformance.engine import ConformanceError, Engine, EngineStopped, killing_on_signals
from waterfall.conformance.vectors import VECTORS_DIR

RUNNER = pytest.StashKey[Runner]()
STACK = pytest.StashKey[ExitStack]()
TALLY = pytest.StashKey[dict]()


def pytest_addoption(parser: Any) -> None:
    """The plugin's command-line options."""
    g = parser.getgroup("waterfall", "waterfall conformance vectors")
    g.addoption("--waterfall-impl", metavar="'CMD ARGS'", help="run the conformance vectors through this command")
    g.addoption("--waterfall-vectors", default=str(VECTORS_DIR), help="vector directory (default: the bundled set)")
    g.addoption("--waterfall-mechanism", action="append", help="only these mechanism ids")
    g.addoption("--waterfall-filter", help="only vectors whose MECHANISM/ID contains this text")
    g.addoption("--waterfall-timeout", type=float, default=10.0, help="seconds per step")
    g.addoption("--waterfall-stop-after", type=int, default=5,
                help="stop after N crashes, timeouts, garbage lines or protocol errors within max(20, 4N) steps")
    g.addoption("--waterfall-per-vector", action="store_true",
                help="one test item per vector (default: one per mechanism, its failing vectors listed)")


class VectorFailure(Exception):
    """A vector's failed steps, shown by repr_failure without a traceback."""


class VectorItem(pytest.Item):
    """Vectors of one mechanism (one vector with --waterfall-per-vector): passes when every
    step of every one of them passes."""

    def __init__(self, *, vectors: list[Vector], **kw: Any) -> None:
        super().__init__(**kw)
        self.vectors = vectors

    def runtest(self) -> None:
        runner = runner_for(self.config)
        tally = self.config.stash.setdefault(TALLY, {"vectors": 0, "steps": 0, "skipped": {}})
        mechanism = self.vectors[0].mechanism
        if not runner.engine.announces(mechanism):
            tally["skipped"][mechanism] = tally["skipped"].get(mechanism, 0) + len(self.vectors)
            pytest.skip(f"the implementation does not announce mechanism {mechanism!r} "
                        f"({len(self.vectors)} vector{'s' if len(self.vectors) != 1 else ''} not run)")
        failed: list[str] = []
        try:
            for v in self.vectors:
                results = list(runner.run_vector(v))
                tally["vectors"] += 1
                tally["steps"] += len(results)
                failed += [step_text(v, r) for r in results if r.status != "pass"]
        except EngineStopped as e:
            self.session.shouldstop = f"waterfall: the implementation was stopped: {e}"
            raise VectorFailure("\n".join(failed + [f"protocol error: {e}"])) from None
        if failed:
            raise VectorFailure("\n".join(failed))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, VectorFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, None, str]:
        what = self.vectors[0].key if len(self.vectors) == 1 else f"{len(self.vectors)} vectors of {self.name}"
        return Path(self.config.getoption("waterfall_vectors")), None, what


def step_text(v: Vector, r: StepResult) -> str:
    """`step K: REASON: the operation` then the differing fields, indented."""
    return f"{v.key} step {r.step}: {r.reason}: " + r.detail.replace("\n", "\n    ")


def runner_for(config: Any) -> Runner:
    """The session's runner: the implementation starts (and says hello) on first use."""
    if RUNNER not in config.stash:
        runner = Runner(Engine(config.getoption("waterfall_impl"), config.getoption("waterfall_timeout")),
                        stop_after=config.getoption("waterfall_stop_after"))
        config.stash[RUNNER] = runner
        try:
            runner.start()
        except EngineStopped as e:
            raise pytest.UsageError(f"waterfall: {e}") from None
    return config.stash[RUNNER]


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Add one item per selected vector when --waterfall-impl is given."""
    if not config.getoption("waterfall_impl"):
        return
    try:
        selection = load_vectors(Path(config.getoption("waterfall_vectors")), config.getoption("waterfall_mechanism"),
                                 config.getoption("waterfall_filter"))
        Engine(config.getoption("waterfall_impl"), 1.0)  # the command line parses
    except ConformanceError as e:
        raise pytest.UsageError(f"waterfall: {e}") from None
    if config.getoption("waterfall_per_vector"):
        items.extend(VectorItem.from_parent(session, name=v.key, nodeid=f"vectors/{v.key}", vectors=[v])
                     for v in selection.vectors)
        return
    groups: dict[str, list[Vector]] = {}
    for v in selection.vectors:
        groups.setdefault(v.mechanism, []).append(v)
    items.extend(VectorItem.from_parent(session, name=m, nodeid=f"vectors/{m}", vectors=vs) for m, vs in groups.items())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """One line: the vectors and steps run, and every vector skipped with its mechanism."""
    if not config.getoption("waterfall_impl") or TALLY not in config.stash:
        return
    t = config.stash[TALLY]
    skipped = ", ".join(f"{m} ({n})" for m, n in sorted(t["skipped"].items()))
    terminalreporter.write_line(
        f"waterfall: {t['vectors']} vectors ({t['steps']} steps) run; "
        + (f"{sum(t['skipped'].values())} vectors skipped, of mechanisms the implementation does not announce: "
           f"{skipped}" if skipped else "no vector skipped"))


def pytest_sessionstart(session: Any) -> None:
    """SIGTERM / SIGINT kill the implementation's process group first."""
    if session.config.getoption("waterfall_impl"):
        stack = ExitStack()
        stack.enter_context(killing_on_signals())
        session.config.stash[STACK] = stack


def pytest_sessionfinish(session: Any) -> None:
    """Stop the implementation (its whole process group) at the end of the session."""
    if RUNNER in session.config.stash:
        session.config.stash[RUNNER].engine.stop()
    if STACK in session.config.stash:
        session.config.stash[STACK].close()
