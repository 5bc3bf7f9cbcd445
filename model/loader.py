"""Reading mechanism files (TOML) and scenarios (JSON) with errors that name file and key.

Both formats are checked against their JSON Schema in spec/schemas, then by the semantic
rules a schema cannot say (R-MECH-2: layer order, sinks that exist, keys that apply to a
layer's kind; R-STATE-5). Before any of that (R-FMT-5): a file must be a regular file of at
most MAX_FILE_BYTES (a FIFO or a device is refused before it is opened for reading), JSON
objects may not repeat a key, no number may be a float (`5000.0`, `1e9`: money is exact,
R-UNIT-1), and the counts of layers, markets, accounts and operations are bounded.
"""
from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import jsonschema
import referencing

from waterfall.spec import FINDINGS_DIR, MECHANISMS_DIR, REGRESSIONS_DIR, SCENARIOS_DIR, SCHEMAS_DIR

from .codec import op_from_json, state_from_json
from .errors import MechanismError, ScenarioError, WaterfallError, closest
from .mechanism import Adl, BadDebtOnly, Haircut, LayerSpec, Levy, Liquidation, Mechanism, Pool, WithdrawalHaircut
from .ops import Op
from .state import State, validate_state
from .units import PPM

FINALS = {"haircut": Haircut, "adl": Adl, "levy": Levy, "withdrawal_haircut": WithdrawalHaircut, "pool": Pool,
          "bad_debt": BadDebtOnly}
CLEARING_ORDER = ("defaulter_contribution", "default_fund", "assessment")

MAX_FILE_BYTES = 16 * 2**20
"""R-FMT-5: the largest mechanism, scenario or vector file read (16 MiB)."""
MAX_LAYERS = 32
"""R-FMT-5: layers of one mechanism."""
MAX_MARKETS = 100
"""R-FMT-5: markets of one state read from a file."""
MAX_ACCOUNTS = 10_000
"""R-FMT-5: accounts of one state read from a file."""
MAX_OPS = 1_000
"""R-FMT-5: operations of one scenario file."""
MAX_STATE_LAYERS = 4_096
"""R-FMT-5: layer balances of one state (per-market layers give NAME:MARKET keys)."""

LAYER_KEY_KINDS = {"scope": ("balance",), "reserve": ("balance",), "cap_per_event": ("balance",), "pays": ("balance",),
                   "after_adl": ("balance",), "drawdown_by": ("balance",), "alongside": ("default_fund",),
                   "assessment_multiple_ppm": ("assessment",), "rounding": ("default_fund", "assessment")}
"""R-MECH-2: the layer kinds each kind-specific key applies to (a default fund has no
per-event cap: a `cap_per_event` there would be ignored, so it is refused)."""


@lru_cache(maxsize=None)
def schema(name: str) -> jsonschema.protocols.Validator:
    """The validator for spec/schemas/NAME.schema.json (references to the other schemas of
    that directory resolve by their $id)."""
    docs = {p.stem.removesuffix(".schema"): json.loads(p.read_text()) for p in SCHEMAS_DIR.glob("*.schema.json")}
    registry = referencing.Registry().with_resources(
        (d["$id"], referencing.Resource.from_contents(d)) for d in docs.values() if "$id" in d)
    return jsonschema.Draft202012Validator(docs[name], registry=registry)


