"""The provers and the fuzzer: symbolic execution of model.step (prove/), Hypothesis state
machines (fuzz/), all-N statements, CrossHair, concrete checks, and mutation of the model.
May import the model (waterfall.model) and the spec (waterfall.spec) only; never the kit, the report or the command line."""
