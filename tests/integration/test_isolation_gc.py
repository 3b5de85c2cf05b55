"""gc on the real daemons: a dead run's gvisor container and podman container and network,
labelled as the platforms label them, are found and removed; nothing else is touched."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.platforms import gc, podman
from bench.platforms.labels import INSTANCE_LABEL, RUN_LABEL, resource_name
from bench.platforms.protocol import KEEPER
from tests.integration.conftest import unavailable
from tests.integration.platform_support import built_images

DEAD_RUN = "20200101-000000-dead18"


def _left(docker_client: Any) -> list[str]:
    return [x.describe() for x in gc.find(docker_client).found if x.run_id == DEAD_RUN]


def test_gc_removes_a_dead_runs_gvisor_and_podman_leftovers(docker_client: Any) -> None:
    if shutil.which("podman") is None:
        unavailable("podman", "not installed")
    images = built_images()
    sandbox = resource_name(DEAD_RUN, "gvisor", "1")
    docker_client.containers.run(
        images.docker_tag, KEEPER, name=sandbox, runtime="runsc", detach=True,
        labels={RUN_LABEL: DEAD_RUN, INSTANCE_LABEL: sandbox},
    )  # fmt: skip
    net = resource_name(DEAD_RUN, "podman")
    podman.podman("network", "create", "--label", f"{RUN_LABEL}={DEAD_RUN}", net)
    container = resource_name(DEAD_RUN, "podman", "1")
    podman.podman("run", "-d", "--name", container, "--label", f"{RUN_LABEL}={DEAD_RUN}",
                  "--network", net, *podman.ulimits(), "--pull", "never",
                  podman.image_name(images.digest), *KEEPER)  # fmt: skip
    try:
        assert sorted(_left(docker_client)) == sorted(
            [
                f"container {sandbox} (run {DEAD_RUN})",
                f"podman container {container} (run {DEAD_RUN})",
                f"podman network {net} (run {DEAD_RUN})",
            ]
        )
        sweep = gc.collect(gc.find(docker_client))
        assert sweep.failed == []
        assert _left(docker_client) == []
    finally:
        podman.podman("rm", "-f", "-t", "0", container, check=False)
        podman.podman("network", "rm", "-f", net, check=False)
        for c in docker_client.containers.list(all=True, filters={"name": sandbox}):
            c.remove(force=True)


def test_a_gvisor_instance_has_the_docker_limits(docker_client: Any) -> None:
    """cgroup limits on the sandbox, and what the sentry tells the processes inside."""
    from bench.platforms.gvisor import GvisorPlatform, sandbox_processes
    from bench.platforms.labels import RunContext
    from bench.platforms.protocol import InstanceSpec, Limits, PlatformConfig

    config = PlatformConfig(RunContext.create(), built_images())
    limits = Limits.on_host(1, 256)
    with GvisorPlatform(config) as platform, platform.start(InstanceSpec(limits)) as instance:
        cid = instance.container_id
        assert len(sandbox_processes(cid, psutil.process_iter(["cmdline"]))) >= 3
        attrs = docker_client.api.inspect_container(instance.container_id)["HostConfig"]
        assert attrs["Runtime"] == "runsc"
        assert (attrs["NanoCpus"], attrs["Memory"]) == (10**9, 256 * 2**20)
        assert attrs["CpusetCpus"] == limits.cpuset_text
        assert instance.info is not None
        assert (instance.info.nproc, instance.info.visible_memory_mib) == (1, 256)
    assert sandbox_processes(cid, psutil.process_iter(["cmdline"])) == []  # shim and all


def test_removing_an_image_set_removes_podmans_copy_unless_a_container_uses_it(
    tmp_path: Path,
) -> None:
    """`vcbench images rm`'s podman step, on a one-file image imported under a digest of its
    own (the real image stays for the other tests): refused while a container uses it."""
    from bench.core.errors import ImageError
    from bench.images import podman_image

    if shutil.which("podman") is None:
        unavailable("podman", "not installed")
    images = built_images()
    doomed = "0" * 12 + images.digest[12:]
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "doomed").write_text("x")
    with tarfile.open(tmp_path / "doomed.tar", "w") as tar:
        tar.add(tmp_path / "tree" / "doomed", arcname="doomed")
    podman.podman("import", str(tmp_path / "doomed.tar"), podman.image_name(doomed))
    user = resource_name(DEAD_RUN, "podman", "image-user")
    podman.podman("create", "--name", user, "--pull", "never", podman.image_name(doomed), "true")
    try:
        with pytest.raises(ImageError, match="podman refused to remove"):
            podman_image.remove(doomed)
        podman.podman("rm", "-f", user)
        assert podman_image.remove(doomed) is True
        assert not podman_image.present(doomed)
        assert podman_image.present(images.digest)
        assert podman_image.remove(doomed) is False
    finally:
        podman.podman("rm", "-f", user, check=False)
        podman.podman("rmi", podman.image_name(doomed), check=False)