def key_path(path: Iterable[Any]) -> str:
    """A JSON path as a.b[2].c."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[tuple[str, str]]:
    """(key, message) for every schema violation, most specific first, sorted by key."""
    found = []
    try:
        for err in validator.iter_errors(doc):
            leaves = [e for e in (err.context or [])] or [err]
            best = jsonschema.exceptions.best_match(leaves) if err.context else err
            found.append(describe(best))
    except RecursionError:
        return [("(top level)", "nested too deeply")]
    return sorted(set(found))


def describe(err: jsonschema.ValidationError) -> tuple[str, str]:
    """Turn a jsonschema error into (key, plain message)."""
    where = list(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        return key_path(where + extra[:1]), f"unknown key (allowed: {', '.join(sorted(allowed))})"
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return key_path(where + [missing]), "required key is missing"
    if err.validator == "enum":
        return key_path(where), f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "type":
        return key_path(where), f"wrong type: expected {err.validator_value}, got {type(err.instance).__name__}"
    if err.validator in ("minimum", "maximum"):
        return key_path(where), f"value {err.instance} out of range ({err.validator} {err.validator_value})"
    return key_path(where), err.message


def listed(origin: str, problems: list[tuple[str, str]], prefix: str = "") -> str:
    """Every schema problem of a file: the first on the message's line, each further one on
    a line of its own (R-CLI-3: all of them, not a count)."""
    (key, msg), rest = problems[0], problems[1:]
    more = f" (and {len(rest)} more problem{'s' if len(rest) > 1 else ''}:)" if rest else ""
    return f"{origin}: {prefix}{key}: {msg}{more}" + "".join(f"\n  {prefix}{k}: {m}" for k, m in rest)


class DuplicateKey(ValueError):
    """A JSON object that names one key twice (json keeps the last one silently)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(k)
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def strict_json(text: str) -> Any:
    """R-FMT-5: json.loads that refuses a repeated key and NaN / Infinity."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)


def read_bytes(path: str | Path, error: type[WaterfallError], limit: int = MAX_FILE_BYTES) -> bytes:
    """R-FMT-5: the bytes of a regular file of at most `limit` bytes; anything else (a
    directory, FIFO, device, socket, a larger file) raises `error` naming the file. The file
    is opened non-blocking and checked with fstat before a byte is read, so a FIFO never
    blocks and /dev/zero never fills the memory."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(f"{p}: cannot read: {e.strerror}", file=p) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p}: not a regular file ({_file_kind(st.st_mode)})", file=p)
        if st.st_size > limit:
            raise error(f"{p}: {st.st_size} bytes, more than the limit of {limit}", file=p)
        chunks, size = [], 0
        while size <= limit:  # st_size may be 0 for a file that still yields bytes (/proc)
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as e:
        raise error(f"{p}: cannot read: {e.strerror}", file=p) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{p}: more than the limit of {limit} bytes", file=p)
    return data


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def read_doc(path: str | Path, error: type[WaterfallError], fmt: str, parse: Callable[[str], Any]) -> Any:
    """Read and parse a file (R-FMT-5: regular, bounded, no repeated key, no float); an
    unreadable or unparsable one raises `error` naming it."""
    p = Path(path)
    if parse is json.loads:
        parse = strict_json
    try:
        doc = parse(read_bytes(p, error).decode("utf-8"))
    except DuplicateKey as e:
        raise error(f"{p}: key {e.key!r} is given twice in one object", file=p, key=e.key) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise error(f"{p}: not valid {fmt}: {e}", file=p) from None
    except RecursionError:
        raise error(f"{p}: not valid {fmt}: nested too deeply", file=p) from None
    reject_floats(doc, str(p), error)
    return doc


def reject_floats(doc: Any, origin: str, error: type[WaterfallError]) -> None:
    """R-FMT-5 / R-UNIT-1: no number in a document is a float, whatever its value (`5000.0`,
    `1e9`, NaN): the model would compute in floats. Names the first such key."""
    todo: list[tuple[list[Any], Any]] = [([], doc)]
    while todo:
        where, x = todo.pop()
        if isinstance(x, float):
            key = key_path(where)
            raise error(f"{origin}: key {key}: {x!r} is not an integer (write integers without a decimal "
                        f"point or exponent)", file=origin, key=key)
        if isinstance(x, dict):
            todo.extend((where + [k], v) for k, v in reversed(list(x.items())))
        elif isinstance(x, list):
            todo.extend((where + [i], v) for i, v in reversed(list(enumerate(x))))


def check_count(doc: Any, key: str, limit: int, origin: str, error: type[WaterfallError]) -> None:
    """R-FMT-5: a list or map at `key` (a.b path) has at most `limit` entries."""
    x = doc
    for part in key.split("."):
        x = x.get(part) if isinstance(x, dict) else None
    if isinstance(x, (list, dict)) and len(x) > limit:
        raise error(f"{origin}: key {key}: {len(x)} entries, more than the limit of {limit}", file=origin, key=key)


