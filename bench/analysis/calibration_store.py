"""Where a calibration keeps its figures: a seeded table of rates, stored as JSON beside its
module for the report's Method section and the README, recomputed by its unit test, which
checks the stored copy is still that code's. One format and one command line for every
calibration (the gate's, the nightly check's).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")


def _plain(value: Any) -> Any:
    """JSON has no NaN: a rate's undefined field is stored as null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def save(path: Path, header: Mapping[str, Any], rates: Sequence[Any]) -> None:
    rows = [{k: _plain(v) for k, v in vars(r).items()} for r in rates]
    path.write_text(json.dumps({**header, "rates": rows}, indent=1) + "\n")


def load(path: Path, build: Callable[..., R]) -> list[R]:
    """The stored rates (empty if the file is missing or unreadable); null fields read as NaN."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [
        build(**{k: math.nan if v is None else v for k, v in row.items()})
        for row in data.get("rates", [])
    ]


def main(
    argv: Sequence[str] | None,
    description: str,
    path: Path,
    compute: Callable[[], Sequence[R]],
    header: Callable[[Sequence[R]], Mapping[str, Any]],
    line: Callable[[R], str],
) -> int:
    """`python -m <calibration> [--write]`: print every rate, store them with --write."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help=f"store the figures in {path.name}")
    args = parser.parse_args(argv)
    rates = compute()
    for r in rates:
        print(line(r))
    if args.write:
        save(path, header(rates), rates)
    return 0
