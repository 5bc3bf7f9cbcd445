"""Deleveraging fills priced one by one, and the collateral check on the account that takes
one (R-ADL-8, R-ADL-6): dYdX v4.

Sources: dydxprotocol/v4-chain protocol/x/clob/keeper/liquidations.go
GetBankruptcyPriceInQuoteQuantums (quote = -DNNV - TNC x |DMMR| / TMMR, the one division
rounded toward minus infinity), deleveraging.go OffsetSubaccountPerpetualPosition (each
fill's quote computed on the subaccount as it is then; no fee), ProcessDeleveraging ->
x/subaccounts UpdateSubaccounts, lib/updates.go IsValidStateTransitionForUndercollateralizedSubaccount
and lib/margin/risk.go Risk.Cmp (the margin-ratio test).
"""
from __future__ import annotations

from .mechanism import Adl
from .state import margin_requirement, notional
from .tx import Tx
from .units import div_floor, ppm_of


def position_margin(tx: Tx, market: str, lots: int) -> int:
    """R-MARGIN-1 for one market: ceil(lots x mark x mm_ppm / 10^6)."""
    mk = tx.markets[market]
    return ppm_of(lots * mk.mark, mk.mm_ppm, up=True)


def bankruptcy_quote(size: int, q: int, mark: int, eq: int, released: int, total: int, value: int) -> int:
    """R-ADL-8: dYdX's bankruptcy quote for closing q lots of a position of `size`: what a
    long receives, q x mark - D, or what a short pays, q x mark + D (negative: it is paid),
    D = floor(eq x released / total) with `released` the maintenance requirement the q lots
    carry and `total` the account's; without any requirement (total 0) D = floor(eq x q x
    mark / value), `value` the account's notional.

    pre: size != 0 and 0 < q <= abs(size) and mark > 0 and 0 <= released <= total and value > 0
    """
    share = div_floor(eq * released, total) if total > 0 else div_floor(eq * q * mark, value)
    return q * mark - share if size > 0 else q * mark + share


def fill_quote(tx: Tx, aid: str, market: str, q: int) -> int:
    """R-ADL-8: the quote of a deleveraging fill of q lots on the bankrupt as it is now:
    bankruptcy_quote while its equity is < 0 (dYdX deleverages at the bankruptcy price only
    with negative total net collateral, deleveraging.go CanDeleverageSubaccount), else
    q x mark; a short's quote is at least q (a price of 1)."""
    view = tx.view()
    acct = tx.accounts[aid]
    size = acct.positions[market].size
    mark = tx.markets[market].mark
    eq = tx.equity(aid)
    quote = q * mark
    if eq < 0:
        released = position_margin(tx, market, abs(size)) - position_margin(tx, market, abs(size) - q)
        quote = bankruptcy_quote(size, q, mark, eq, released, margin_requirement(view, acct, initial=False),
                                 notional(view, acct))
    return quote if size > 0 else max(q, quote)


def transition_allowed(eq: int, mm: int, eq_after: int, mm_after: int) -> bool:
    """R-ADL-6b: dYdX's test for an account left below initial margin: its maintenance
    requirement does not grow and its ratio of equity to requirement does not fall
    (eq_after x mm >= eq x mm_after, cross-multiplied); with a zero requirement before or
    after, both must be zero and equity must rise."""
    if mm_after > mm:
        return False
    if mm_after == 0 or mm == 0:
        return mm_after == 0 and mm == 0 and eq_after > eq
    return eq_after * mm >= eq * mm_after


def passes_check(tx: Tx, policy: Adl, j: str, market: str, side: int, q: int, quote: int) -> bool:
    """R-ADL-6: may account `j` (holding sign `side`) take q lots at `quote`? 'equity': its
    equity afterwards is >= 0. 'margin_ratio' (dYdX): afterwards it meets its initial
    requirement, or transition_allowed holds."""
    eq = tx.equity(j)
    mark = tx.markets[market].mark
    eq_after = eq + side * (quote - q * mark)
    if policy.collateral_check == "equity":
        return eq_after >= 0
    view = tx.view()
    acct = tx.accounts[j]
    mk = tx.markets[market]
    lots = abs(acct.positions[market].size)
    im_after = (margin_requirement(view, acct, initial=True) - ppm_of(lots * mark, mk.im_ppm, up=True)
                + ppm_of((lots - q) * mark, mk.im_ppm, up=True))
    if eq_after >= im_after:
        return True
    mm = margin_requirement(view, acct, initial=False)
    mm_after = mm - position_margin(tx, market, lots) + position_margin(tx, market, lots - q)
    return transition_allowed(eq, mm, eq_after, mm_after)
