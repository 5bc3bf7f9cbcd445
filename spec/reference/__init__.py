"""Reference semantics: what an invariant needs to recompute, written from spec/rules.md alone.

In the style of the Ethereum consensus-specs, whose spec functions are kept apart from any
client's code: each function here restates one rule (its ID in the docstring) as plainly as
the text says it, and shares no rule code with `model/`. An invariant (spec/invariants.py)
that must know what a rule should have done (an ADL order, what a layer could pay, a close
price, a queue's shares) asks this package, never the model it checks, so a wrong rule in
the model is caught instead of being checked against itself.

From `model/` these modules import only data types (state, mechanism, operation, event),
the arithmetic helpers of `model/arith.py` that let them run over the prover's unknowns,
and the basic definitions of value and equity (R-STATE, R-PNL); `tests/spec/test_reference.py`
checks the imports, and compares every function with the model's (they must agree).

Modules: `ranking` (R-ADL-3/4/5: scores and queue order), `layers` (R-WF-3/6/8/9/10/15,
R-TIME-3: keys, peak, room, plans, capacity, sinks), `prices` (R-ADL-2/9/10: close prices),
`fund_first` (R-ADL-7: the lots sent to the counterparty), `queue` (R-HC-9).

May import from the model only its data types (`state`, `mechanism`, `ops`, `events`), the
arithmetic helpers (`arith`) and the definitions of value and equity; never its rule
modules, a checker, the kit, the report or the command line.
"""
