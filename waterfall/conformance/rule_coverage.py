"""What a conformance pass covers (R-KIT-1): the rules of the model (spec/rules.md, sections
1 to 8) the vectors that ran exercised for the implementation's announced mechanisms, and
those they did not. A rule is exercised by a step whose expected events name it (R-EVT-3's
`rule` field), by an applied step of the operation the rule defines (set_mark: R-OP-4, which
makes no event), or by a step whose expected refusal is an error code the rule's text names
(E-BOUND: R-UNIT-3); R-ERR-1 by any refusal. Rules no step names are listed as not
exercised: a pass says nothing about them (or shows them only through the balances compared).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from waterfall.spec import SPEC_DIR

RULES_MD = SPEC_DIR / "rules.md"
RULE_ID = r"R-[A-Z]+-\d+[a-z]?"  # a rule ID (R-XXX-n, R-XXX-na): the one pattern of this and reach.py
ROW = re.compile(rf"^\| ({RULE_ID}) \|(.*)$")
CODE = re.compile(r"E-[A-Z][A-Z-]*[A-Z]")
LAST_MODEL_SECTION = 8  # "## 8. Errors (R-ERR)"; 9 onwards: files, proofs and tools


def model_rules() -> dict[str, str]:
    """The rules of sections 1..8 of spec/rules.md (the model's), id -> text, in page order: the
    one definition of which rules count, for a conformance pass (R-KIT-1) and for the vectors'
    reach (waterfall/conformance/reach.py, the manifest's rule counts)."""
    rules: dict[str, str] = {}
    section = 0
    for line in RULES_MD.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^## (\d+)", line)
        if head:
            section = int(head.group(1))
        row = ROW.match(line)
        if row and 1 <= section <= LAST_MODEL_SECTION:
            rules[row.group(1)] = row.group(2)
    return rules


# operation kind -> the rule families that can refuse it (besides R-UNIT's bounds)
OP_RULES = {"deposit": ("R-OP-1",), "withdraw": ("R-OP-2",), "trade": ("R-OP-3",), "set_mark": ("R-OP-4",),
            "funding": ("R-OP-5",), "liquidate": ("R-LIQ-",), "advance_time": ("R-TIME-",),
            "deleverage": ("R-POOL-",)}


# operation kind -> the rule that defines it (exercised by any applied step of that kind)
OP_OWN = {"deposit": "R-OP-1", "withdraw": "R-OP-2", "trade": "R-OP-3", "set_mark": "R-OP-4", "funding": "R-OP-5",
          "liquidate": "R-LIQ-1", "advance_time": "R-TIME-1", "deleverage": "R-POOL-3"}


def refusing_families(op: str, mechanism: dict[str, Any]) -> tuple[str, ...]:
    """The rule-id prefixes that can refuse operation `op` under `mechanism` (R-WH-3's
    warm-up check only under a withdrawal haircut)."""
    extra = ("R-WH-",) if op == "withdraw" and mechanism.get("final", {}).get("policy") == "withdrawal_haircut" else ()
    return ("R-UNIT-",) + OP_RULES.get(op, ()) + extra


def rules_naming(code: str, rules: dict[str, str], families: tuple[str, ...]) -> list[str]:
    """The rules of `families` whose text names an error code (R-ERR-* name every code)."""
    return [r for r, text in rules.items() if code in CODE.findall(text)
            and any(r == f or (f.endswith("-") and r.startswith(f)) for f in families)]


def exercised(docs: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """rule -> how the vectors exercised it ('event' and/or the error codes that name it)."""
    rules = model_rules()
    out: dict[str, set[str]] = {}
    for doc in docs:
        for st in doc["steps"]:
            e = st["expect"]
            if e["ok"]:
                own = OP_OWN.get(st["op"]["op"])
                if own in rules:  # the operation's own rule (set_mark makes no event, R-OP-4)
                    out.setdefault(own, set()).add("applied")
                for ev in e["events"]:
                    if ev.get("rule") in rules:
                        out.setdefault(ev["rule"], set()).add("event")
            else:
                out.setdefault("R-ERR-1", set()).add(e["error"])
                for r in rules_naming(e["error"], rules, refusing_families(st["op"]["op"], doc["mechanism"])):
                    out.setdefault(r, set()).add(e["error"])
    return out


def ranges(ids: list[str]) -> str:
    """R-ADL-1, R-ADL-2, R-ADL-3, R-HC-1 -> 'R-ADL-1..3, R-HC-1' (ids in page order)."""
    groups: list[tuple[str, int, int, str]] = []
    for rid in ids:
        m = re.match(r"^(R-[A-Z]+)-(\d+)$", rid)
        if m and groups and groups[-1][0] == m.group(1) and groups[-1][2] + 1 == int(m.group(2)) and not groups[-1][3]:
            fam, lo, _, _ = groups[-1]
            groups[-1] = (fam, lo, int(m.group(2)), "")
        elif m:
            groups.append((m.group(1), int(m.group(2)), int(m.group(2)), ""))
        else:
            groups.append((rid, 0, 0, rid))
    return ", ".join(g[3] or (f"{g[0]}-{g[1]}" if g[1] == g[2] else f"{g[0]}-{g[1]}..{g[2]}") for g in groups)


def coverage(docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """R-KIT-1: the model's rules exercised by these vectors (with how) and not exercised."""
    rules = model_rules()
    hit = exercised(docs)
    return {"exercised": {r: sorted(hit[r]) for r in rules if r in hit},
            "not_exercised": [r for r in rules if r not in hit], "rules": len(rules)}


def text(cov: dict[str, Any], mechanisms: list[str]) -> str:
    """The closing lines of `conform`: which rules the steps that ran exercised, which not."""
    ex = cov["exercised"]
    by_event = [r for r, how in ex.items() if "event" in how]
    by_applied = [r for r, how in ex.items() if "applied" in how]
    by_refusal = [f"{r} ({', '.join(h for h in how if h not in ('event', 'applied'))})" for r, how in ex.items()
                  if any(h not in ("event", "applied") for h in how)]
    who = ", ".join(mechanisms) or "no mechanism"
    lines = [f"rules exercised for {who} (R-KIT-1): {len(ex)} of the model's {cov['rules']} rules (spec/rules.md 1-8)",
             f"  by expected events: {ranges(by_event) or 'none'}",
             f"  by applied operations: {ranges(by_applied) or 'none'}",
             f"  by expected refusals: {', '.join(by_refusal) or 'none'}",
             f"  not exercised by any step that ran ({len(cov['not_exercised'])}; a pass says nothing about them, "
             f"or shows them only through the balances compared): {ranges(cov['not_exercised']) or 'none'}"]
    return "\n".join(lines)
