"""Running host commands: one place that turns a missing binary or a timeout into a BenchError."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.core.errors import BenchError


def run(
    argv: Sequence[str | Path],
    *,
    timeout: float = 120,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input_bytes: bytes | None = None,
    hint: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run argv to completion, capturing text output; raise BenchError on failure if check."""
    args = [str(a) for a in argv]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            cwd=cwd,
            input=input_bytes.decode() if input_bytes is not None else None,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BenchError(f"{args[0]} is not installed", hint or "run `vcbench host setup`") from exc
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`{' '.join(args)}` did not finish within {timeout:g} s", hint) from exc
    if check and done.returncode != 0:
        raise BenchError(f"`{' '.join(args)}` failed ({tail(done.stderr or done.stdout)})", hint)
    return done


def tail(text: str, lines: int = 1) -> str:
    """The last non-empty lines of some output, for one-line error messages."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) if kept else "no output"


def tool_version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"
