"""`waterfall init FILE --family F`: a commented mechanism file to start a design from
(R-MECH-4), for a protocol designer's first step.

The file is a catalogue mechanism of that family written out in full: every key that applies
where it is written (R-MECH-2), including the ones left at their defaults, each preceded by its description and allowed values from
spec/schemas/mechanism.schema.json (so the schema is the one place they are written). Its
first line is a Taplo `#:schema` directive, so editors complete and explain keys. It loads
as is and behaves as the catalogue entry it came from until you change it.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from waterfall.model.errors import MechanismError, closest
from waterfall.model.loader import catalogue, fee_applies, layer_key_applies, load_mechanism
from waterfall.model.mechanism import Mechanism
from waterfall.spec import SCHEMAS_DIR
from waterfall.cli.args import out_file

from waterfall.report.hints import quoted

# family -> (catalogue mechanism it starts from, one line on what it is)
FAMILIES = {
    "haircut": ("generic-socialized-loss", "insurance fund, then a pro-rata haircut of profits (socialised loss)"),
    "levy": ("drift-v2", "insurance fund and fee pool, then a levy on open interest (Drift v2)"),
    "adl": ("bitmex-adl", "per-market insurance fund, then auto-deleveraging of ranked opposite positions (BitMEX)"),
    "clearing-house": ("clearing-house-vmgh", "defaulter resources, CCP capital, default fund, assessments, then "
                                              "variation-margin gains haircutting"),
}
SCHEMA_FILE = SCHEMAS_DIR / "mechanism.schema.json"


def add_parser(sub: Any) -> None:
    """Register the `init` subcommand."""
    i = sub.add_parser("init", help="write a commented mechanism file to start a design from")
    i.add_argument("file", metavar="FILE", type=out_file, help="the mechanism file to write (its stem is the id)")
    i.add_argument("--family", required=True, metavar="|".join(FAMILIES),
                   help="; ".join(f"{k}: {v[1]}" for k, v in FAMILIES.items()))
    i.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    i.set_defaults(func=cmd_init)


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def final_keys(doc: dict[str, Any], policy: str) -> dict[str, Any]:
    """The schema's properties of one final policy."""
    branch = next(b for b in doc["properties"]["final"]["allOf"] if b["if"]["properties"]["policy"]["const"] == policy)
    return {**branch["then"]["properties"], "policy": doc["properties"]["final"]["properties"]["policy"]}


def comment(prop: dict[str, Any], indent: str = "") -> list[str]:
    """A key's description and allowed values as comment lines."""
    text = prop.get("description", "")
    if "enum" in prop:
        text += " Allowed: " + ", ".join(map(str, prop["enum"])) + "."
    elif "minimum" in prop or "maximum" in prop:
        text += f" Range: {prop.get('minimum', '')} .. {prop.get('maximum', '')}."
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > 92 - len(indent):
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return [f"{indent}# {ln}" for ln in lines + ([line] if line else [])]


def toml_value(v: Any) -> str:
    """A TOML literal for the values a mechanism file holds."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        one_line = "[" + ", ".join(toml_value(x) for x in v) + "]"
        return one_line if len(one_line) <= 80 else "[\n" + "".join(f"  {toml_value(x)},\n" for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def keyed(props: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Each key with its comment, then `key = value`; a table key (schema type object, held
    as (key, value) pairs) as an inline table; a key whose default means 'none' (an empty
    name, an empty list the schema requires non-empty) is left out."""
    out: list[str] = []
    for k, v in values.items():
        prop = props.get(k, {})
        if v == "" or (v == () and prop.get("minItems", 0) > 0):
            continue
        text = ("{ " + ", ".join(f"{json.dumps(a)} = {toml_value(b)}" for a, b in v) + " }" if v else "{}") \
            if prop.get("type") == "object" else toml_value(v)
        out += comment(prop) + [f"{k} = {text}", ""]
    return out


