"""The checkers measured as an attacker would: bugs planted in a copy of model/ (planted, mutants, model_copy), judged by the prover and the fuzzer.
May import the prover, the fuzzer, the model and the spec."""
