"""Exact integer units, bounds and the rounding primitives every division goes through (R-UNIT-*).

All money is an integer count of quote base units; sizes are integer counts of base lots; a
price is the integer number of quote base units one lot is worth, so size * price is exact.
"""
from __future__ import annotations

from .arith import is_int
from .errors import BoundExceeded, InvalidAmount

PPM = 1_000_000
"""Denominator of every rate written in parts per million (margin rates, fees, caps)."""

MAX_INPUT = 10**18
"""R-UNIT-3: bound on any single input quantity (amount, size, price, funding rate)."""

MAX_BALANCE = 10**36
"""R-UNIT-3: bound on any balance or open notional in a state."""

RANK_SCALE = 10**18
"""R-ADL-4: ranking scores are compared as floor(RANK_SCALE * numerator / denominator)."""


def div_floor(a: int, b: int) -> int:
    """R-UNIT-2: a / b rounded toward minus infinity (b > 0).

    pre: b > 0
    post: __return__ * b <= a < (__return__ + 1) * b
    """
    return a // b


def div_ceil(a: int, b: int) -> int:
    """R-UNIT-2: a / b rounded toward plus infinity (b > 0).

    pre: b > 0
    post: (__return__ - 1) * b < a <= __return__ * b
    """
    return -((-a) // b)


def ppm_of(amount: int, rate_ppm: int, *, up: bool) -> int:
    """R-UNIT-2: amount * rate / 1e6, rounded up (requirements) or down (fees).

    pre: 0 <= amount <= 10**18 and 0 <= rate_ppm <= 10**6
    post: not up or 0 <= __return__ * PPM - amount * rate_ppm < PPM
    post: up or 0 <= amount * rate_ppm - __return__ * PPM < PPM
    """
    return div_ceil(amount * rate_ppm, PPM) if up else div_floor(amount * rate_ppm, PPM)


def _at(where: dict[str, object]) -> str:
    return "".join(f" ({k} {v!r})" for k, v in where.items())


def check_input(value: int, field: str, *, positive: bool = False, nonneg: bool = False, **where: object) -> int:
    """R-UNIT-3: reject a non-integer, out-of-bound, negative or zero input, naming the
    field and the account or market it belongs to."""
    if not is_int(value):
        raise InvalidAmount(f"{field} must be an integer, got {value!r}{_at(where)}", field=field, **where)
    if abs(value) > MAX_INPUT:
        raise BoundExceeded(f"{field} = {value} exceeds the input bound 10^18{_at(where)}", field=field, **where)
    if positive and value <= 0:
        raise InvalidAmount(f"{field} must be positive, got {value}{_at(where)}", field=field, **where)
    if nonneg and value < 0:
        raise InvalidAmount(f"{field} must not be negative, got {value}{_at(where)}", field=field, **where)
    return value


def check_balance(value: int, field: str, **where: object) -> int:
    """R-UNIT-3: reject a resulting balance beyond MAX_BALANCE, naming it."""
    if abs(value) > MAX_BALANCE:
        raise BoundExceeded(f"{field} = {value} exceeds the balance bound 10^36{_at(where)}", field=field, **where)
    return value