def load_mechanism(path: str | Path) -> Mechanism:
    """R-MECH-1: read and validate a mechanism file; MechanismError names file and key."""
    return mechanism_from_doc(read_doc(path, MechanismError, "TOML", tomllib.loads), str(path))


def mechanism_from_doc(doc: dict[str, Any], origin: str) -> Mechanism:
    """R-MECH-1/2: bounds (R-FMT-5), schema check, then semantic checks, then the Mechanism value."""
    reject_floats(doc, origin, MechanismError)
    check_count(doc, "layers", MAX_LAYERS, origin, MechanismError)
    problems = schema_errors(schema("mechanism"), doc)
    if problems:
        raise MechanismError(listed(origin, problems, "key "), file=origin, key=problems[0][0])
    check_applicable(doc, origin)
    layers = tuple(LayerSpec(**{**spec, **({"isolated": tuple(spec["isolated"])} if "isolated" in spec else {}),
                                **({"settlement": tuple(sorted(spec["settlement"].items()))} if "settlement" in spec else {})})
                   for spec in doc.get("layers", []))
    final_doc = dict(doc["final"])
    if "exempt" in final_doc:
        final_doc["exempt"] = tuple(final_doc["exempt"])
    if "priority" in final_doc:
        final_doc["priority"] = tuple(final_doc["priority"])
    if "account_caps" in final_doc:
        final_doc["account_caps"] = tuple(sorted(final_doc["account_caps"].items()))
    final = FINALS[final_doc.pop("policy")](**final_doc)
    mech = Mechanism(id=doc["id"], name=doc["name"], liquidation=Liquidation(**doc.get("liquidation", {})),
                     layers=layers, final=final, claims=tuple(doc.get("claims", ())) + tuple(doc.get("relations", ())),
                     source=doc["source"], path=origin, relations=tuple(doc.get("relations", ())))
    check_layers(mech, origin)
    check_refinements(mech, origin)
    check_relations(doc, origin)
    check_claims(mech, origin)
    return mech


def refuse(origin: str, key: str, why: str) -> None:
    """Raise the MechanismError of one key (R-MECH-3)."""
    raise MechanismError(f"{origin}: key {key}: {why}", file=origin, key=key)


