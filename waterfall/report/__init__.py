"""The audit report: the document (document), its renderings (render, plots, ci_outputs), counterexample traces, ledgers and comparisons.
May import the provers and the fuzzer (waterfall.proofs), the model, the spec and the documentation's data (waterfall.docs: docs/proofs.md for the trust section); not the conformance kit or the command line."""
