"""Relational invariants (I-PATH, I-SCALE, I-SPLIT): each compares two runs of the model and
must be able to say False."""
from __future__ import annotations

from conftest import acct, mech, mkstate, mkt
from waterfall.model.loader import catalogue, load_mechanism, load_scenario
from waterfall.model.mechanism import Adl, Haircut, LayerSpec, Mechanism
from waterfall.model.ops import Liquidate
from waterfall.model.replay import prepare
from waterfall.spec import SCENARIOS_DIR
from waterfall.spec.invariants import RELATIONS, doubled, scaled, split_state
from waterfall.model.state import value

QUEUE = Mechanism("q", "q", layers=(LayerSpec("insurance_fund"),), final=Adl(ranking="profit"))
PRO_RATA = mech(final=Haircut())


def sybil_state():
    """B long 10 at 110 (collateral 50): equity -50 at mark 100, bankruptcy price 105.
    X short 10 at 110 (upnl 100), Y short 10 at 106 (upnl 60), L long 10 at 106, mm flat."""
    return mkstate([mkt("M", 100)], {"B": acct(50, {"M": (10, 1100)}), "L": acct(1000, {"M": (10, 1060)}),
                                     "X": acct(1000, {"M": (-10, -1100)}), "Y": acct(1000, {"M": (-10, -1060)}),
                                     "mm": acct(100000)}, {"insurance_fund": 0})


def test_I_SPLIT_queue_adl_rewards_splitting() -> None:
    # I-SPLIT works on the doubled venue (B long 20, X upnl 200, Y upnl 120). Profit ranking:
    # X before Y: X takes all 20 lots at 105, losing 20 * 5 = 100. Split X into two copies
    # of upnl 100: Y (120) now ranks first and takes the 20 lots; the X pair loses 0 != 100.
    st = sybil_state()
    assert RELATIONS["I-SPLIT"].holds(st, Liquidate("B"), QUEUE, "X") is False
    # Y is ranked below X either way: splitting Y changes nothing for the Y pair
    assert RELATIONS["I-SPLIT"].holds(st, Liquidate("B"), QUEUE, "Y") is True


def test_I_SPLIT_pro_rata_is_sybil_resistant_here() -> None:
    # mm buys B's long at 100: deficit 50 over profits X 100, Y 60 (W 160): X 31.25 -> 31 or
    # 32; split X (50 + 50): 15.6 + 15.6 -> within 2 units of the same
    st = sybil_state()
    assert RELATIONS["I-SPLIT"].holds(st, Liquidate("B", "mm"), PRO_RATA, "X") is True


def test_split_state_keeps_value_and_positions() -> None:
    st = doubled(sybil_state())
    assert value(st) == 2 * value(sybil_state())
    two = split_state(st, "X")
    assert value(two) == value(st)
    assert two.accounts["X"] == two.accounts["X~2"] == sybil_state().accounts["X"]
    odd = mkstate([mkt("M", 100)], {"o": acct(7)})
    assert split_state(odd, "o") is None  # collateral 7 has no exact half



def test_I_SCALE_bankruptcy_price_rounding_is_not_scale_invariant() -> None:
    # rounding-ties: deficit 2 over 30 lots; P = 990 + ceil(2/30) = 991 at k = 1, but at k = 7
    # 6930 + ceil(14/30) = 6931 != 7 * 991: the counterparties' open notional is off by 6 per lot
    sc = load_scenario(SCENARIOS_DIR / "rounding-ties.json")
    adl = load_mechanism(catalogue()["bitmex-adl"])
    from waterfall.model.step import step
    pre, _ = step(prepare(sc.state, adl), sc.ops[0], adl)
    op = Liquidate("loser")
    assert RELATIONS["I-SCALE"].holds(pre, op, adl, 7) is False
    generic = load_mechanism(catalogue()["generic-socialized-loss"])
    pre_g, _ = step(prepare(sc.state, generic), sc.ops[0], generic)
    assert RELATIONS["I-SCALE"].holds(pre_g, sc.ops[1], generic, 7) is True


def test_scaled_multiplies_value() -> None:
    st = sybil_state()
    assert value(scaled(st, 5)) == 5 * value(st)


def test_I_PATH_order_matters_when_one_liquidation_changes_the_others_base() -> None:
    # adl-counterparty-underwater: L bankrupt, S solvent but under maintenance margin, both
    # sold to M at 850000. L first: S (still short, profit 2,000,000) and M share L's deficit.
    # S first: M takes S's short at 850000 and is long 0 net... so the haircut bases differ.
    sc = load_scenario(SCENARIOS_DIR / "adl-counterparty-underwater.json")
    generic = load_mechanism(catalogue()["generic-socialized-loss"])
    pre = prepare(sc.state, generic)
    assert RELATIONS["I-PATH"].holds(pre, sc.ops[0], generic, "S") is False


def test_I_PATH_symmetric_bankrupts_in_either_order() -> None:
    # two identical bankrupts A and C (deficit 30 each at mark 90), fund 30: whoever goes first
    # gets the fund, the other is haircut from W: the final balances are the same
    st = mkstate([mkt("M", 90)], {"A": acct(70, {"M": (10, 1000)}), "C": acct(70, {"M": (10, 1000)}),
                                  "W": acct(5000, {"M": (-20, -2000)}), "mm": acct(100000)},
                 {"insurance_fund": 30})
    assert RELATIONS["I-PATH"].holds(st, Liquidate("A", "mm"), PRO_RATA, "C") is True