def check_refinements(mech: Mechanism, origin: str) -> None:
    """R-MECH-3: keys that only mean something together. A drawdown rule needs a window and
    a balance layer; a lifetime cap a balance layer; a haircut window needs profit
    'window_gain' or timing 'settlement' and they need it; the takeover cap needs
    `fund_first`, which needs balance layers only; collateral_check 'margin_ratio' needs
    `skip_insolvent`; pricing 'per_fill' needs close price 'bankruptcy'; the step_* keys of
    partial liquidation need `step_ppm`."""
    for i, spec in enumerate(mech.layers):
        key = f"layers[{i}]"
        if spec.kind != "balance":
            for name in ("drawdown_ppm", "drawdown_window", "drawdown_floor", "lifetime_cap", "isolated", "settlement"):
                if getattr(spec, name):
                    refuse(origin, f"{key}.{name}", f"only a balance layer can have {name} (kind {spec.kind!r})")
        if spec.assessment_period and spec.kind != "assessment":
            refuse(origin, f"{key}.assessment_period", f"only an assessment layer has an assessment period (kind {spec.kind!r})")
        if spec.isolated and spec.scope == "market":
            refuse(origin, f"{key}.isolated", "a per-market layer already keeps one balance per market")
        if spec.settlement and (spec.scope == "market" or spec.isolated):
            refuse(origin, f"{key}.settlement", "a fund per settlement currency is a global layer without isolated markets")
        if spec.drawdown_ppm and not spec.drawdown_window:
            refuse(origin, f"{key}.drawdown_window", "a drawdown rule needs a positive window (seconds)")
        if (spec.drawdown_window or spec.drawdown_floor or spec.drawdown_mode != "cap" or spec.drawdown_by != "pool") \
                and not spec.drawdown_ppm:
            refuse(origin, f"{key}.drawdown_ppm", "drawdown_window / drawdown_floor / drawdown_mode / drawdown_by without drawdown_ppm have no effect")
        if spec.drawdown_by == "market" and (spec.scope != "global" or spec.settlement):
            refuse(origin, f"{key}.drawdown_by", "a drawdown per market is measured against one shared pool: a global "
                   "balance layer without settlement currencies (R-WF-14)")
        if spec.drawdown_mode == "trigger" and not isinstance(mech.final, Adl):
            refuse(origin, f"{key}.drawdown_mode", "a drawdown trigger decides when ADL starts: the final resort must be 'adl'")
    check_after_adl(mech, origin)
    check_alongside(mech, origin)
    rule = mech.liquidation
    if not rule.step_ppm:
        for name in ("step_threshold", "step_min_notional", "step_max_notional", "step_markets",
                     "step_min_margin_ppm", "step_cooldown"):
            if getattr(rule, name):
                refuse(origin, f"liquidation.{name}", f"{name} shapes partial liquidation steps: set liquidation.step_ppm")
    final = mech.final
    if isinstance(final, Haircut):
        needs_window = final.profit == "window_gain" or final.timing == "settlement"
        if needs_window and not final.window:
            refuse(origin, "final.window", f"profit {final.profit!r} / timing {final.timing!r} needs a window (seconds)")
        if final.window and not needs_window:
            refuse(origin, "final.window", "a window needs profit 'window_gain' or timing 'settlement'")
        if final.order == "queue" and (final.cap_ppm < PPM or final.account_caps):
            refuse(origin, "final.order", "a queue takes each base in full: it has no per-account cap (cap_ppm, account_caps)")
        if final.order != "queue" and (final.queue_order != "profit" or final.priority):
            refuse(origin, "final.queue_order", "queue_order and priority order a queue: set order = 'queue'")
        if (final.queue_order == "priority") != bool(final.priority):
            refuse(origin, "final.priority", "queue_order 'priority' needs a priority list, and a priority list needs queue_order 'priority'")
    if isinstance(final, WithdrawalHaircut) and final.warming_first and not final.window:
        refuse(origin, "final.warming_first", "warming profit is the gain of the current window: set a window (seconds)")
    balance_names = {s.name for s in mech.layers if s.kind == "balance"}
    if isinstance(final, WithdrawalHaircut) and final.recompute and mech.liquidation.surplus_sink not in balance_names:
        refuse(origin, "liquidation.surplus_sink", "recompute charges for accounts bankrupt at mark and pays "
               "that part to the surplus sink (R-WH-6): name a balance layer")
    if isinstance(final, Levy) and final.layers_per_market:  # R-WF-15
        if not final.per_market:
            refuse(origin, "final.layers_per_market", "the layers run per market before each market's levy: set per_market = true (R-LEVY-7)")
        if any(s.kind != "balance" for s in mech.layers):
            refuse(origin, "final.layers_per_market", "only balance layers are drawn per market; clearing layers are not supported (R-WF-15)")
    if isinstance(final, Pool) and final.adl_floor_ppm > final.adl_trigger_ppm:
        refuse(origin, "final.adl_floor_ppm", "the factor ADL may not go below must not exceed the factor that triggers it")
    if isinstance(final, Adl):
        if final.takeover_cap_ppm and not final.fund_first:
            refuse(origin, "final.takeover_cap_ppm", "the takeover cap limits fund_first: set fund_first = true")
        if final.takeover_cumulative and not final.takeover_cap_ppm:
            refuse(origin, "final.takeover_cumulative", "a cumulative takeover counts against the takeover cap: "
                   "set takeover_cap_ppm (R-ADL-12)")
        if final.fund_first and any(s.kind != "balance" for s in mech.layers):
            refuse(origin, "final.fund_first", "fund_first splits between balance layers and ADL; clearing layers are not supported")
        if final.collateral_check != "equity" and not final.skip_insolvent:
            refuse(origin, "final.collateral_check", "a collateral check applies only with skip_insolvent = true")
        if final.pricing == "per_fill" and final.close_price != "bankruptcy":
            refuse(origin, "final.pricing", "per-fill prices are bankruptcy quotes: close_price must be 'bankruptcy'")


