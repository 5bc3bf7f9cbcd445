"""`waterfall prove`'s engine: model.step run over unknowns (symexec), the venues it runs on (harness), verdicts and sanity gates (prover), a catalogue in parallel (matrix).
May import the model, the spec and the shared modules of proofs/ (verdict, checks); not the fuzzer."""
