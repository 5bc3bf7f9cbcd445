"""The audit report: the document (document), its renderings (render, plots, ci_outputs), counterexample traces, ledgers and comparisons.
May import the provers and the fuzzer (waterfall.proofs), the model and the spec; not the conformance kit or the command line."""