def check_alongside(mech: Mechanism, origin: str) -> None:
    """R-MECH-3 / R-CH-5 / R-WF-11: a default fund's `alongside` names a global balance layer
    of the mechanism that pays nothing on its own (pays = false), so it pays only in the
    split; a layer that pays nothing is not a residue sink."""
    layers = {s.name: s for s in mech.layers}
    sink = getattr(mech.final, "residue_sink", "bad_debt")
    if sink in layers and not layers[sink].pays:
        refuse(origin, "final.residue_sink", f"{sink!r} pays nothing (pays = false): it cannot pay a rounding residue")
    for i, spec in enumerate(mech.layers):
        if not spec.alongside:
            continue
        other = layers.get(spec.alongside)
        if other is None or other.kind != "balance" or other.pays or other.scope != "global" or other.isolated:
            refuse(origin, f"layers[{i}].alongside", f"{spec.alongside!r} must be a global balance layer of this "
                   f"mechanism with pays = false (it pays only alongside the default fund)")


def check_after_adl(mech: Mechanism, origin: str) -> None:
    """R-MECH-3 / R-WF-12: a layer that pays after deleveraging needs an ADL final resort and
    comes after every other layer (so seniority, I-ORDER, still reads in file order)."""
    seen = False
    for i, spec in enumerate(mech.layers):
        if spec.after_adl and not isinstance(mech.final, Adl):
            refuse(origin, f"layers[{i}].after_adl", "a layer paid after deleveraging needs the final resort 'adl'")
        if seen and not spec.after_adl:
            refuse(origin, f"layers[{i}].after_adl", "layers paid after deleveraging come after every other layer")
        seen = seen or spec.after_adl


def layer_key_applies(key: str, kind: str) -> bool:
    """R-MECH-2: whether a layer key applies to a layer of `kind` (kind-specific keys only to theirs)."""
    kinds = LAYER_KEY_KINDS.get(key)
    return kinds is None or kind in kinds


def fee_applies(surplus: str) -> bool:
    """R-MECH-2: `liquidation.fee_ppm` applies only with surplus 'fee'."""
    return surplus == "fee"


def check_applicable(doc: dict[str, Any], origin: str) -> None:
    """R-MECH-2: a key that does not apply where it is written (it would be silently ignored)
    is refused: kind-specific layer keys on another kind, `fee_ppm` without surplus 'fee'
    (keys of another final policy are refused by the schema)."""
    for i, layer in enumerate(doc.get("layers", [])):
        kind = layer.get("kind", "balance")
        for key in layer:
            if not layer_key_applies(key, kind):
                where = f"layers[{i}].{key}"
                raise MechanismError(f"{origin}: key {where}: does not apply to a {kind!r} layer (only to "
                                     f"{' / '.join(repr(k) for k in LAYER_KEY_KINDS[key])})", file=origin, key=where)
    liq = doc.get("liquidation", {})
    if "fee_ppm" in liq and not fee_applies(liq.get("surplus", "fee")):
        raise MechanismError(f"{origin}: key liquidation.fee_ppm: does not apply with surplus "
                             f"{liq['surplus']!r} (only with 'fee')", file=origin, key="liquidation.fee_ppm")


def check_claims(mech: Mechanism, origin: str) -> None:
    """R-MECH-2: every claim names a registered invariant (a misspelt one would go unchecked)."""
    from waterfall.spec.invariants import REGISTRY, RELATIONS  # spec.invariants imports the model: import late
    known = list(REGISTRY) + list(RELATIONS)
    for i, claim in enumerate(mech.claims):
        if claim not in known:
            raise MechanismError(f"{origin}: key claims[{i}]: {claim!r} is not a registered invariant"
                                 f"{closest(claim, known)}", file=origin, key=f"claims[{i}]")


