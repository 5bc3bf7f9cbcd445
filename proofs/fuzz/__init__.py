"""The fuzzer: Hypothesis state machines over every mechanism (machines) and the shrinker of a found sequence (shrink).
May import the model, the spec and the shared modules of proofs/ (verdict, checks); not the prover."""
