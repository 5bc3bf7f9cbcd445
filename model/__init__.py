"""waterfall reference model: exact integer loss waterfall of leveraged derivatives venues.
May import only itself and the spec's data folders and invariant ids (waterfall.spec); never a checker, the kit, the report or the command line."""
from .errors import WaterfallError
from .events import Event
from .mechanism import Mechanism
from .ops import Deposit, Funding, Liquidate, Op, SetMark, Trade, Withdraw
from .state import Account, Market, Position, State, equity, value
from .step import step

__all__ = ["Account", "Deposit", "Event", "Funding", "Liquidate", "Market", "Mechanism", "Op",
           "Position", "SetMark", "State", "Trade", "WaterfallError", "Withdraw", "equity",
           "step", "value"]