def check_relations(doc: dict[str, Any], origin: str) -> None:
    """R-MECH-2, R-PROVE-12: the relational claims (I-PATH, I-SCALE, I-SPLIT) are stated under
    `relations`, every other claim under `claims`: a relation under `claims`, or an
    invariant that is not a relation under `relations`, is refused."""
    from waterfall.spec.invariants import REGISTRY, RELATIONS  # spec.invariants imports the model: import late
    for i, claim in enumerate(doc.get("claims", ())):
        if claim in RELATIONS:
            raise MechanismError(f"{origin}: key claims[{i}]: {claim!r} is a relational claim: list it under "
                                 f"'relations'", file=origin, key=f"claims[{i}]")
    for i, rel in enumerate(doc.get("relations", ())):
        if rel not in RELATIONS:
            hint = " (an invariant of one step: list it under 'claims')" if rel in REGISTRY else closest(rel, list(RELATIONS))
            raise MechanismError(f"{origin}: key relations[{i}]: {rel!r} is not a relational invariant{hint}",
                                 file=origin, key=f"relations[{i}]")


def check_layers(mech: Mechanism, origin: str) -> None:
    """R-MECH-2: unique layer names; clearing layers in the order defaulter contribution,
    default fund, assessment; sinks name a balance layer (residue may be bad_debt; the
    surplus sink is unused with surplus 'none' and a final resort that cannot over-collect)."""
    seen: set[str] = set()
    rank = -1
    for i, spec in enumerate(mech.layers):
        key = f"layers[{i}]"
        if spec.name in seen:
            raise MechanismError(f"{origin}: key {key}.name: layer {spec.name!r} is listed twice",
                                 file=origin, key=key + ".name")
        seen.add(spec.name)
        if spec.kind in CLEARING_ORDER:
            r = CLEARING_ORDER.index(spec.kind)
            if r <= rank:
                why = "listed twice" if r == rank else f"must come before {CLEARING_ORDER[rank]!r}"
                raise MechanismError(f"{origin}: key {key}.kind: layers out of order: {spec.kind!r} {why}",
                                     file=origin, key=key + ".kind")
            rank = r
        if spec.kind == "assessment" and spec.assessment_multiple_ppm == 0:
            raise MechanismError(f"{origin}: key {key}.assessment_multiple_ppm: an assessment "
                                 f"layer needs a positive cap", file=origin, key=key + ".assessment_multiple_ppm")
        if spec.name == "bad_debt":  # the name means the ledger where a residue sink is named
            raise MechanismError(f"{origin}: key {key}.name: 'bad_debt' names the bad-debt ledger, not a layer",
                                 file=origin, key=key + ".name")
    balances = {s.name for s in mech.layers if s.kind == "balance"}
    over_collects = not isinstance(mech.final, (Adl, BadDebtOnly, Pool, WithdrawalHaircut))
    sinks = [("liquidation.surplus_sink", mech.liquidation.surplus_sink, False)]
    if mech.liquidation.surplus == "none" and not over_collects:
        sinks = []
    if hasattr(mech.final, "residue_sink"):
        sinks.append(("final.residue_sink", mech.final.residue_sink, True))  # type: ignore[union-attr]
    for key, sink, may_be_bad_debt in sinks:
        if sink not in balances and not (may_be_bad_debt and sink == "bad_debt"):
            raise MechanismError(f"{origin}: key {key}: {sink!r} is not a balance layer of this "
                                 f"mechanism (layers: {', '.join(sorted(balances)) or 'none'})",
                                 file=origin, key=key)


def catalogue() -> dict[str, Path]:
    """The bundled mechanism files by id (file stem)."""
    return {p.stem: p for p in sorted(MECHANISMS_DIR.glob("*.toml"))}


