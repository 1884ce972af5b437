"""dpbench harness: the framework algorithms and suites plug into. No algorithm or simulator code."""
