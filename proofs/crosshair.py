"""CrossHair over the model's contracts and the mechanisms' final resorts (R-VERIFY-4): the
engine of `waterfall crosshair` and `waterfall diff` (their command line: waterfall/cli/crosshair.py).

`crosshair` runs `crosshair check` on each contracted policy function (PEP 316 `pre:` /
`post:` lines in its docstring) with a per-condition time limit. Each `post:` condition ends
as COUNTEREXAMPLE (with the call CrossHair prints) or as "no counterexample in T s": a
bounded search found nothing, which is not a proof.

`diff A B` runs `crosshair diffbehavior` on the two mechanisms' final resorts written as pure
allocation functions of (total, weights) (proofs/final_forms.py) and prints inputs on which
they differ; finding none is "no difference found in S s", not equivalence.

CrossHair runs as a subprocess (`python -m crosshair`) of this interpreter: its command line
and output format are documented, its Python API is not promised stable.
Sources: https://crosshair.readthedocs.io/en/latest/kinds_of_contracts.html (PEP 316 syntax,
`__return__`, "functions are checked if they have at least one post-condition line"),
https://crosshair.readthedocs.io/en/latest/contracts.html (check, exit codes 0/1/2, output
`<file>:<line>: error: <message>`), https://crosshair.readthedocs.io/en/latest/diff_behavior.html
(diffbehavior: fully qualified function names, "Given: (...)" output, and "the absence of an
example difference does not guarantee that the functions are equivalent").
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from waterfall.model.errors import WaterfallError
from waterfall.model.loader import resolve_mechanism

from waterfall.proofs.final_forms import final_form, form_note
from waterfall.proofs.verdict import COUNTEREXAMPLE, NO_COUNTEREXAMPLE_IN, TIMEOUT, Verdict

CONTRACTED = (
    "waterfall.model.units.div_floor", "waterfall.model.units.div_ceil", "waterfall.model.units.ppm_of",
    "waterfall.model.allocation.allocate", "waterfall.model.allocation.top_remainders", "waterfall.model.allocation.water_fill",
    "waterfall.model.layers.clip", "waterfall.model.adl.bankruptcy_price",
    "waterfall.model.ranking._ratio", "waterfall.model.ranking.cyclic_order",
)
"""Every model function that carries PEP 316 contracts (the default of `waterfall crosshair`)."""

DIFF_MAX_ACCOUNTS = 3
DIFF_MAX_AMOUNT = 1000
"""`waterfall diff` compares totals and weights in [0, 1000] over 3 accounts (a zero weight
stands for an account with nothing at stake)."""

_LINE = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<level>error|info|warning): (?P<msg>.*)$")


class UnknownFunction(WaterfallError):
    """A `--function` that does not name an importable function with a `post:` contract."""

    code = "E-UNKNOWN-FUNCTION"


class CrossHairFailed(WaterfallError):
    """CrossHair itself could not run (exit 2: import error, bad option, nondeterminism)."""

    code = "E-CROSSHAIR"


@dataclass(frozen=True)
class Condition:
    """One `pre:` or `post:` line of a docstring, with its line number in the source file."""

    kind: str
    line: int
    text: str


def resolve_function(name: str) -> Callable[..., Any]:
    """The function `module.function`; UnknownFunction if it is not importable or has no contract."""
    module, _, attr = name.rpartition(".")
    try:
        fn = getattr(importlib.import_module(module), attr, None) if module else None
    except ImportError:
        fn = None
    if not inspect.isfunction(fn):
        raise UnknownFunction(f"no function {name!r} (contracted ones: {', '.join(CONTRACTED)})", function=name)
    if not any(c.kind == "post" for c in conditions(fn)):
        raise UnknownFunction(f"{name} has no 'post:' condition in its docstring: CrossHair would check "
                              f"nothing (contracted ones: {', '.join(CONTRACTED)})", function=name)
    return fn


def conditions(fn: Callable[..., Any]) -> list[Condition]:
    """The `pre:` and `post:` lines of fn's docstring (one expression per line, as CrossHair reads them)."""
    return list(_conditions(fn))


@lru_cache(maxsize=None)
def _conditions(fn: Callable[..., Any]) -> tuple[Condition, ...]:
    lines, start = inspect.getsourcelines(fn)
    doc = fn.__doc__ or ""
    out = []
    for n, line in enumerate(lines, start):
        m = re.match(r"\s*(pre|post):\s*(.+)$", line)
        if m and m.group(2).strip() in doc:
            out.append(Condition(m.group(1), n, m.group(2).strip()))
    return tuple(out)


