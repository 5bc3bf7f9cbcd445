"""Readable before/after ledgers per account and per layer (used by `waterfall run`)."""
from __future__ import annotations

from waterfall.model.events import Event
from waterfall.model.state import State, account_upnl, equity


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table: numeric columns right-aligned, text columns left-aligned."""
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    numeric = [all(r[i].lstrip("+-").isdigit() or r[i] == "" for r in rows) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)).rstrip()
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


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
