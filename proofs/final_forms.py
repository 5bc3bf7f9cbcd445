"""Each mechanism's final resort as a pure allocation function of (total, weights), for
`waterfall diff` (CrossHair diffbehavior).

`total` is the deficit D left after the layers; `weights` are the accounts' bases in account
id order (index i is account id f"{i:03d}", so equal remainders go to the smaller index):
the haircut base w (R-HC-1), the levy's lots |size| (R-LEVY-1), the ADL counterparties' sizes
already in ranking order (R-ADL-1). The result is what each account pays (or, for ADL, the
lots it takes). A form is a tuple of plain values so a generated module can embed it.
"""
from __future__ import annotations

from typing import Sequence

from waterfall.model.allocation import allocate, water_fill
from waterfall.model.errors import MechanismError
from waterfall.model.mechanism import Adl, BadDebtOnly, Haircut, Levy, Mechanism, Pool, WithdrawalHaircut
from waterfall.model.units import PPM, div_ceil, div_floor

Form = tuple[object, ...]


def final_form(mech: Mechanism) -> Form:
    """The parameters of the mechanism's final resort that its pure allocation depends on."""
    f = mech.final
    if isinstance(f, Haircut):
        return ("haircut", f.rounding, f.cap_ppm)
    if isinstance(f, Levy):
        return ("levy", f.rate_scale, f.rate_rounding, f.payment_rounding)
    if isinstance(f, Adl):
        return ("adl",)
    if isinstance(f, WithdrawalHaircut):
        return ("withdrawal_haircut", f.base)
    if isinstance(f, Pool):
        return ("pool", f.max_pnl_factor_ppm)
    if not isinstance(f, BadDebtOnly):  # a final resort this comparison does not know: a typed error
        raise MechanismError(f"{mech.id}: final resort {type(f).__name__} has no pure allocation form for "
                             f"`waterfall diff`", key="final.policy")
    return ("bad_debt",)


def form_note(form: Form) -> str:
    """What the pure form leaves out, said plainly (empty when it is the whole final resort)."""
    if form[0] == "adl":
        return ("ADL: only the fill split is a pure function of (total, sizes in ranking order); "
                "the ranking score (R-ADL-4), the close price (R-ADL-2) and skip_insolvent (R-ADL-6) "
                "depend on the whole state and are not compared")
    if form[0] == "bad_debt":
        return "no socialisation: nobody pays, the deficit is bad debt (R-WF-5)"
    if form[0] == "pool":
        return ("pool: the pool account is every trader's counterparty and absorbs the deficit (R-POOL-1); "
                "no trader pays at the liquidation; the PnL cap (R-POOL-2) and keeper ADL (R-POOL-3) depend "
                "on the pool's value and are not compared")
    if form[0] == "withdrawal_haircut":
        return ("nobody pays at the liquidation: the shortfall is recorded (R-WH-1) and recovered "
                "from later withdrawals (R-WH-2), which depend on who withdraws when")
    return ""


def final_shares(form: Form, total: int, weights: Sequence[int]) -> list[int]:
    """R-HC-2 / R-LEVY-1..2 / R-ADL-1: what each account pays (takes) of the deficit `total`."""
    keys = [f"{i:03d}" for i in range(len(weights))]
    kind = form[0]
    if kind == "haircut":
        _, rounding, cap_ppm = form
        if cap_ppm < PPM:  # R-HC-2 with caps: R = min(D, sum of caps), split by R-ALLOC-4
            caps = [w * cap_ppm // PPM for w in weights]
            return water_fill(min(total, sum(caps)), weights, caps, keys, rounding)
        return allocate(min(total, sum(weights)), weights, keys, rounding)
    if kind == "levy":  # R-LEVY-1/2: rate per lot of OI, then each pays |size| * rate
        _, scale, rate_rounding, payment_rounding = form
        oi = sum(weights)
        if oi == 0:
            return [0] * len(weights)
        rate = (div_ceil if rate_rounding == "ceil" else div_floor)(total * scale, oi)
        pdiv = div_ceil if payment_rounding == "ceil" else div_floor
        return [pdiv(w * rate, scale) for w in weights]
    if kind == "adl":  # R-ADL-1: each in ranking order takes min(remaining, its size)
        out, left = [], total
        for w in weights:
            out.append(min(left, w))
            left -= out[-1]
        return out
    return [0] * len(weights)
