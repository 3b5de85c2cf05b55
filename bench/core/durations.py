"""Durations as people write them: 90s, 10m, 1h (a run's --budget, a suite's `budget`)."""

from __future__ import annotations

import re
from typing import Final

from bench.core.errors import BenchError

UNITS: Final = {"s": 1, "m": 60, "h": 3600}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(text: str, what: str = "--budget") -> float:
    """'10m', '1h', '90s', '90' (seconds) -> seconds; anything else a one-line error."""
    match = _DURATION.match(text)
    seconds = float(match[1]) * UNITS[match[2] or "s"] if match else 0.0
    if seconds <= 0:
        raise BenchError(
            f"{what}: {text!r} is not a duration", "write it like 90s, 10m or 1h (more than 0)"
        )
    return seconds
