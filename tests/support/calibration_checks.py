"""The check every calibration test makes of its false-call rates: each cell alone consistent
with a rate of at most `limit` (a one-sided binomial test at 0.001 of its count), and each
path's pooled rate itself at most `limit`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from scipy import stats as sps


def assert_false_calls_within(cells: Iterable[tuple[str, int, int, object]], limit: float) -> None:
    """`cells`: (path, hits, trials, what to show on failure) per calibration cell."""
    pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, hits, trials, shown in cells:
        pooled[path][0] += hits
        pooled[path][1] += trials
        p = sps.binomtest(hits, trials, limit, alternative="greater").pvalue
        assert p > 0.001, shown
    for path, (hits, trials) in pooled.items():
        assert hits / trials <= limit, (path, hits, trials)