def schema_directive(dest: Path) -> str:
    """Taplo's `#:schema` line: the schema file relative to FILE's folder when they share a
    root, else its absolute path."""
    try:
        return "#:schema " + os.path.relpath(SCHEMA_FILE, dest.resolve().parent)
    except ValueError:  # another drive (Windows)
        return "#:schema " + SCHEMA_FILE.as_uri()


def render(dest: Path, family: str) -> str:
    """The commented mechanism file for `family`, with id = FILE's stem."""
    base_id, what = FAMILIES[family]
    base: Mechanism = load_mechanism(catalogue()[base_id])
    sch = schema()
    props = sch["properties"]
    mid = dest.stem
    out = [schema_directive(dest), *comment({"description": f"A {family} mechanism: {what}. Written by "
                                                            f"`waterfall init --family {family}` from the catalogue's "
                                                            f"{base_id}; it behaves like it until you change it. "
                                                            "Check it as you go:"}),
           f"#   waterfall mechanisms {dest.name}             # validates, shows the result",
           f"#   waterfall verify --mechanism {dest.name}     # stress scenarios x invariants",
           f"#   waterfall prove --mechanism {dest.name}      # Z3 and all-N proofs of the claims",
           "# Every key that applies is written out, defaults included; the format is explained by\n# `waterfall docs mechanisms` (spec/mechanisms.md in the installed package).", ""]
    top = {"format": "waterfall-mechanism", "version": 1, "id": mid, "name": f"{mid}: {what}",
           "family": tomllib.loads(Path(base.path).read_text(encoding="utf-8"))["family"],
           "description": f"Started from {base_id} ({family}). Say here what this design models and what it "
                          "simplifies.",
           "claims": [c for c in base.claims if c not in base.relations], "relations": list(base.relations)}
    out += keyed(props, top)
    out += ["[source]"] + comment(props["source"])
    out += keyed(props["source"]["properties"], {
        "references": [f"waterfall init template (catalogue {base_id}): replace with the sources of your design"],
        "unverified": ["every parameter is the template's until a source for it is named here"]})
    out += ["[liquidation]"] + comment(props["liquidation"])
    out += keyed(props["liquidation"]["properties"],
                 {k: v for k, v in vars(base.liquidation).items() if k != "fee_ppm" or fee_applies(base.liquidation.surplus)})
    layer_props = props["layers"]["items"]["properties"]
    for spec in base.layers:
        keys = {k: v for k, v in vars(spec).items() if layer_key_applies(k, spec.kind)}
        out += ["[[layers]]"] + comment(props["layers"]) + keyed(layer_props, keys)
    policy = type(base.final).__name__.lower().replace("baddebtonly", "bad_debt")
    out += ["[final]"] + comment(props["final"])
    out += keyed(final_keys(sch, policy), {"policy": policy, **vars(base.final)})
    return "\n".join(out).rstrip() + "\n"


def cmd_init(args: Any) -> int:
    """Write the file; refuse to overwrite without --force; check it loads."""
    if args.family not in FAMILIES:
        raise MechanismError(f"unknown family {args.family!r}{closest(args.family, list(FAMILIES))}",
                             key="--family")
    dest = Path(args.file)
    if dest.suffix != ".toml":
        raise MechanismError(f"{dest}: a mechanism file ends in .toml", file=dest)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", dest.stem):
        raise MechanismError(f"{dest}: the file's stem is the mechanism id: lower case letters, digits and "
                             f"hyphens (e.g. my-venue.toml)", file=dest)
    if dest.exists() and not args.force:
        raise MechanismError(f"{dest}: exists; pass --force to overwrite it", file=dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(render(dest, args.family), encoding="utf-8")
    mech = load_mechanism(dest)
    print(f"wrote {dest}: {mech.id}, a {args.family} mechanism started from {FAMILIES[args.family][0]} "
          f"({len(mech.layers)} layers, {len(mech.claims)} claims); next: waterfall verify --mechanism {quoted(dest)}")
    return 0
