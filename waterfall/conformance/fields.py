"""R-CONF-3: the fields of a state the conformance kit compares, derived from the model's own
`State` dataclass (`dataclasses.fields`) and the NamedTuple records it holds (`Market`,
`Account`, `Position`), so a record added to the state is compared without anyone having to
remember it. The runner, the pytest plugin and the differential fuzzer all judge a response
through `state_diff` (waterfall/conformance/runner.py `judge`); nothing else compares states.

A field's JSON key is its name (R-FMT-2), except `history`, written `layer_history`. A
mapping of records (markets, accounts, an account's positions) is compared record by record,
keyed by the record's id (`market` for a position); every other mapping key by key; a
scalar as it is. A key absent from a normal state counts as the field's default (`"0"` for
an integer, absent for a mapping entry), as the codec writes it.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from functools import lru_cache
from typing import Any, NamedTuple

from waterfall.model.state import State

JSON_NAME = {"history": "layer_history"}  # State field -> its key in the JSON form (R-FMT-2)
RECORD_KEY = {"positions": "market"}  # a list of records keyed by this field instead of "id"
LABEL = {"accounts": "account", "markets": "market", "positions": "position", "layers": "layer",
         "default_fund": "default fund of"}  # the wording of the runner's diff lines (spec/conformance.md)


class Field(NamedTuple):
    """One compared field: State attribute, JSON key, kind (records / map / scalar), the record
    type of a records field (None otherwise) and the JSON default of a scalar."""

    name: str
    key: str
    kind: str
    record: Any
    default: str


def _record_type(hint: Any) -> Any:
    """The NamedTuple value type of `Mapping[str, R]`, or None."""
    args = typing.get_args(hint)
    value = args[1] if len(args) == 2 else None
    return value if isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields") else None


def _field(name: str, hint: Any, default: Any) -> Field:
    record = _record_type(hint)
    key = JSON_NAME.get(name, name)
    if record is not None:
        return Field(name, key, "records", record, "")
    if typing.get_origin(hint) is None and hint is int:
        return Field(name, key, "scalar", None, str(default if isinstance(default, int) else 0))
    return Field(name, key, "map", None, "")


@lru_cache(maxsize=None)
def state_fields() -> tuple[Field, ...]:
    """R-CONF-3: every field of State, in its declaration order, as compared."""
    hints = typing.get_type_hints(State)
    out = []
    for f in dataclasses.fields(State):
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(_field(f.name, hints[f.name], default))
    return tuple(out)


@lru_cache(maxsize=None)
def record_fields(record: Any) -> tuple[Field, ...]:
    """R-CONF-3: the fields of a record type (Market, Account, Position), its id excluded."""
    hints = typing.get_type_hints(record)
    defaults = getattr(record, "_field_defaults", {})
    return tuple(_field(n, hints[n], defaults.get(n)) for n in record._fields if n != "id")


def compared_keys() -> list[str]:
    """Every compared JSON path, e.g. `accounts[].positions[].size`, `layer_paid{}`, `clock`."""
    out: list[str] = []

    def walk(prefix: str, fields: tuple[Field, ...]) -> None:
        for f in fields:
            if f.kind == "records":
                walk(f"{prefix}{f.key}[].", record_fields(f.record))
            else:
                out.append(prefix + f.key + ("{}" if f.kind == "map" else ""))
    walk("", state_fields())
    return out


def _show(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def _label(f: Field) -> str:
    return LABEL.get(f.name, f.key)


def _diff_fields(where: str, want: dict[str, Any], got: dict[str, Any], fields: tuple[Field, ...]) -> list[str]:
    """One line per differing field of two records (or states), recursing into records."""
    lines: list[str] = []
    head = f"{where}: " if where else ""
    for f in fields:
        w, g = want.get(f.key), got.get(f.key)
        if f.kind == "scalar":
            w, g = f.default if w is None else w, f.default if g is None else g
            if w != g:
                lines.append(f"{head}{f.key}: expected {_show(w)}, got {_show(g)}")
        elif f.kind == "map":
            w, g = w or {}, g or {}
            for k in sorted(set(w) | set(g)):
                if w.get(k) != g.get(k):
                    lines.append(f"{head}{_label(f)} {k}: expected {_show(w.get(k, '(absent)'))}, "
                                 f"got {_show(g.get(k, '(absent)'))}")
        else:
            lines += _diff_records(f"{head}{_label(f)}", w or [], g or [], f)
    return lines


def _diff_records(label: str, want: list[dict[str, Any]], got: list[dict[str, Any]], f: Field) -> list[str]:
    idk = RECORD_KEY.get(f.name, "id")
    fields = record_fields(f.record)
    wr, gr = {r.get(idk): r for r in want}, {r.get(idk): r for r in got}
    lines: list[str] = []
    for rid in sorted(set(wr) | set(gr), key=str):
        w, g = wr.get(rid), gr.get(rid)
        if f.name == "positions":  # an absent position is a position of 0 lots (R-CONF-3)
            w, g = w or {}, g or {}
        if w is None or g is None:
            lines.append(f"{label} {rid}: {'not expected' if w is None else 'missing'} "
                         f"(expected {json.dumps(w)}, got {json.dumps(g)})")
            continue
        lines += _diff_fields(f"{label} {rid}", w, g, fields)
    return lines


def state_diff(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """R-CONF-3: one line per differing field of two normal states, over every field of
    State (`state_fields`): the record (account, market, position, layer...), the field, the
    expected and the received value."""
    return _diff_fields("", want, got, state_fields())
