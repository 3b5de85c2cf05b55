"""`python3 -m bench.host setup` from a bare checkout: standard library only, so it can install
what vcbench's own dependencies need to build (libvirt-python needs libvirt-dev, pkg-config)."""

from __future__ import annotations

import sys

from bench.core.errors import BenchError
from bench.host.setup import run_setup

USAGE = "usage: python3 -m bench.host setup [--test-tools]"


def main(argv: list[str]) -> int:
    if argv not in (["setup"], ["setup", "--test-tools"]):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        run_setup(test_tools="--test-tools" in argv)
    except BenchError as exc:
        print(f"vcbench: error: {exc.one_line()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
