"""Comparing mechanisms on one scenario: who bore the loss, and how fairly (`waterfall compare`).

Everything is read from a replay (model.replay.run): the pre/post states and the events of
every step (R-EVT-1/3). Money is exact integers; ratios are `fractions.Fraction`, shown as
decimals with a fixed number of digits only when printed.

Figures per mechanism (definitions repeated in `DEFINITIONS`, printed with the tables):

* per account: equity before (first pre-state) and after (last post-state) (R-PNL-3); what
  it paid: haircut (R-HC-2), levy (R-LEVY-2), assessment (R-CH-3), and the ADL cost of the
  lots it was closed on (R-ADL-1): lots x (fill price - mark) against it, i.e. the equity it
  lost by being closed at the fill price instead of at mark;
* loss borne per layer: draws R-WF-3 (balance layers) and R-CH-1/2 (default fund) by layer
  name; socialised: haircut, levy, assessment, ADL cost; residue (R-HC-4); bad debt (R-WF-5);
* overshoot: money collected beyond the deficit (R-HC-3, R-LEVY-3 transfers, and for ADL
  the ADL cost above the bankrupt's deficit at mark, max(0, cost - max(0, -equity))), and
  ADL lots closed beyond the bankrupt's own position (R-ADL-1 says none; counted anyway);
* largest share: max over accounts of paid / total socialised;
* accounts touched: paid > 0 or deleveraged (ADL lots > 0);
* PTSR-style and PMR-style ratios: the exact definitions of Chitra, "Autodeleveraging:
  Impossibilities and Optimization" (arXiv 2512.01112), could not be retrieved here, so these
  are our own ratios in the spirit of that paper, on its haircutable endowment, the haircut
  base of R-HC-1: w_i = max(0, min(PnL_i, equity_i)) (unrealised PnL at mark, capped at the
  account's equity, on the pre-state of the first liquidation, bankrupt accounts excluded):
  profit an account cannot pay out of its equity is not haircutable, so an account whose
  base is 0 adds nothing to W;
  PTSR-style = max over paying accounts of (paid_i / P) / (w_i / W), the worst share of the
  socialised loss P relative to the share of profit W (1 = exact wealth pro-rata);
  PMR-style = max over paying accounts of paid_i / w_i, the largest fraction of its own
  profit an account lost (> 1: principal taken). Either is `UNBOUNDED` when an account with
  no profit paid, and None when nothing was socialised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Sequence

from waterfall.model.events import Event
from waterfall.model.loader import Scenario
from waterfall.model.mechanism import Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.replay import StepResult, run
from waterfall.model.state import State, account_upnl, equity
from waterfall.report.ledger import signed
from waterfall.report.render import md_table

UNBOUNDED = "unbounded"
Ratio = Fraction | str | None
DIGITS = 4
LAYER_RULES = ("R-WF-3", "R-CH-1", "R-CH-2")
PAID_RULES = {"R-HC-2": "haircut", "R-LEVY-2": "levy", "R-CH-3": "assessment"}
OVERSHOOT_RULES = ("R-HC-3", "R-LEVY-3")

DEFINITIONS = (
    "paid = haircut (R-HC-2) + levy (R-LEVY-2) + assessment (R-CH-3) + ADL cost (R-ADL-1: lots x "
    "(fill - mark) against the account); socialised = total paid; largest share = max paid / "
    "socialised; touched = paid > 0 or deleveraged; overshoot = R-HC-3/R-LEVY-3 over-collection + "
    "ADL cost beyond the bankrupt's deficit at mark; w = haircut base max(0, min(uPnL, equity)) before the "
    "first liquidation (R-HC-1); "
    "PTSR-style = max over payers of (paid/socialised) / (w/sum w) (1 = wealth pro-rata); "
    "PMR-style = max over payers of paid / w; 'inf' = an account without profit paid. "
    "PTSR/PMR are '-style' ratios of our own definition: Chitra (arXiv 2512.01112) names them, "
    "its exact formulas were not available.")


@dataclass
class AccountOutcome:
    """One account under one mechanism: equity before/after and what it paid (R-HC-2,
    R-LEVY-2, R-CH-3, R-ADL-1)."""

    account: str
    equity_before: int = 0
    equity_after: int = 0
    haircut: int = 0
    levy: int = 0
    assessment: int = 0
    adl_cost: int = 0
    adl_lots: int = 0
    profit: int = 0

    @property
    def change(self) -> int:
        """Equity after - before (R-PNL-3)."""
        return self.equity_after - self.equity_before

    @property
    def paid(self) -> int:
        """Haircut + levy + assessment + ADL cost."""
        return self.haircut + self.levy + self.assessment + self.adl_cost

    @property
    def touched(self) -> bool:
        """Paid something or was deleveraged."""
        return self.paid > 0 or self.adl_lots > 0


@dataclass
class Comparison:
    """One scenario under one mechanism: outcomes, loss by layer and socialisation, overshoot."""

    scenario: str
    mechanism: str
    accounts: dict[str, AccountOutcome] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    residue: int = 0
    bad_debt: int = 0
    overshoot: int = 0
    overshoot_lots: int = 0
    bankrupts: tuple[str, ...] = ()
    refused: int = 0

    def socialised(self) -> dict[str, int]:
        """Loss charged to accounts by kind (haircut, levy, assessment, adl)."""
        acc = self.accounts.values()
        return {"haircut": sum(a.haircut for a in acc), "levy": sum(a.levy for a in acc),
                "assessment": sum(a.assessment for a in acc), "adl": sum(a.adl_cost for a in acc)}

    def total_socialised(self) -> int:
        """Sum of what accounts paid."""
        return sum(a.paid for a in self.accounts.values())

    def deficit(self) -> int:
        """Deficit met or written off: layers + socialised + residue + bad debt - overshoot."""
        return sum(self.layers.values()) + self.total_socialised() + self.residue + self.bad_debt - self.overshoot

    def touched(self) -> int:
        """Number of accounts that paid or were deleveraged."""
        return sum(1 for a in self.accounts.values() if a.touched)

    def max_share(self) -> Fraction | None:
        """Largest single paid / total socialised (None if nothing socialised)."""
        total = self.total_socialised()
        if total <= 0:
            return None
        return max(Fraction(a.paid, total) for a in self.accounts.values())

    def ptsr_style(self) -> Ratio:
        """PTSR-style: max over payers of (paid / socialised) / (w / W); see module doc."""
        total = self.total_socialised()
        wealth = sum(a.profit for a in self.accounts.values())
        return worst_ratio([(a.paid * wealth, a.profit * total) for a in self.payers()], total)

    def pmr_style(self) -> Ratio:
        """PMR-style: max over payers of paid / w; see module doc."""
        return worst_ratio([(a.paid, a.profit) for a in self.payers()], self.total_socialised())

    def payers(self) -> list[AccountOutcome]:
        """Accounts that paid a positive amount."""
        return [a for a in self.accounts.values() if a.paid > 0]


def worst_ratio(pairs: Sequence[tuple[int, int]], total: int) -> Ratio:
    """max num/den over the pairs; UNBOUNDED if a den is 0; None if nothing socialised."""
    if total <= 0 or not pairs:
        return None
    if any(den <= 0 for _, den in pairs):
        return UNBOUNDED
    return max(Fraction(num, den) for num, den in pairs)


def compare(scenario: Scenario, mechs: Iterable[Mechanism]) -> list[Comparison]:
    """Run the scenario under each mechanism (R-RUN-2) and measure each run."""
    return [measure(scenario.name, mech.id, run(scenario, mech)) for mech in mechs]


def measure(name: str, mech_id: str, results: list[StepResult]) -> Comparison:
    """All figures of one run, from its states and events (R-EVT-1)."""
    out = Comparison(name, mech_id)
    if not results:
        return out
    first, last = results[0].pre, results[-1].post
    for aid in sorted(set(first.accounts) | set(last.accounts)):
        out.accounts[aid] = AccountOutcome(aid, equity_of(first, aid), equity_of(last, aid))
    liquidations = [r for r in results if isinstance(r.op, Liquidate) and r.error is None]
    out.bankrupts = tuple(dict.fromkeys(r.op.account for r in liquidations))  # type: ignore[union-attr]
    out.refused = sum(1 for r in results if r.error is not None)
    if liquidations:
        base = liquidations[0].pre
        for aid, a in out.accounts.items():
            if aid not in out.bankrupts and aid in base.accounts:
                acct = base.accounts[aid]
                a.profit = max(0, min(account_upnl(base, acct), equity(base, acct)))  # R-HC-1 base
    for r in results:
        for e in r.events:
            book_transfer(out, e)
        if isinstance(r.op, Liquidate) and r.error is None:
            book_adl(out, r)
    return out


def equity_of(state: State, aid: str) -> int:
    """R-PNL-3 of an account, 0 if it does not exist."""
    a = state.accounts.get(aid)
    return equity(state, a) if a else 0


def book_transfer(out: Comparison, e: Event) -> None:
    """R-WF-3, R-CH-1/2 (layer draws), R-HC-2, R-LEVY-2, R-CH-3 (paid), R-HC-3/R-LEVY-3
    (overshoot), R-HC-4 (residue), R-WF-5 (bad debt)."""
    if e.rule in LAYER_RULES:
        out.layers[e.layer] = out.layers.get(e.layer, 0) + e.amount
    elif e.rule in PAID_RULES:
        payer = out.accounts[e.src.removeprefix("account:")]
        kind = PAID_RULES[e.rule]
        setattr(payer, kind, getattr(payer, kind) + e.amount)
    elif e.rule in OVERSHOOT_RULES:
        out.overshoot += e.amount
    elif e.rule == "R-HC-4":
        out.residue += e.amount
    elif e.rule == "R-WF-5":
        out.bad_debt += e.amount


def book_adl(out: Comparison, r: StepResult) -> None:
    """R-ADL-1 fills of one liquidation: each counterparty's cost, quote - lots x mark
    against it and its lots; overshoot beyond the bankrupt's deficit at mark and lots
    beyond its position."""
    bankrupt = r.op.account  # type: ignore[union-attr]
    me = "account:" + bankrupt
    cost = 0
    lots: dict[str, int] = {}
    for e in r.events:
        if e.rule != "R-ADL-1":
            continue
        mark = r.pre.markets[e.market].mark
        buyer = e.dst != me
        other = out.accounts[(e.dst if buyer else e.src).removeprefix("account:")]
        c = e.amount - e.size * mark if buyer else e.size * mark - e.amount  # quote vs value (R-ADL-8)
        other.adl_cost += c
        other.adl_lots += e.size
        cost += c
        lots[e.market] = lots.get(e.market, 0) + e.size
    if not lots:
        return
    deficit = max(0, -equity_of(r.pre, bankrupt))
    out.overshoot += max(0, cost - deficit)
    positions = r.pre.accounts[bankrupt].positions
    out.overshoot_lots += sum(max(0, n - abs(positions[m].size if m in positions else 0)) for m, n in lots.items())


def fmt_ratio(x: Ratio, digits: int = DIGITS) -> str:
    """A ratio as a decimal with `digits` digits (half up), 'inf' if unbounded, '-' if none."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return "inf"
    scaled = (abs(x.numerator) * 10 ** digits * 2 + x.denominator) // (2 * x.denominator)
    sign = "-" if x < 0 and scaled else ""
    whole, frac = divmod(scaled, 10 ** digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def ratio_json(x: Ratio) -> dict[str, str] | None:
    """A ratio as exact fraction and decimal strings; None if not applicable."""
    if x is None:
        return None
    if isinstance(x, str):
        return {"fraction": "inf", "decimal": "inf"}
    return {"fraction": f"{x.numerator}/{x.denominator}", "decimal": fmt_ratio(x)}


def to_json(c: Comparison) -> dict[str, Any]:
    """JSON form: integers as decimal strings (R-FMT-1), ratios as fraction and decimal."""
    return {
        "scenario": c.scenario, "mechanism": c.mechanism, "bankrupts": list(c.bankrupts),
        "refused_steps": c.refused,
        "accounts": [{"account": a.account, "equity_before": str(a.equity_before),
                      "equity_after": str(a.equity_after), "change": str(a.change),
                      "haircut": str(a.haircut), "levy": str(a.levy), "assessment": str(a.assessment),
                      "adl_cost": str(a.adl_cost), "adl_lots": str(a.adl_lots), "paid": str(a.paid),
                      "profit": str(a.profit)} for a in c.accounts.values()],
        "layers": {k: str(v) for k, v in sorted(c.layers.items())},
        "socialised": {k: str(v) for k, v in c.socialised().items()},
        "total_socialised": str(c.total_socialised()), "residue": str(c.residue),
        "bad_debt": str(c.bad_debt), "deficit": str(c.deficit()),
        "overshoot": str(c.overshoot), "overshoot_lots": str(c.overshoot_lots),
        "touched": c.touched(), "max_share": ratio_json(c.max_share()),
        "ptsr_style": ratio_json(c.ptsr_style()), "pmr_style": ratio_json(c.pmr_style()),
    }


SUMMARY_HEADER = ["scenario", "mechanism", "layers", "socialised", "bad debt", "overshoot",
                  "touched", "max share", "PTSR-style", "PMR-style"]


def summary_row(c: Comparison) -> list[str]:
    """One line of the summary table."""
    return [c.scenario, c.mechanism, str(sum(c.layers.values())), str(c.total_socialised()),
            str(c.bad_debt), str(c.overshoot), str(c.touched()), fmt_ratio(c.max_share()),
            fmt_ratio(c.ptsr_style()), fmt_ratio(c.pmr_style())]


ACCOUNT_HEADER = ["account", "equity before", "equity after", "change", "haircut", "levy",
                  "assessment", "ADL cost", "ADL lots", "profit w"]


def account_rows(c: Comparison) -> list[list[str]]:
    """Per-account outcome rows (bankrupts marked with *)."""
    return [[a.account + ("*" if a.account in c.bankrupts else ""), str(a.equity_before), str(a.equity_after),
             signed(a.change), str(a.haircut), str(a.levy), str(a.assessment), str(a.adl_cost),
             str(a.adl_lots), str(a.profit)] for a in c.accounts.values()]


def loss_rows(c: Comparison) -> list[list[str]]:
    """Where the deficit went: each layer, each kind of socialisation, residue, bad debt,
    minus overshoot."""
    rows = [[f"layer {k}", str(v)] for k, v in sorted(c.layers.items())]
    rows += [[k, str(v)] for k, v in c.socialised().items() if v]
    rows += [[k, str(v)] for k, v in (("residue", c.residue), ("bad debt", c.bad_debt)) if v]
    if c.overshoot:
        rows.append(["overshoot (returned)", str(-c.overshoot)])
    rows.append(["deficit", str(c.deficit())])
    return rows


def compare_markdown(results: Sequence[Comparison], detail: bool = False) -> str:
    """A Markdown report section: the summary table, then (with `detail`) per-run tables."""
    lines = ["## Mechanism comparison", "", md_table(SUMMARY_HEADER, [summary_row(c) for c in results]), "",
             DEFINITIONS, ""]
    if detail:
        for c in results:
            lines += [f"### {c.scenario} under {c.mechanism}", "",
                      md_table(ACCOUNT_HEADER, account_rows(c)), "",
                      md_table(["loss borne by", "amount"], loss_rows(c)), ""]
    return "\n".join(lines)


