"""The report's section "What this proves, and what you trust" (R-REPORT-6): the sections
of docs/proofs.md that say it (the claim, the all-N statements, the trusted base, what is not
proved), read from the file itself as the package ships it, so the report and the page can
never say different things; the sizes this report actually used come first."""
from __future__ import annotations

import re
from typing import Any

from waterfall.docs import DOCS_DIR

PAGE = DOCS_DIR / "proofs.md"
# the headings of docs/proofs.md the section carries, in this order
HEADINGS = ("The claim", "All N", "The trusted base", "What is not proved")


def page_sections() -> dict[str, str]:
    """docs/proofs.md's level-2 sections by heading (the text up to the next level-2 heading)."""
    text = PAGE.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def sizes_used(accounts: int, markets: int, settings: dict[str, Any]) -> str:
    """What this report's evidence rests on, in one paragraph of Markdown."""
    return (f"In this report, **k = {accounts} accounts and m = {markets} "
            f"market{'s' if markets != 1 else ''}**: every `PROVED` cell is `PROVED N<={accounts} M<={markets}` "
            f"about `model.step` itself, as the claim below states, with a solver budget of "
            f"{settings.get('prove_timeout_seconds', '?')} s per mechanism and operation "
            f"(operations: {settings.get('operations', 'all')}). Fuzzing ({settings.get('fuzz', 'not run')}) and the "
            "all-N statements are shown but prove nothing about the code. The text below is "
            "`docs/proofs.md` as shipped with this version (`waterfall docs proofs`).")


def trust(accounts: int, markets: int, settings: dict[str, Any]) -> dict[str, Any]:
    """The section as the report's JSON carries it: the sizes, then each named section of
    docs/proofs.md in Markdown (a heading missing from the page is an error, not a gap)."""
    found = page_sections()
    sections = []
    for head in HEADINGS:
        title = next((t for t in found if t == head or t.startswith(head + " ")), None)
        if title is None:
            raise KeyError(f"{PAGE}: no section '## {head}' (the report's trust section reads it)")
        sections.append({"title": title, "markdown": found[title]})
    return {"source": "docs/proofs.md", "sizes": sizes_used(accounts, markets, settings), "sections": sections}
