"""summarize() on a full-size run: 100,000 samples, 10 workloads x 3 metrics x 3 platforms.
Target: well under 2 s (the bootstrap is drawn per group in O(resamples), not O(resamples*n))."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.analysis import stats

PLATFORMS = ("native", "docker", "libvirt")


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1112  # 90 groups x 1112 ~ 100,000 values
    parts = []
    for w in range(10):
        for m in range(3):
            for p, platform in enumerate(PLATFORMS):
                parts.append(
                    pd.DataFrame(
                        {
                            "trial_id": [f"r{r}-w{w}-{platform}" for r in range(n)],
                            "workload": f"w{w}",
                            "workload_hash": f"h{w}",
                            "platform": platform,
                            "round": np.arange(n),
                            "warmup": False,
                            "metric": f"m{m}",
                            "value": rng.normal(1000 * (1 - 0.05 * p), 20, n),
                            "unit": "1/s",
                            "higher_is_better": True,
                            "accel": "kvm" if platform == "libvirt" else "host",
                            "started": 0.0,
                            "ended": 1.0,
                            "instance": f"{platform}-0",
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True)


def test_summarize_100k(benchmark: Any, samples: pd.DataFrame) -> None:
    assert len(samples) >= 100_000
    summary = benchmark.pedantic(stats.summarize, args=(samples,), rounds=5, iterations=1)
    assert len(summary) == 90
    assert set(summary["verdict"]) == {"baseline", "worse"}
