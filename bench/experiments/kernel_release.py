"""C1: the kernel each platform runs, by `uname -r` inside: the chroot's and a container's
are the host's; a VM boots its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

from bench.data.results import ExperimentRecord
from bench.experiments.context import ExperimentContext
from bench.experiments.instance_scope import started

NAME = "kernel"


class KernelExperiment:
    name = NAME
    claims = ("C1",)

    def run(self, ctx: ExperimentContext) -> Iterator[ExperimentRecord]:
        host = os.uname().release
        for platform in ctx.platforms:
            with started(ctx, platform) as instance:
                info = instance.info or instance.probe()  # the probe's uname -r, at start
            detail = {"how": "uname -r inside", "host": host, "same_as_host": info.kernel == host}
            yield ExperimentRecord(
                NAME,
                platform,
                "uname-r",
                None,
                "",
                text=info.kernel,
                accel=instance.accel,
                detail=detail,
            )