def scenario_mechanism(sc: "Scenario") -> Mechanism:
    """The mechanism a scenario names (catalogue id or path); E-SCENARIO if it names none."""
    if not sc.mechanism:
        raise ScenarioError(f"{sc.path}: key mechanism: the scenario names no mechanism; pass --mechanism",
                            file=sc.path, key="mechanism")
    name = sc.mechanism
    if name not in catalogue() and not Path(name).is_absolute() and sc.path and Path(sc.path).is_file():
        beside = Path(sc.path).parent / name  # a relative path is relative to the scenario's folder
        if beside.exists():
            name = str(beside)
    if name not in catalogue() and not name.endswith(".toml") and not Path(name).exists():
        # R-CLI-9: the id of a user's mechanism file names nothing outside that file
        guess = [p for p in (Path(f"{name}.toml"), Path(sc.path).parent / f"{name}.toml" if sc.path else None)
                 if p is not None and p.is_file()]
        hint = f" --mechanism {guess[0]}" if guess else " --mechanism FILE.toml"
        raise ScenarioError(f"{sc.path}: key mechanism: {name!r} is not a catalogue id: a scenario saved from your "
                            f"own mechanism file is run with its file: add{hint}"
                            + ("" if guess else closest(name, list(catalogue()))),
                            file=sc.path, key="mechanism")
    return resolve_mechanism(name)


def names_mechanism(sc: "Scenario", mech: Mechanism) -> bool:
    """R-RUN-3: whether the scenario was written for `mech`: it names its id, or a catalogue
    entry or file of that id (a scenario saved from a mechanism file names the file's id,
    which only that file resolves)."""
    if not sc.mechanism:
        return False
    if sc.mechanism == mech.id:
        return True
    try:
        return scenario_mechanism(sc).id == mech.id
    except (MechanismError, ScenarioError):  # names a user's file by its id: not this one
        return False


