"""The ``dpbench`` command line, above every layer: it wires harness (runs, sweeps), analysis
(figures) and bench/ together, so none of them has to import another against the layer rules."""
