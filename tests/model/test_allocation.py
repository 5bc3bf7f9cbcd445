"""R-ALLOC-*: pro-rata allocation of an integer total over integer weights."""
from __future__ import annotations

import itertools

import pytest

from waterfall.model.allocation import CEIL, FLOOR, LARGEST_REMAINDER, allocate, water_fill


def test_R_ALLOC_1_floor_shares_round_down_and_sum_at_most_total() -> None:
    # 10 over weights 1:1:1 -> 10/3 = 3.33 each -> floor 3 each, sum 9 <= 10.
    assert allocate(10, [1, 1, 1], ["a", "b", "c"], FLOOR) == [3, 3, 3]
    # 10 over 1:2:4 (W = 7): 10/7 = 1.43 -> 1; 20/7 = 2.86 -> 2; 40/7 = 5.71 -> 5; sum 8.
    assert allocate(10, [1, 2, 4], ["a", "b", "c"], FLOOR) == [1, 2, 5]


def test_R_ALLOC_1_ceil_shares_round_up_and_sum_at_least_total() -> None:
    # 10 over 1:1:1 -> ceil(3.33) = 4 each, sum 12 >= 10.
    assert allocate(10, [1, 1, 1], ["a", "b", "c"], CEIL) == [4, 4, 4]
    # 10 over 1:2:4: ceil(1.43) = 2, ceil(2.86) = 3, ceil(5.71) = 6; sum 11.
    assert allocate(10, [1, 2, 4], ["a", "b", "c"], CEIL) == [2, 3, 6]
    # exact division needs no rounding: 9 over 1:2 -> 3, 6.
    assert allocate(9, [1, 2], ["a", "b"], CEIL) == [3, 6]


def test_R_ALLOC_2_largest_remainder_sums_exactly_to_total() -> None:
    # 10 over 1:2:4 (W = 7): 10 = 1*7 + 3, 20 = 2*7 + 6, 40 = 5*7 + 5 -> floors 1, 2, 5 (sum 8),
    # remainders 3, 6, 5: the 2 missing units go to the two largest remainders (b: 6, c: 5).
    assert allocate(10, [1, 2, 4], ["a", "b", "c"], LARGEST_REMAINDER) == [1, 3, 6]


def test_R_ALLOC_2_ties_go_to_smaller_key() -> None:
    # 7 over 1:1:1 -> 2 each, remainder 1 each, one unit left: the tie goes to the smallest
    # key. Keys are deliberately not in list order: 'a' is at index 1.
    assert allocate(7, [1, 1, 1], ["b", "a", "c"], LARGEST_REMAINDER) == [2, 3, 2]
    # 8 over 1:1:1 -> two units left, to 'a' then 'b'.
    assert allocate(8, [1, 1, 1], ["c", "b", "a"], LARGEST_REMAINDER) == [2, 3, 3]


def test_R_ALLOC_2_ties_use_code_point_order_not_numeric_or_case_folded() -> None:
    # 'B' (U+0042) < 'a' (U+0061), so 'B' wins the single unit.
    assert allocate(1, [1, 1], ["a", "B"], LARGEST_REMAINDER) == [0, 1]
    # '10' < '9' in code-point order ('1' < '9'), although 10 > 9 as numbers.
    assert allocate(1, [1, 1], ["9", "10"], LARGEST_REMAINDER) == [0, 1]


def test_R_ALLOC_2_larger_remainder_beats_smaller_key() -> None:
    # 5 over 1:2 (W = 3): 5 = 1*3 + 2 for 'z', 10 = 3*3 + 1 for 'a'. One unit left: it goes to
    # 'z' (remainder 2) although 'a' is the smaller key.
    assert allocate(5, [1, 2], ["z", "a"], LARGEST_REMAINDER) == [2, 3]


@pytest.mark.parametrize("rounding", [FLOOR, CEIL, LARGEST_REMAINDER])
def test_R_ALLOC_3_zero_total_or_zero_weights_give_zeros(rounding: str) -> None:
    assert allocate(0, [3, 4], ["a", "b"], rounding) == [0, 0]
    assert allocate(5, [0, 0], ["a", "b"], rounding) == [0, 0]
    # a zero weight gets nothing even when others get something
    assert allocate(5, [0, 1], ["a", "b"], rounding) == [0, 5]


