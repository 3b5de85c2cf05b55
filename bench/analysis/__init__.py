"""Pure statistics (the one verdict gate, summaries, comparisons, warnings,
change points), its calibration, and the claims. Imports only bench.data and bench.core."""
