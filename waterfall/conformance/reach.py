"""Which rules of spec/rules.md a vector step reaches (R-CONF-1, issue 21), counted per rule in
the vector manifest (`rules_applied`, `rules_refused`) and used by the generator to keep a
candidate that reaches a rule no earlier vector of its mechanism reached.

A step reaches: every rule ID named in the docstring of a function (or method) of model/
that runs while model.step computes it (sys.setprofile; the guide asks every function to
name its rule in its docstring), every rule named by an event it makes (R-EVT-3's `rule`),
the rules of the records its post-state holds (the docstrings of State, Market, Account,
Position: R-STATE-*), R-EVT-1..3 when it makes events, R-UNIT-1 and R-STATE-5 when its
post-state is checked to keep them (integers only; validate_state passes), and R-ERR-*
when it is refused. The model rules are the IDs of the table rows of spec/rules.md sections 1 to 8
(units to errors; waterfall/conformance/rule_coverage.py's model_rules, the definition a
conformance pass counts by too); files, runs, proofs and tools (section 9 on) are not rules
of a step.
"""
from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from waterfall.conformance.rule_coverage import RULE_ID as RULE_ID_TEXT, model_rules as page_rules
from waterfall.model.errors import WaterfallError
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Op
from waterfall.model.state import State, validate_state
from waterfall.model.step import step
from waterfall.proofs.mutation.model_copy import MODEL_DIR

RULE_ID = re.compile(rf"\b{RULE_ID_TEXT}\b")
RECORD_CLASSES = ("State", "Market", "Account", "Position")


@lru_cache(maxsize=None)
def model_rules() -> tuple[str, ...]:
    """The model's rule IDs (rule_coverage.model_rules: spec/rules.md sections 1 to 8), sorted."""
    return tuple(sorted(page_rules()))


@lru_cache(maxsize=None)
def docstring_rules() -> tuple[dict[tuple[str, int], frozenset[str]], dict[str, frozenset[str]]]:
    """(code location (file, first line) -> rule IDs of that function's docstring, class name
    -> rule IDs of its docstring) over model/*.py."""
    functions: dict[tuple[str, int], frozenset[str]] = {}
    classes: dict[str, frozenset[str]] = {}
    for path in sorted(Path(MODEL_DIR).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                ids = frozenset(RULE_ID.findall(ast.get_docstring(node) or ""))
                for line in {node.lineno, *(d.lineno for d in node.decorator_list)}:
                    functions[(str(path), line)] = ids
            elif isinstance(node, ast.ClassDef):
                classes[node.name] = frozenset(RULE_ID.findall(ast.get_docstring(node) or ""))
    return functions, classes


def step_rules(state: State, op: Op, mech: Mechanism) -> tuple[bool, set[str]]:
    """(applied, the rule IDs the step reaches) for one operation on one state."""
    functions, classes = docstring_rules()
    codes: set[Any] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            codes.add(frame.f_code)
    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        post, events = step(state, op, mech)
        applied = True
    except WaterfallError:
        applied, post, events = False, state, []
    finally:
        sys.setprofile(old)
    ids: set[str] = set()
    for code in codes:
        ids |= functions.get((code.co_filename, code.co_firstlineno), frozenset())
    if not applied:
        return False, {i for i in ids if i.startswith("R-ERR-")} | {"R-ERR-1", "R-ERR-2"}
    ids |= {e.rule for e in events if RULE_ID.fullmatch(e.rule)}
    if events:
        ids |= {"R-EVT-1", "R-EVT-2", "R-EVT-3"}
    ids |= kept_by_state(post)
    held = {"State", "Market", "Account"} | ({"Position"} if any(a.positions for a in post.accounts.values())
                                             else set())
    for name in held:
        ids |= classes.get(name, frozenset())
    return True, ids


def kept_by_state(post: State) -> set[str]:
    """The state rules an applied step keeps, checked on its post-state: R-UNIT-1 (every
    quantity an integer) and R-STATE-5 / R-STATE-6 (validate_state passes)."""
    out: set[str] = set()
    numbers = [post.bad_debt, post.clock, *post.layers.values(), *post.default_fund.values(),
               *post.layer_paid.values(), *post.window_base.values(), *post.deferred.values(),
               *post.partial_at.values(), *post.assessable.values(), *(x for v in post.history.values() for x in v)]
    for mk in post.markets.values():
        numbers += [mk.mark, mk.im_ppm, mk.mm_ppm, mk.prev_mark]
    for a in post.accounts.values():
        numbers += [a.collateral, a.net_deposit, *(x for p in a.positions.values() for x in p)]
    if all(type(x) is int for x in numbers):
        out.add("R-UNIT-1")
    try:
        validate_state(post)
        out |= {"R-STATE-5", "R-STATE-6"}
    except WaterfallError:
        pass
    return out


def vector_rules(start: State, ops: tuple[Op, ...], mech: Mechanism) -> list[tuple[bool, set[str]]]:
    """step_rules of every step of a vector, each on the state the previous left."""
    out, state = [], start
    for op in ops:
        applied, ids = step_rules(state, op, mech)
        out.append((applied, ids))
        if applied:
            state, _ = step(state, op, mech)
    return out
