"""Symbolic execution of the model's own Python code over Z3 (R-PROVE-1).

A `Sym` stands for an unknown integer (or truth value). It carries two things: its value
under the current run's assignment of the unknowns (so the model's code runs on it like on
an int) and the expression that computed it (turned into a Z3 term on demand). Arithmetic
and comparisons build new Syms; the truth test of a symbolic condition (`if`, `and`, `min`,
`sorted`, `while` in the model) is a *decision*: the run follows the branch the current
assignment takes and records the condition. `explore` re-runs a function once per feasible
path, depth-first: after a run, each recorded decision's other branch is asked of an
incremental Z3 solver holding the path prefix; a satisfiable one gives the assignment of the
next run (concolic execution, as DART and CrossHair do it), an unsatisfiable one is pruned,
an undecided one makes the exploration incomplete (never silently dropped).

What cannot be followed symbolically raises `Unsupported` on that path: an unknown used as
a dict key (unhashable), converted to float, or used as an index beyond `INDEX_LIMIT`
(an index is concretised by forking on each value 0..INDEX_LIMIT-1, so it is exact).
The value of every Sym under the run's assignment is computed with Python's own integer
operations; `check_terms` (tests) confirms that each Z3 term evaluates to the same value.
"""
from __future__ import annotations

import gc
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import z3

from waterfall.proofs.prove.budgets import (COFACTOR_MAX_CONDITIONS, DEFAULT_RLIMIT, LADDER,  # R-PROVE-11
                                            QUICK_RLIMIT, Z3_MEMORY_SHARE, memory_reason)

INDEX_LIMIT = 64
"""An unknown used as a list index or slice bound is concretised by deciding value == 0, 1,
... up to this bound (a path needing more is Unsupported)."""


class Unsupported(Exception):
    """The model did something with an unknown that cannot be followed symbolically."""


class Divergence(Exception):
    """A run did not follow the path its assignment was solved for (a bug of this engine)."""


class PathLimit(Exception):
    """The exploration hit its path or time budget (the result is then incomplete)."""


class OutOfMemory(MemoryError):
    """R-PROVE-14: the task's memory budget ran out (Python's MemoryError or Z3's 'out of memory')."""


def out_of_memory(e: BaseException) -> bool:
    """R-PROVE-14: whether an exception is the memory budget running out (never a finding)."""
    if isinstance(e, MemoryError):
        return True
    return isinstance(e, z3.Z3Exception) and _memory_words(str(e.value if hasattr(e, "value") else e))


def _memory_words(reason: str) -> bool:
    """R-PROVE-14: Z3's ways of saying it ran out of memory ('out of memory', 'max. memory exceeded')."""
    return "memory" in reason.lower()


