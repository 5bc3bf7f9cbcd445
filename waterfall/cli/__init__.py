"""The `waterfall` command line: one module per command (main dispatches), argument types, terminal escaping, the generated reference.
May import every part: the report, the conformance kit, the provers, the fuzzer, the model and the spec."""
