"""Engines around the reference model: the command line, ledgers, and (later) proofs."""
