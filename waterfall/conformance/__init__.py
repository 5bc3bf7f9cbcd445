"""The conformance kit for implementers: vectors and their generator, the runner and the engine process, differential fuzzing, the pytest plugin, kit mutation.
May import the provers and the fuzzer (waterfall.proofs), the model and the spec; not the report or the command line."""
