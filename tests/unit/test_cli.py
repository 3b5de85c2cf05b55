"""The CLI's error contract: one line, exit 2, no traceback unless --debug."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from bench.cli import main as cli
from bench.core.errors import BenchError


@cli.cli.command("fail-for-test", hidden=True)
def _fail() -> None:
    raise BenchError("the widget is missing", "run `vcbench fix-widget`")


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_bench_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    cli._OPTIONS.debug = False
    code, _, err = run_main(["fail-for-test"], capsys)
    assert code == 2
    assert err == "vcbench: error: the widget is missing; run `vcbench fix-widget`\n"


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["--debug", "fail-for-test"], capsys)
    cli._OPTIONS.debug = False
    assert code == 2
    assert "Traceback" in err and err.rstrip().endswith("run `vcbench fix-widget`")


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["no-such-command"], capsys)
    assert code == 2 and "No such command" in err


def test_version_and_help_from_the_console_script() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "bench.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "vcbench, version 0.1.0"
    helptext = subprocess.run(
        [sys.executable, "-m", "bench.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("doctor", "host"):
        assert command in helptext.stdout
    assert isinstance(cli.cli, click.Group)
