"""What the systemd + cgroup v2 guest host (tests/hosts) found, pinned without a daemon.

On a Debian kernel AppArmor is enforced: dockerd refuses every container when apparmor_parser
is missing, and that refusal crashed the whole run with a traceback instead of failing the
one trial whose instance could not start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from bench.core.errors import PlatformError
from bench.host import packages
from bench.platforms.docker import DockerPlatform

REFUSAL = (
    "AppArmor enabled on system but the docker-default profile could not be loaded: running "
    "`apparmor_parser apparmor_parser --version` failed with output: \n"
    'error: exec: "apparmor_parser": executable file not found in $PATH'
)


def test_a_container_dockerd_refuses_to_start_is_a_platform_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = object.__new__(DockerPlatform)

    def refused(*args: Any) -> Any:
        raise docker.errors.APIError("500 Server Error: Internal Server Error", explanation=REFUSAL)

    monkeypatch.setattr(platform, "_start_container", refused)
    with pytest.raises(PlatformError) as caught:
        platform._start("vcbench-x-docker-1", None, None)  # type: ignore[arg-type]
    message = caught.value.message
    assert message.startswith("vcbench-x-docker-1: dockerd could not start the container (")
    assert '"apparmor_parser": executable file not found' in message
    assert "\n" not in message


@pytest.mark.parametrize(("flag", "wanted"), [("Y\n", True), ("N\n", False), (None, False)])
def test_apparmor_is_a_host_package_only_where_the_kernel_enforces_it(
    tmp_path: Path, flag: str | None, wanted: bool
) -> None:
    enabled = tmp_path / "enabled"
    if flag is not None:
        enabled.write_text(flag)
    needed = packages.host_packages(enabled)
    assert (packages.APPARMOR_PACKAGE in needed) is wanted
    assert needed[: len(packages.APT_PACKAGES)] == list(packages.APT_PACKAGES)
    # without it dockerd starts no container, with or without runsc; podman runs regardless
    assert packages.PACKAGE_PLATFORMS[packages.APPARMOR_PACKAGE] == ("docker", "gvisor")


def test_a_daemon_systemd_started_logs_to_its_journal_not_to_vcbench_s_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bench.host import daemons

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    dockerd = daemons.by_name("dockerd")
    monkeypatch.setattr(daemons, "has_systemd", lambda: True)
    assert daemons.log_hint(dockerd) == "journalctl -u docker.service"
    monkeypatch.setattr(daemons, "has_systemd", lambda: False)
    assert daemons.log_hint(dockerd) == str(daemons.log_path(dockerd))
