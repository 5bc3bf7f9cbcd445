"""Readable before/after ledgers per account and per layer (used by `waterfall run`)."""
from __future__ import annotations

import os
import shutil
import sys

from waterfall.model.events import Event
from waterfall.model.state import State, account_upnl, equity


def terminal_width() -> int | None:
    """The width to fit tables to: the terminal's when stdout is one, else $COLUMNS if set,
    else None (a pipe or a file keeps whole lines for the tools reading it)."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() and int(cols) > 0 else None


def table(rows: list[list[str]], header: list[str], width: int | None = -1) -> str:
    """A plain text table: numeric columns right-aligned, text columns left-aligned. Wider
    than `width` (default: terminal_width()), its columns are split into blocks that fit,
    each repeating the first column (R-CLI-4)."""
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    numeric = [all(r[i].lstrip("+-").isdigit() or r[i] == "" for r in rows) for i in range(len(header))]
    limit = terminal_width() if width == -1 else width
    blocks, cols = [], list(range(1, len(header)))
    while cols:
        block = [0]
        while cols and (len(block) == 1 or limit is None
                        or sum(widths[i] + 2 for i in block) + widths[cols[0]] <= limit):
            block.append(cols.pop(0))
        blocks.append(block)

    def fmt(r: list[str], block: list[int]) -> str:
        return "  ".join(r[i].rjust(widths[i]) if numeric[i] else r[i].ljust(widths[i]) for i in block).rstrip()
    return "\n\n".join("\n".join([fmt(header, b), "  ".join("-" * widths[i] for i in b)] + [fmt(r, b) for r in rows])
                       for b in blocks or [[0]])


def ledger(before: State, after: State) -> str:
    """Accounts (collateral, unrealised PnL, equity before and after) and layers."""
    rows = []
    for aid in sorted(set(before.accounts) | set(after.accounts)):
        a0, a1 = before.accounts.get(aid), after.accounts.get(aid)
        e0 = equity(before, a0) if a0 else 0
        e1 = equity(after, a1) if a1 else 0
        rows.append([f"account {aid}", str(a0.collateral if a0 else 0), str(a1.collateral if a1 else 0),
                     str(account_upnl(after, a1) if a1 else 0), str(e0), str(e1), signed(e1 - e0)])
    for key in sorted(set(before.layers) | set(after.layers)):
        b0, b1 = before.layers.get(key, 0), after.layers.get(key, 0)
        rows.append([f"layer {key}", "", "", "", str(b0), str(b1), signed(b1 - b0)])
    for aid in sorted(set(before.default_fund) | set(after.default_fund)):
        b0, b1 = before.default_fund.get(aid, 0), after.default_fund.get(aid, 0)
        rows.append([f"default fund {aid}", "", "", "", str(b0), str(b1), signed(b1 - b0)])
    rows.append(["bad debt (recorded)", "", "", "", str(before.bad_debt), str(after.bad_debt),
                 signed(after.bad_debt - before.bad_debt)])
    header = ["", "collateral before", "collateral after", "uPnL after", "value before", "value after", "change"]
    return table(rows, header)


def signed(n: int) -> str:
    """An integer with an explicit sign, 0 as 0."""
    return f"{n:+d}" if n else "0"


def event_lines(events: list[Event]) -> str:
    """One line per event: rule, stage, from -> to, amount (and trade details)."""
    out = []
    for e in events:
        extra = f"  {e.size} lots @ {e.price} in {e.market}" if e.kind == "trade" else ""
        out.append(f"    {e.rule:<9} {e.layer:<15} {e.src} -> {e.dst}  {e.amount}{extra}")
    return "\n".join(out)
