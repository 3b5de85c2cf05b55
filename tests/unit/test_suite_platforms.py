"""A suite's platforms are what `vcbench run` measures without --platforms; an optional one
the host lacks is left out with a note, while asking for it by name stays an error."""

from __future__ import annotations

import pytest

from bench.cli import run as run_cli
from bench.core.errors import BenchError
from bench.core.workload import load_suite
from bench.host import availability


def test_a_suite_runs_its_own_platforms_where_the_host_has_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(availability, "PROBLEMS", {"gvisor": lambda: None})
    assert run_cli._suite_platforms(load_suite("quick")) == "native,docker,gvisor,libvirt"
    assert run_cli._suite_platforms(load_suite("tiny")) == "native,docker,libvirt"
    assert run_cli._suite_platforms(None) == "native,docker,libvirt"
    assert capsys.readouterr().err == ""


def test_an_optional_platform_the_host_lacks_is_left_out_with_a_note_not_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(availability, "PROBLEMS", {"gvisor": lambda: "runsc is not installed"})
    assert run_cli._suite_platforms(load_suite("quick")) == "native,docker,libvirt"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "left out gvisor: runsc is not installed" in err
    assert "vcbench host setup" in err
    with pytest.raises(BenchError, match="gvisor is not available here"):
        run_cli._platforms("native,gvisor")  # asked for by name: bad input, exit 2
