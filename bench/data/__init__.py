"""The results: the versioned schema and its append-only store, how experiments
ended, retention. Imports only bench.core."""