def test_R_ALLOC_1_to_3_bounds_hold_over_a_grid() -> None:
    # Every share lies between floor and ceil of the exact share total*w/W, floor sums to
    # <= total, ceil to >= total, largest remainder to exactly total.
    keys = ["a", "b", "c", "d"]
    for total in range(0, 23):
        for ws in itertools.product([0, 1, 2, 3, 7], repeat=3):
            weights = list(ws) + [5]
            wsum = sum(weights)
            f = allocate(total, weights, keys, FLOOR)
            c = allocate(total, weights, keys, CEIL)
            lr = allocate(total, weights, keys, LARGEST_REMAINDER)
            for i, w in enumerate(weights):
                lo, hi = (total * w) // wsum, -((-total * w) // wsum)
                assert f[i] == lo and c[i] == hi and lo <= lr[i] <= hi
            assert sum(f) <= total <= sum(c)
            assert sum(lr) == total


def test_R_ALLOC_4_water_fill_saturates_low_caps_and_shares_the_rest() -> None:
    # total 10, weights 1:1:1, caps 1, 5, 5. Common eta: a saturates at 1 (1 <= 10/3); the
    # other two share 9 -> 4.5 each, below their cap 5 -> 4 r1 and 4 r1, the last unit to the
    # smaller key b. Result 1, 5, 4 (sum 10, eta = 4.5).
    assert water_fill(10, [1, 1, 1], [1, 5, 5], ["a", "b", "c"], LARGEST_REMAINDER) == [1, 5, 4]


def test_R_ALLOC_4_chitra_capped_pro_rata_example() -> None:
    # Chitra, "Autodeleveraging: Impossibilities and Optimization" (arXiv 2512.01112): the
    # capped pro-rata haircut is h_i = min(eta, beta_i) on endowment w_i, with budget balance
    # sum h_i w_i = theta D. Our numbers: w = 100, 100, 100; beta = 0.1, 0.5, 1.0 (caps
    # beta_i w_i = 10, 50, 100); D = 90. With eta >= 0.1 the first is capped at 10, and
    # 10 + 100 eta + 100 eta = 90 gives eta = 0.4 (< 0.5, so nobody else is capped):
    # haircuts 10, 40, 40 (sum 90 = D, theta = 1).
    assert water_fill(90, [100, 100, 100], [10, 50, 100], ["a", "b", "c"], LARGEST_REMAINDER) == [10, 40, 40]


def test_R_ALLOC_4_all_capped_collects_only_the_caps() -> None:
    # total 10, weights 1:1, caps 2, 3: eta would be 5 > both caps, so both saturate and the
    # sum is 5 < 10 (theta = 1/2 in Chitra's terms).
    assert water_fill(10, [1, 1], [2, 3], ["a", "b"], LARGEST_REMAINDER) == [2, 3]


def test_R_ALLOC_4_zero_weight_gets_nothing_and_shares_never_exceed_caps() -> None:
    # weight 0 is never live; the others share 6 over 1:2 with caps 10, 10 -> 2, 4.
    assert water_fill(6, [0, 1, 2], [10, 10, 10], ["a", "b", "c"], FLOOR) == [0, 2, 4]
    for total in range(0, 30):
        for caps in itertools.product([0, 1, 4, 9], repeat=3):
            shares = water_fill(total, [1, 2, 3], list(caps), ["a", "b", "c"], LARGEST_REMAINDER)
            assert all(0 <= s <= cap for s, cap in zip(shares, caps))
            assert sum(shares) <= total
            # exact when the caps can hold the total: LR shares the unsaturated rest exactly
            if sum(caps) >= total and all(c > 0 for c in caps):
                assert sum(shares) == total


def test_R_ALLOC_4_water_fill_with_ceil_over_collects_by_fewer_units_than_accounts() -> None:
    # R-ALLOC-4 with R-ALLOC-1: the unsaturated rest is split with ceil: 10 over 1:1:1 with
    # caps 10 -> ceil(3.33) = 4 each = 12 (surplus 2 < 3 accounts; the caller routes it to the
    # surplus sink, R-HC-3). No share exceeds its cap: with caps 3 everyone saturates at 3.
    assert water_fill(10, [1, 1, 1], [10, 10, 10], ["a", "b", "c"], CEIL) == [4, 4, 4]
    assert water_fill(10, [1, 1, 1], [3, 3, 3], ["a", "b", "c"], CEIL) == [3, 3, 3]


def test_R_ALLOC_unknown_rounding_is_named() -> None:
    with pytest.raises(ValueError, match=r"^unknown rounding 'bogus'$"):
        allocate(5, [1, 2], ["a", "b"], "bogus")


def test_R_ALLOC_4_two_accounts_saturate_in_cap_per_weight_order() -> None:
    # equal weights, caps 1 < 2 < 100: eta passes 1 then 2; the third takes 10 - 1 - 2 = 7
    assert water_fill(10, [1, 1, 1], [1, 2, 100], ["a", "b", "c"], FLOOR) == [1, 2, 7]