def resolve_mechanism(name: str) -> Mechanism:
    """A catalogue id or a path to a TOML file."""
    cat = catalogue()
    if name in cat:
        return load_mechanism(cat[name])
    if not Path(name).exists() and Path(name).suffix == ".toml" and Path(name).stem in cat:
        raise MechanismError(f"{name}: no such file; the catalogue mechanism {Path(name).stem!r} is named by its "
                             f"id from any folder: {Path(name).stem}", file=name, key=name)
    if name.endswith(".toml") or Path(name).exists():
        return load_mechanism(name)
    raise MechanismError(f"no mechanism {name!r}: not a catalogue id nor a file{closest(name, list(cat))}",
                         key=name)


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: initial state, operations and what is expected (spec/scenario.md)."""

    name: str
    state: State
    ops: tuple[Op, ...]
    mechanism: str | None = None
    mechanisms: tuple[str, ...] = ()
    description: str = ""
    expect: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def bundled_scenarios() -> dict[str, Path]:
    """The scenarios shipped with the package by name (file stem): stress scenarios, then
    documented findings and regressions (spec/scenarios, spec/findings, spec/regressions)."""
    found: dict[str, Path] = {}
    for directory in (SCENARIOS_DIR, FINDINGS_DIR, REGRESSIONS_DIR):
        for p in sorted(directory.glob("*.json")):
            found.setdefault(p.stem, p)
    return found


def resolve_scenario(name: str) -> Scenario:
    """A scenario file, or the name of a bundled one (`fund-empty`); E-SCENARIO with the
    closest name otherwise."""
    known = bundled_scenarios()
    if not Path(name).exists() and Path(name).stem in known and name != Path(name).stem:
        raise ScenarioError(f"{name}: no such file; the bundled scenario {Path(name).stem!r} is run by its name "
                            f"from any folder: {Path(name).stem}", file=name)
    if name.endswith(".json") and not Path(name).exists():
        from difflib import get_close_matches
        near = get_close_matches(Path(name).stem, list(known), n=1, cutoff=0.8)
        if near:
            raise ScenarioError(f"{name}: no such file; the closest bundled scenario is {near[0]!r}, run by its "
                                f"name from any folder: {near[0]}", file=name)
    if name.endswith(".json") or Path(name).exists():
        return load_scenario(name)
    if name in known:
        return load_scenario(known[name])
    raise ScenarioError(f"no scenario {name!r}: not a file nor a bundled scenario{closest(name, list(known))}",
                        file=name)


def check_state_counts(doc: Any, origin: str, error: type[WaterfallError], key: str = "state") -> None:
    """R-FMT-5: markets, accounts, layer balances and contributions of the state at `key`."""
    for part, limit in (("markets", MAX_MARKETS), ("accounts", MAX_ACCOUNTS), ("layers", MAX_STATE_LAYERS),
                        ("default_fund", MAX_ACCOUNTS)):
        check_count(doc, f"{key}.{part}", limit, origin, error)
    accounts = doc.get(key, {}).get("accounts") if isinstance(doc, dict) and isinstance(doc.get(key), dict) else None
    for i, a in enumerate(accounts if isinstance(accounts, list) else []):
        if isinstance(a, dict) and isinstance(a.get("positions"), list) and len(a["positions"]) > MAX_MARKETS:
            where = f"{key}.accounts[{i}].positions"
            raise error(f"{origin}: key {where}: {len(a['positions'])} entries, more than the limit of "
                        f"{MAX_MARKETS}", file=origin, key=where)


def load_scenario(path: str | Path) -> Scenario:
    """R-FMT-4: read and validate a scenario; ScenarioError names file and JSON path."""
    return scenario_from_doc(read_doc(path, ScenarioError, "JSON", strict_json), str(path))


def check_named_mechanisms(sc: Scenario, given: Sequence[Mechanism] = ()) -> None:
    """R-FMT-4 / R-RUN-3: `mechanism` and `mechanisms` of a scenario name catalogue ids or
    files, or the id of a mechanism the command was given (a scenario saved from a mechanism
    file names the file's id), even when another mechanism is chosen with --mechanism: a typo
    is an error naming the key, not silently ignored."""
    ids = {m.id for m in given}
    names = ([("mechanism", sc.mechanism)] if sc.mechanism else []) + \
        [(f"mechanisms[{i}]", m) for i, m in enumerate(sc.mechanisms)]
    for key, name in names:
        if name in ids:
            continue
        try:
            if key == "mechanism":
                scenario_mechanism(sc)
            elif name not in catalogue():
                resolve_mechanism(str(Path(sc.path).parent / name) if (Path(sc.path).parent / name).exists()
                                  else name)
        except ScenarioError:
            raise
        except WaterfallError as e:
            raise ScenarioError(f"{sc.path}: key {key}: {e}", file=sc.path, key=key) from None


def scenario_from_doc(doc: Any, origin: str = "<scenario>") -> Scenario:
    """R-FMT-4: bounds (R-FMT-5), schema check, then state checks (R-STATE-5), then `expect`
    names known accounts."""
    reject_floats(doc, origin, ScenarioError)
    check_state_counts(doc, origin, ScenarioError)
    check_count(doc, "ops", MAX_OPS, origin, ScenarioError)
    problems = schema_errors(schema("scenario"), doc)
    if problems:
        raise ScenarioError(listed(origin, problems), file=origin, key=problems[0][0])
    try:
        state = validate_state(state_from_json(doc["state"]))
    except WaterfallError as e:
        raise ScenarioError(f"{origin}: state: {e}", file=origin, key="state") from None
    expect = doc.get("expect", {})
    for part in ("collateral", "equity", "positions"):
        for aid in expect.get(part, {}):
            if aid not in state.accounts:
                key = f"expect.{part}.{aid}"
                raise ScenarioError(f"{origin}: {key}: no account {aid!r} in the state", file=origin, key=key)
    for aid, by_market in expect.get("positions", {}).items():
        for m in by_market:
            if m not in state.markets:
                key = f"expect.positions.{aid}.{m}"
                raise ScenarioError(f"{origin}: {key}: no market {m!r} in the state", file=origin, key=key)
    for i, fill in enumerate(expect.get("fills", [])):
        for part, known in (("account", state.accounts), ("market", state.markets)):
            if fill[part] not in known:
                key = f"expect.fills[{i}].{part}"
                raise ScenarioError(f"{origin}: {key}: no {part} {fill[part]!r} in the state", file=origin, key=key)
    seed = doc.get("seed", "0")
    return Scenario(name=doc["name"], state=state, ops=tuple(op_from_json(o, seed) for o in doc["ops"]),
                    mechanism=doc.get("mechanism"), mechanisms=tuple(doc.get("mechanisms", ())),
                    description=doc.get("description", ""), expect=doc.get("expect", {}), path=origin)