def limit_memory(megabytes: int) -> None:
    """R-PROVE-14: cap this process's address space at `megabytes` (RLIMIT_AS, never above the
    hard limit) and Z3's own allocations at Z3_MEMORY_SHARE of it, so that Z3 gives up with its
    own 'out of memory' before the kernel refuses Python; run in a worker before its task."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = megabytes * 2**20 if hard == resource.RLIM_INFINITY else min(megabytes * 2**20, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    limit_z3_memory(max(1, cap * Z3_MEMORY_SHARE // 100 // 2**20))
    global MEMORY_MB
    MEMORY_MB = megabytes


def limit_z3_memory(megabytes: int) -> None:
    """R-PROVE-14: Z3 stops with 'out of memory' when its own allocations pass `megabytes`."""
    global Z3_MEMORY_MB
    z3.set_param("memory_max_size", megabytes)
    Z3_MEMORY_MB = megabytes


MEMORY_MB: int | None = None
"""R-PROVE-14: the budget `limit_memory` set in this process (None: none set, the machine's)."""

Z3_MEMORY_MB: int | None = None
"""R-PROVE-14: Z3's own allocation cap in this process (None: none)."""

CONTEXT_MB = 24
"""R-PROVE-14: the room a new Z3 context and solver take (Z3 5.4 allocates 16.4 MB for a
context): an exploration is not started with less, since Z3's API answers an allocation that
fails while it builds one with a null object, which crashes the Python process."""


def check_room() -> None:
    """R-PROVE-14: raise OutOfMemory unless Z3 has CONTEXT_MB left under its cap."""
    if Z3_MEMORY_MB is not None and z3.Z3_get_estimated_alloc_size() + CONTEXT_MB * 2**20 > Z3_MEMORY_MB * 2**20:
        raise OutOfMemory(memory_exceeded())


def memory_exceeded() -> str:
    """R-PROVE-14: the undecided reason of a task that ran out of memory."""
    return memory_reason(MEMORY_MB)


# ---- the current exploration (one per process at a time) ---------------------------------

_EXPLORER: "Explorer | None" = None


def _decide(cond: "SymBool") -> bool:
    """The truth test of a symbolic condition: the current run's branch, recorded."""
    if _EXPLORER is None:
        raise Unsupported("truth test of an unknown outside an exploration")
    return _EXPLORER.decide(cond, sys._getframe(2))


GUARDS: set[Any] = set()
"""Code objects (whole functions) and (code object, line) pairs whose decisions are refusal
guards: their True branch raises a typed error (a refusal) at once. See `Explorer.refusals`."""


def skip_refusals(on: bool) -> None:
    """While on, the current exploration does not explore the raising branch of a refusal
    guard (GUARDS): a refused operation leaves no post-state, so no step invariant is
    about it; the guard's condition still joins the path condition. Off for the
    predicates, where validate_state's raising branch is I-VALID's counterexample."""
    if _EXPLORER is not None:
        _EXPLORER.skip_refusals = on


def recorded(fn: Callable[[], Any]) -> tuple[Any, list[Any]]:
    """fn() with its decisions not forked but taken as the run's values say, and returned:
    (result, conditions). The result is exact wherever the conditions hold; a caller proves
    'path condition implies conditions and result' in one query instead of one query per
    decision, and explores the other branches only when the conditions can fail."""
    ex = _EXPLORER
    if ex is None:
        return fn(), []
    ex.recording, conds = [], []
    try:
        out = fn()
    finally:
        conds, ex.recording = ex.recording or [], None
    return out, conds


def guard_sites(*functions: Callable[..., Any], marked: tuple[Callable[..., Any], ...] = (),
                marker: str = "refusal guard") -> set[Any]:
    """The guard set: every decision of `functions`, and the lines of `marked` functions
    whose source carries `marker` (a comment on the `if` that raises)."""
    import inspect
    out: set[Any] = {f.__code__ for f in functions}
    for f in marked:
        lines, first = inspect.getsourcelines(f)
        out |= {(f.__code__, first + k) for k, line in enumerate(lines) if marker in line}
    return out


def _val(x: Any) -> Any:
    return x.v if isinstance(x, Sym) else x


class Sym:
    """An unknown integer or truth value: its value in this run (`v`) and its expression
    (`op`, `args`), turned into a Z3 term by `term()`. Marked `symbolic_int` for
    model.arith.is_int and `symbolic` for the arithmetic facade."""

    __slots__ = ("v", "op", "args", "_t")
    symbolic = True
    __hash__ = None  # type: ignore[assignment]  # an unknown is never a dict key

    def __init__(self, v: Any, op: str, args: tuple[Any, ...]) -> None:
        self.v, self.op, self.args, self._t = v, op, args, None

    def term(self) -> Any:
        """The Z3 term (built once, from the arguments' terms)."""
        if self._t is None:
            self._t = _build(self)
        return self._t

    def __repr__(self) -> str:
        return f"<{self.op} = {self.v}>" if self.op != "var" else str(self.args[0])

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __float__(self) -> float:
        raise Unsupported("an unknown converted to float")

    def __int__(self) -> int:
        raise Unsupported("an unknown converted to int")


class SymInt(Sym):
    """An unknown integer."""

    __slots__ = ()
    symbolic_int = True

    # arithmetic ----------------------------------------------------------------------
    def __add__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        if isinstance(o, int) and o == 0:
            return self
        return SymInt(self.v + _val(o), "add", (self, o))

    def __radd__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        if isinstance(o, int) and o == 0:
            return self
        return SymInt(_val(o) + self.v, "add", (o, self))

    def __sub__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        if isinstance(o, int) and o == 0:
            return self
        return SymInt(self.v - _val(o), "sub", (self, o))

    def __rsub__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        return SymInt(_val(o) - self.v, "sub", (o, self))

    def __mul__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        if isinstance(o, int):
            if o == 0:
                return 0
            if o == 1:
                return self
        return SymInt(self.v * _val(o), "mul", (self, o))

    __rmul__ = __mul__

    def __neg__(self) -> "SymInt":
        return SymInt(-self.v, "neg", (self,))

    def __pos__(self) -> "SymInt":
        return self

    def __abs__(self) -> "SymInt":
        return SymInt(abs(self.v), "abs", (self,))

    def __floordiv__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        return floordiv(self, o)

    def __rfloordiv__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        return floordiv(o, self)

    def __mod__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        return self - o * floordiv(self, o)

    def __rmod__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        return o - self * floordiv(o, self)

    def __divmod__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        q = floordiv(self, o)
        return q, self - o * q

    def __rdivmod__(self, o: Any) -> Any:
        if not _num(o):
            return NotImplemented
        q = floordiv(o, self)
        return q, o - self * q

    def __pow__(self, o: Any) -> Any:
        if isinstance(o, int) and 0 <= o <= 4:
            out: Any = 1
            for _ in range(o):
                out = out * self
            return out
        raise Unsupported("a power of an unknown with an exponent other than 0..4")

    def __truediv__(self, o: Any) -> Any:
        raise Unsupported("true division of an unknown (floats)")

    __rtruediv__ = __truediv__

    # comparisons ---------------------------------------------------------------------
    def __lt__(self, o: Any) -> Any:
        return _cmp("lt", self, o)

    def __le__(self, o: Any) -> Any:
        return _cmp("le", self, o)

    def __gt__(self, o: Any) -> Any:
        return _cmp("lt", o, self)

    def __ge__(self, o: Any) -> Any:
        return _cmp("le", o, self)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return _cmp("eq", self, o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        r = _cmp("eq", self, o)
        return r if r is NotImplemented else not_sym(r)

    def __bool__(self) -> bool:
        return _decide(not_sym(_cmp("eq", self, 0)))

    def __index__(self) -> int:
        """Used as an index or slice bound: concretised by deciding value == 0, 1, ..."""
        for k in range(INDEX_LIMIT):
            if _decide(_cmp("eq", self, k)):
                return k
        raise Unsupported(f"an unknown used as an index beyond {INDEX_LIMIT}")


class SymBool(Sym):
    """An unknown truth value; its truth test is a decision of the exploration."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return _decide(self)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        if isinstance(o, (bool, SymBool)):
            return SymBool(self.v == _val(o), "beq", (self, o))
        return NotImplemented

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        r = self.__eq__(o)
        return r if r is NotImplemented else not_sym(r)

    def __invert__(self) -> "SymBool":
        return not_sym(self)


def _num(o: Any) -> bool:
    return isinstance(o, SymInt) or (isinstance(o, int) and not isinstance(o, bool))


def _cmp(op: str, a: Any, b: Any) -> Any:
    if not (_num(a) and _num(b)):
        return NotImplemented
    v = {"lt": lambda x, y: x < y, "le": lambda x, y: x <= y, "eq": lambda x, y: x == y}[op](_val(a), _val(b))
    return SymBool(v, op, (a, b))


def floordiv(a: Any, b: Any) -> Any:
    """Python's a // b (rounding toward minus infinity) for any signs; b = 0 raises
    ZeroDivisionError on the path where it is 0, as Python does."""
    if isinstance(b, int):
        if b == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        if b == 1:
            return a
        return SymInt(_val(a) // b, "div", (a, b))
    if b > 0:  # a decision
        return SymInt(_val(a) // b.v, "div", (a, b))
    if b < 0:
        return SymInt(_val(a) // b.v, "div", (a, b))
    raise ZeroDivisionError("integer division or modulo by zero")


def not_sym(c: Any) -> Any:
    """Negation of a truth value (symbolic or not)."""
    if isinstance(c, SymBool):
        if c.op == "not":
            return c.args[0]
        return SymBool(not c.v, "not", (c,))
    return not c


def ite(c: Any, a: Any, b: Any) -> Any:
    """if c then a else b, without a decision."""
    if not isinstance(c, SymBool):
        return a if c else b
    v = _val(a) if c.v else _val(b)
    cls = SymBool if isinstance(v, bool) else SymInt
    return cls(v, "ite", (c, a, b))


def and_sym(cs: list[Any]) -> Any:
    """Conjunction without decisions (constants folded)."""
    sym = []
    for c in cs:
        if isinstance(c, SymBool):
            sym.append(c)
        elif not c:
            return False
    if not sym:
        return True
    return sym[0] if len(sym) == 1 else SymBool(all(c.v for c in sym), "and", tuple(sym))


def or_sym(cs: list[Any]) -> Any:
    """Disjunction without decisions (constants folded)."""
    sym = []
    for c in cs:
        if isinstance(c, SymBool):
            sym.append(c)
        elif c:
            return True
    if not sym:
        return False
    return sym[0] if len(sym) == 1 else SymBool(any(c.v for c in sym), "or", tuple(sym))


def implies_sym(a: Any, b: Any) -> Any:
    """a implies b without decisions."""
    return or_sym([not_sym(a), b])


# the facade of model/arith.py builds conditions through these (no decision)
Sym.ite = staticmethod(ite)  # type: ignore[attr-defined]
Sym.and_ = staticmethod(and_sym)  # type: ignore[attr-defined]
Sym.or_ = staticmethod(or_sym)  # type: ignore[attr-defined]
Sym.not_ = staticmethod(not_sym)  # type: ignore[attr-defined]
Sym.implies = staticmethod(implies_sym)  # type: ignore[attr-defined]


# ---- Z3 terms ------------------------------------------------------------------------------

def term(x: Any) -> Any:
    """The Z3 term of a Sym, or the Z3 constant of a Python int or bool."""
    if isinstance(x, Sym):
        return x.term()
    if isinstance(x, bool):
        return z3.BoolVal(x)
    return z3.IntVal(x)


def _pydiv(a: Any, b: Any) -> Any:
    """Python's floor division as a Z3 term (SMT-LIB div is floor only for b > 0)."""
    if z3.is_int_value(b):
        return a / b if b.as_long() > 0 else (-a) / (-b)
    return z3.If(b > 0, a / b, (-a) / (-b))


def _build(s: Sym) -> Any:
    op, args = s.op, s.args
    if op == "var":
        return args[1]
    t = [term(a) for a in args]
    if op == "add":
        return t[0] + t[1]
    if op == "sub":
        return t[0] - t[1]
    if op == "mul":
        return t[0] * t[1]
    if op == "neg":
        return -t[0]
    if op == "abs":
        return z3.If(t[0] >= 0, t[0], -t[0])
    if op == "div":
        return _pydiv(t[0], t[1])
    if op == "lt":
        return t[0] < t[1]
    if op == "le":
        return t[0] <= t[1]
    if op in ("eq", "beq"):
        return t[0] == t[1]
    if op == "not":
        return z3.Not(t[0])
    if op == "ite":
        return z3.If(t[0], t[1], t[2])
    if op == "and":
        return z3.And(*t)
    if op == "or":
        return z3.Or(*t)
    if op == "implies":
        return z3.Implies(t[0], t[1])
    raise AssertionError(f"unknown symbolic operation {op}")


def variable(name: str, assignment: dict[str, int]) -> SymInt:
    """An unknown integer named `name`, worth assignment[name] (default 0) in this run."""
    const = z3.Int(name)
    if _EXPLORER is not None:
        _EXPLORER.variables[name] = const
    return SymInt(assignment.get(name, 0), "var", (name, const))


def fresh_context() -> None:
    """R-PROVE-11, R-PROVE-13: the next Z3 terms and solvers start a new main context. Z3's answers
    (which model, which path next) depend on every term the context has seen, so a case
    explored after a fresh context gets the same paths and numbers in any process, after
    any other work: a unit of `waterfall prove --executor dask` is reproducible. Terms of
    the old context stay valid (each keeps its context alive) but must not be mixed in."""
    z3.z3._main_ctx = None


@contextmanager
def collected_here() -> Iterator[None]:
    """R-PROVE-11, R-PROVE-13: while an exploration runs, Python's cyclic collector runs only
    in this thread, every COLLECT_EVERY paths and at the end. Left automatic, a collection
    can start in any thread that allocates (a Dask worker's event loop does, all the time),
    and it then releases Z3 terms of the context this thread is using while Z3 runs here
    with the GIL released: Z3 contexts are not thread-safe, and the paths explored came out
    differently from run to run (a unit of 203 paths gave 200 to 210 on a loaded machine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was:
            gc.enable()


COLLECT_EVERY = 100
"""Paths between two collections of an exploration's cyclic garbage (refusals' tracebacks
hold the frames of the model's run), so memory stays bounded with the collector off."""


# ---- exploration ---------------------------------------------------------------------------

SMALL = 10**6
"""A branch to run is first looked for among assignments with every unknown within
+-SMALL (R-PROVE-5's preference for small counterexamples, and much faster for Z3)."""


def _preamble(cofactor: bool = True) -> Any:
    """Z3's own QF_NIA preamble (src/tactic/smtlogics/qfnia_tactic.cpp), without its
    wall-clock `try_for`: simplify, bounded context simplification, eliminate unconstrained
    terms, cofactor term if-then-elses (only where `cofactor`: see `ite_conditions`), hoist
    products (R-PROVE-11, R-PROVE-14)."""
    steps = [z3.With("simplify", som=False, pull_cheap_ite=True, push_ite_arith=False, local_ctx=True,
                     local_ctx_limit=10_000_000),
             z3.With("ctx-simplify", max_depth=30, max_steps=5_000_000),
             z3.With("simplify", pull_cheap_ite=True, local_ctx=True),
             "elim-uncnstr"]
    steps += [z3.OrElse("cofactor-term-ite", "skip")] if cofactor else []
    return z3.Then(*steps, z3.With("simplify", hoist_mul=True, som=False))


def ite_conditions(formulas: list[Any], stop: int = COFACTOR_MAX_CONDITIONS) -> int:
    """R-PROVE-14: the distinct conditions of the term (non-Boolean) if-then-elses in `formulas`,
    counted up to `stop + 1`. Z3's cofactoring splits an atom on each such condition in turn,
    so it builds up to 2^conditions copies of the atom; it counts no resource units while it
    does (Z3 bounds it with a process-wide 20 MB allocation cap that its Python API does not
    accept, and that would depend on what else the process holds)."""
    seen: set[int] = set()
    conds: set[int] = set()
    todo = list(formulas)
    while todo and len(conds) <= stop:
        e = todo.pop()
        if not z3.is_app(e) or e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_app_of(e, z3.Z3_OP_ITE) and not z3.is_bool(e):
            conds.add(e.arg(0).get_id())
        todo.extend(e.children())
    return len(conds)


def cofactor_safe(formulas: list[Any], stop: int = COFACTOR_MAX_CONDITIONS) -> bool:
    """R-PROVE-14: whether the preamble may cofactor `formulas`: no single formula has more than
    `stop` distinct term if-then-else conditions. Z3's cofactoring splits an asserted formula
    on one condition at a time, copying that formula, so it builds at most 2^stop copies of each
    formula (memory bounded by 2^stop x the query), whatever the number of formulas. Counted on
    the query before any solver sees it, so the choice is the same on any machine."""
    return all(ite_conditions([f], stop) <= stop for f in formulas)


def _solver(kind: str, rlimit: int, cofactor: bool = True) -> Any:
    """A fresh solver of one rung of LADDER: the preamble then Z3's smt core, or its nlsat
    procedure (complete for non-linear arithmetic; trusted here for unsat only)."""
    seed = int(kind[3:] or 0) if kind.startswith("smt") else 0  # "smt1": the smt core with random seed 1
    core = z3.Tactic("qfnra-nlsat") if kind == "nlsat" else z3.With("smt", random_seed=seed)
    s = z3.Then(_preamble(cofactor and kind != "plain"), core).solver()  # "plain": never cofactored (R-PROVE-18)
    s.set("rlimit", rlimit)
    return s


def solve(formulas: list[Any], rlimit: int = DEFAULT_RLIMIT, deadline: float | None = None) -> tuple[Any, Any, str]:
    """R-PROVE-11: satisfiability of `formulas` by the rungs of LADDER then Z3's smt core with
    `rlimit`, each a fresh solver with its own resource budget (no wall-clock): (result,
    model or None, Z3's reason when unknown). nlsat's sat answers are not used (its model is
    not checked here); its unsat is Z3's decision procedure's. Term if-then-elses are
    cofactored only when no formula of the query has more than COFACTOR_MAX_CONDITIONS distinct
    conditions (R-PROVE-14, `cofactor_safe`: so the preamble's memory stays bounded). Z3 running out of memory raises
    OutOfMemory. R-PROVE-19: `deadline` (a `time.perf_counter()` instant: the exploration's outer
    wall-clock guard) stops the ladder: no rung starts after it and a rung still running at it is
    stopped (Z3's `timeout`), and either raises PathLimit('time limit reached'), which makes the
    case TIMEOUT; it never turns into an answer about the query."""
    why = ""
    rungs = [(k, min(b, rlimit)) for k, b in LADDER if b < rlimit] + [("smt", rlimit)]
    cofactor = cofactor_safe(formulas)
    for kind, budget in rungs:
        if kind == "plain" and not cofactor:
            continue  # R-PROVE-18: the first rung already ran without cofactoring
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            raise PathLimit(TIME_LIMIT)  # R-PROVE-19
        try:
            s = _solver(kind, budget, cofactor)
            if left is not None:
                s.set("timeout", max(1, int(left * 1000)))  # R-PROVE-19: only the outer guard, never a verdict
            s.add(formulas)
            r = s.check()
        except z3.Z3Exception as e:  # a rung that does not apply to this query (nlsat on div/mod, say)
            if out_of_memory(e):
                raise OutOfMemory(memory_exceeded()) from None
            why = str(e)
            continue
        if r == z3.unsat or (r == z3.sat and kind != "nlsat"):
            return r, (s.model() if r == z3.sat else None), ""
        if r == z3.unknown:
            why = s.reason_unknown()
            if _memory_words(why):
                raise OutOfMemory(memory_exceeded())
            if deadline is not None and time.perf_counter() >= deadline:
                raise PathLimit(TIME_LIMIT)  # R-PROVE-19: stopped by the guard, not by its budget
    return z3.unknown, None, why or "unknown"


TIME_LIMIT = "time limit reached"
"""PathLimit's reason when the outer wall-clock guard (`--timeout`) ends an exploration."""


@dataclass
class Path:
    """One feasible path: the assignment it ran on and what the function returned or raised
    (its path condition is on the explorer's solver while `on_path` sees it)."""

    assignment: dict[str, int]
    result: Any = None
    error: BaseException | None = None


@dataclass
class Exploration:
    """How the exploration of every path of a function went (each path went to `on_path`)."""

    paths: int = 0
    complete: bool = True
    reason: str = ""  # why incomplete: an undecided branch, the path limit, the time limit
    decisions: int = 0
    solver_calls: int = 0
    seconds: float = 0.0
    memory: bool = False  # R-PROVE-14: ended by the memory budget


@dataclass
class _Frame:
    cond: Any  # SymBool of the decision (as recorded in the run that made it)
    taken: bool
    pending: bool  # the other branch is still to be tried


class Explorer:
    """Depth-first exploration of every path of `fn(assignment)` (fn builds its unknowns
    with `variable(name, assignment.get(name, 0))` and runs the model)."""

    def __init__(self, max_paths: int = 20_000, deadline: float | None = None,
                 rlimit: int = DEFAULT_RLIMIT) -> None:
        self.max_paths, self.deadline, self.rlimit = max_paths, deadline, rlimit
        check_room()  # R-PROVE-14
        self.solver = z3.SimpleSolver()  # incremental: holds the path prefix
        self.solver.set("rlimit", min(QUICK_RLIMIT, rlimit))  # a budget per check (R-PROVE-11)
        self.frames: list[_Frame] = []
        self.depth = 0
        self.replayed = 0  # frames that this run must follow (the prefix)
        self.variables: dict[str, Any] = {}
        self.recording: list[Any] | None = None  # see `recorded`
        self.skip_refusals = False  # set while the model runs: see GUARDS
        self.refusals_skipped = 0

    def decide(self, cond: SymBool, where: Any = None) -> bool:
        """Follow the run's assignment; record a new decision, or check a replayed one.
        `where` is the Python frame that asked (for refusal guards)."""
        taken = bool(cond.v)
        if self.recording is not None:  # a predicate guessed along the run's values (see `recorded`)
            self.recording.append(cond if taken else not_sym(cond))
            return taken
        d = self.depth
        self.depth += 1
        if d < self.replayed:
            if self.frames[d].taken != taken:  # the assignment must satisfy the prefix
                raise Divergence(f"decision {d} diverged on replay: {cond!r}")
            return taken
        lit = z3.simplify(cond.term() if taken else z3.Not(cond.term()))  # (cancels size x mark - ...)
        forks = not z3.is_true(lit)  # a condition decided by constants alone does not fork
        if forks and not taken and self.skip_refusals and where is not None and (
                where.f_code in GUARDS or (where.f_code, where.f_lineno) in GUARDS):
            forks_later = False  # the other branch only raises a typed refusal: nothing to prove there
            self.refusals_skipped += 1
        else:
            forks_later = forks
        self.frames.append(_Frame(cond, taken, forks_later))  # recorded either way: replays count it too
        self.solver.push()
        if forks:
            self.solver.add(lit)
        self.replayed = len(self.frames)
        return taken

    def check(self, *extra: Any, small_first: bool = False, quick: bool = False) -> tuple[Any, Any, str]:
        """Satisfiability of the path condition and `extra`: (result, model or None, Z3's
        reason when unknown). The incremental solver first, with QUICK_RLIMIT; when it gives
        up, `solve` on the same formulas (fresh solvers, LADDER then the whole rlimit: Z3's
        incremental core is slow on the non-linear products of sizes and prices). Every budget
        is Z3's own count of its work, never wall-clock, so the answer is the same on any
        machine (R-PROVE-11). With `small_first` (a branch to run: any model will do) a fresh
        solver first looks for one with every unknown within SMALL, which Z3 finds far faster.
        With `quick`, only the incremental attempt (a search that may give up)."""
        s = self.solver
        r = s.check(*extra)
        if r == z3.unknown and _memory_words(s.reason_unknown()):
            raise OutOfMemory(memory_exceeded())  # R-PROVE-14
        if r != z3.unknown or quick:
            return r, (s.model() if r == z3.sat else None), "" if r != z3.unknown else s.reason_unknown()
        formulas = list(s.assertions()) + list(extra)
        if small_first:
            bounded = formulas + [z3.And(v >= -SMALL, v <= SMALL) for v in self.variables.values()]
            r, model, _ = solve(bounded, min(LADDER[0][1], self.rlimit), self.deadline)
            if r == z3.sat:
                return r, model, ""
        return solve(formulas, self.rlimit, self.deadline)  # R-PROVE-19: the guard stops a query too

    def explore(self, fn: Callable[[dict[str, int]], Any], on_path: Callable[[Path, "Explorer"], bool | None],
                start: dict[str, int] | None = None) -> Exploration:
        """Run `fn` on every feasible path; `on_path` sees each (with the solver holding its
        path condition, for checks of its own) and may stop the exploration by returning
        True (the result is then marked incomplete, reason 'stopped'). The memory budget running
        out (R-PROVE-14) ends it too, incomplete, with that reason and `out.memory` set:
        the paths seen so far keep what `on_path` made of them."""
        global _EXPLORER
        out = Exploration()
        t0 = time.perf_counter()
        assignment = dict(start or {})
        prev, _EXPLORER = _EXPLORER, self
        try:
            with collected_here():  # R-PROVE-13: no collection from another thread while Z3 runs
                while True:
                    self.depth = 0
                    path = Path(assignment)
                    try:
                        path.result = fn(assignment)
                    except Divergence:
                        raise
                    except Unsupported as e:
                        path.error = e
                        out.complete, out.reason = False, f"unsupported on a path: {e}"
                    except Exception as e:  # noqa: BLE001  (a refusal or a crash of the model, on this path)
                        if out_of_memory(e):  # R-PROVE-14: the budget, not the model
                            raise
                        path.error = e
                    out.paths += 1
                    if on_path(path, self):
                        raise PathLimit("stopped")
                    if out.paths >= self.max_paths:
                        raise PathLimit(f"path limit {self.max_paths} reached")
                    del path
                    if out.paths % COLLECT_EVERY == 0:
                        gc.collect()
                    assignment = self._next(out)
                    if assignment is None:
                        break
        except PathLimit as e:
            out.complete, out.reason = False, str(e)
        except Exception as e:  # noqa: BLE001  (only the memory budget: anything else is re-raised)
            if not out_of_memory(e):
                raise
            out.complete, out.reason, out.memory = False, memory_exceeded(), True
        finally:
            _EXPLORER = prev
            out.seconds = round(time.perf_counter() - t0, 3)
        return out

    def _next(self, out: Exploration) -> dict[str, int] | None:
        """Backtrack to the deepest pending branch that is feasible; its assignment."""
        while self.frames:
            if self.deadline is not None and time.perf_counter() > self.deadline:
                raise PathLimit(TIME_LIMIT)
            f = self.frames.pop()
            self.solver.pop()
            if not f.pending:
                continue
            lit = z3.simplify(z3.Not(f.cond.term()) if f.taken else f.cond.term())
            out.solver_calls += 1
            r, model, why = self.check(lit, small_first=True)
            if r == z3.unsat:
                continue
            if r == z3.unknown:
                out.complete = False
                out.reason = f"a branch Z3 could not decide ({why}): {lit}"
                continue
            self.frames.append(_Frame(f.cond, not f.taken, False))
            self.solver.push()
            self.solver.add(lit)
            self.replayed = len(self.frames)
            out.decisions += 1
            return {name: model.eval(c, model_completion=True).as_long() for name, c in self.variables.items()}
        return None