@lru_cache(maxsize=None)
def _compiled(text: str) -> Any:
    return compile(text, "<contract>", "eval")


def holds(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[str]:
    """Call fn concretely; the post-conditions that fail (empty if all hold). A failed
    precondition raises ValueError: the inputs are outside the contract."""
    env = dict(vars(sys.modules[fn.__module__]))
    env.update(inspect.signature(fn).bind(*args, **kwargs).arguments)
    for c in _conditions(fn):
        if c.kind == "pre" and not eval(_compiled(c.text), env):  # noqa: S307 (our own docstrings)
            raise ValueError(f"precondition false: {c.text}")
    env["__return__"] = fn(*args, **kwargs)
    return [c.text for c in _conditions(fn) if c.kind == "post" and not eval(_compiled(c.text), env)]  # noqa: S307


def crosshair_cmd(*args: str) -> list[str]:
    """The command line of this interpreter's CrossHair."""
    return [sys.executable, "-m", "crosshair", *args]


def run_crosshair(argv: list[str], budget: float, path: Sequence[str] = ()) -> tuple[int | None, str, str]:
    """Run CrossHair; (exit code or None on a wall-clock timeout, stdout, stderr)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*path, *filter(None, [env.get("PYTHONPATH")])])
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=budget, env=env)
    except subprocess.TimeoutExpired as e:
        return None, _text(e.stdout), _text(e.stderr)
    return p.returncode, p.stdout, p.stderr


def _text(b: bytes | str | None) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def check_function(name: str, timeout: float, iterations: int | None = None,
                   path: Sequence[str] = ()) -> list[Verdict]:
    """`crosshair check` on one function: one verdict per post-condition, plus one per
    counterexample CrossHair reports elsewhere (an exception raised in the body)."""
    fn = resolve_function(name)
    posts = {c.line: c for c in conditions(fn) if c.kind == "post"}
    argv = crosshair_cmd("check", "--report_all", "--per_condition_timeout", f"{timeout:g}")
    if iterations is not None:
        argv += ["--max_uninteresting_iterations", str(iterations)]
    start = time.monotonic()
    # wall-clock guard only: the per-condition limit is CPU time, and the machine may be shared
    code, out, err = run_crosshair(argv + [name], 60 + 4 * timeout * (len(posts) + 1), path)
    spent = round(time.monotonic() - start, 2)
    if code is None:
        return [Verdict("-", name, TIMEOUT, seconds=spent, reason="CrossHair overran its wall-clock guard")]
    if code not in (0, 1):
        raise CrossHairFailed(f"crosshair check {name} failed (exit {code}): {err.strip() or out.strip()}",
                              function=name)
    here = Path(inspect.getsourcefile(fn) or "").resolve()
    found: dict[int, list[str]] = {}
    elsewhere: list[str] = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if m and Path(m["file"]).resolve() == here and int(m["line"]) in posts:
            found.setdefault(int(m["line"]), []).append(f"{m['level']}: {m['msg']}")
        elif m and m["level"] == "error":
            elsewhere.append(line)  # an exception in the body (or a callee): a counterexample too
    verdicts = []
    for line, c in posts.items():
        msgs = found.get(line, [])
        errors = [f for f in msgs if f.startswith("error")]
        verdicts.append(_verdict(name, c, errors, timeout, spent, "" if errors else " ".join(msgs)))
    for err_line in elsewhere:
        where = _LINE.match(err_line)
        assert where is not None
        c = Condition("body", int(where["line"]), f"(raised at {where['file']}:{where['line']})")
        verdicts.append(_verdict(name, c, [f"error: {where['msg']}"], timeout, spent, ""))
    if code == 1 and not any(v.kind == COUNTEREXAMPLE for v in verdicts):
        verdicts.append(_verdict(name, Condition("body", 0, "(unparsed)"), [f"error: {out.strip()}"],
                                 timeout, spent, ""))
    return verdicts


def _verdict(name: str, c: Condition, errors: list[str], timeout: float, spent: float, note: str) -> Verdict:
    stats = {"line": c.line, "condition": c.text, "per_condition_timeout": timeout}
    if errors:
        return Verdict("-", name, COUNTEREXAMPLE, seconds=spent, reason=errors[0].removeprefix("error: "),
                       counterexample={"crosshair": errors}, stats=stats)
    why = f"CrossHair: {note.removeprefix('info: ')!r}" if note else ""
    return Verdict("-", name, NO_COUNTEREXAMPLE_IN, seconds=spent, reason=why, stats=stats)


def _ident(mech_id: str) -> str:
    return re.sub(r"\W", "_", mech_id)


def diff_module(forms: tuple[tuple[str, tuple[object, ...]], ...]) -> str:
    """Source of a module with one typed function per (name, form): the final resort over
    DIFF_MAX_ACCOUNTS accounts on bounded inputs, None outside them (the same for both, so
    only in-range inputs can differ). Weights are separate int parameters, not a list:
    with a symbolic list CrossHair 0.0.112 did not reach the non-linear share arithmetic
    (it found no difference even between floor and ceil written inline)."""
    ws = [f"w{i}" for i in range(DIFF_MAX_ACCOUNTS)]
    params = ", ".join(f"{w}: int" for w in ws)
    wl = "[" + ", ".join(ws) + "]"
    out = ['"""Generated by `waterfall diff` (waterfall/cli/crosshair.py); safe to delete."""',
           "from waterfall.proofs.final_forms import final_shares", ""]
    for name, form in forms:
        out += ["", f"def {name}(total: int, {params}) -> list[int] | None:",
                f'    """Final-resort shares of form {form!r}."""',
                f"    if not (0 <= total <= {DIFF_MAX_AMOUNT} and all(0 <= w <= {DIFF_MAX_AMOUNT} for w in {wl})):",
                "        return None",
                f"    return final_shares({form!r}, total, {wl})", ""]
    return "\n".join(out)


_GIVEN = re.compile(r"^Given: \((?P<args>.*)\),$")


def parse_diffs(out: str) -> list[dict[str, str]]:
    """The 'Given: (...)' blocks of diffbehavior's output: the input and both results."""
    diffs: list[dict[str, str]] = []
    for line in out.splitlines():
        m = _GIVEN.match(line)
        if m:
            diffs.append({"input": m["args"]})
        elif diffs and " : " in line and len(diffs[-1]) < 3:
            fn, _, result = line.strip().partition(" : ")
            diffs[-1]["a" if len(diffs[-1]) == 1 else "b"] = result.strip()
    return diffs


def diff_mechanisms(a: str, b: str, seconds: float) -> Verdict:
    """`crosshair diffbehavior` on the final-resort allocations of mechanisms a and b."""
    ma, mb = resolve_mechanism(a), resolve_mechanism(b)
    fa, fb = final_form(ma), final_form(mb)
    na, nb = f"a_{_ident(ma.id)}", f"b_{_ident(mb.id)}"
    label = f"{ma.id} vs {mb.id}"
    stats: dict[str, Any] = {"a": {"id": ma.id, "form": list(fa), "note": form_note(fa)},
                             "b": {"id": mb.id, "form": list(fb), "note": form_note(fb)},
                             "seconds_budget": seconds,
                             "domain": f"0 <= total, w0..w{DIFF_MAX_ACCOUNTS - 1} <= {DIFF_MAX_AMOUNT} "
                                       f"({DIFF_MAX_ACCOUNTS} accounts, weight 0 = nothing at stake)"}
    with tempfile.TemporaryDirectory(prefix="waterfall-diff-") as tmp:
        module = "waterfall_diff_forms"
        (Path(tmp) / f"{module}.py").write_text(diff_module(((na, fa), (nb, fb))), encoding="utf-8")
        argv = crosshair_cmd("diffbehavior", "--per_condition_timeout", f"{seconds:g}",
                             f"{module}.{na}", f"{module}.{nb}")
        start = time.monotonic()
        code, out, err = run_crosshair(argv, 60 + 4 * seconds, [tmp])
        spent = round(time.monotonic() - start, 2)
    if code is None:
        return Verdict(label, "allocation", TIMEOUT, seconds=spent, reason="wall-clock guard", stats=stats)
    if code not in (0, 1):
        raise CrossHairFailed(f"crosshair diffbehavior failed (exit {code}): {err.strip() or out.strip()}",
                              a=a, b=b)
    diffs = parse_diffs(out)
    if code == 1 and diffs:
        return Verdict(label, "allocation", COUNTEREXAMPLE, seconds=spent,
                       reason=f"{len(diffs)} differing input(s)", counterexample={"diffs": diffs}, stats=stats)
    return Verdict(label, "allocation", NO_COUNTEREXAMPLE_IN, seconds=spent,
                   reason=out.strip().splitlines()[0] if out.strip() else "", stats=stats)
