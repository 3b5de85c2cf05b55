"""The instances of one round: one per platform, started on first use, paused while another
platform is measured, and removed at the end of the round (or as soon as one is lost)."""

from __future__ import annotations

import contextlib
from contextlib import ExitStack

from bench.core.errors import DaemonLost
from bench.platforms import lifecycle
from bench.platforms.protocol import Instance, InstanceSpec, Platform


class Pool:
    def __init__(self, platforms: dict[str, Platform], spec: InstanceSpec) -> None:
        self._platforms = platforms
        self._spec = spec
        self._instances: dict[str, tuple[Instance, ExitStack]] = {}
        self._paused: set[str] = set()
        self.lost: dict[str, str] = {}  # platform -> why its daemon went away meanwhile

    def get(self, platform: str) -> Instance:
        """The round's instance of this platform, started now if it has none yet."""
        if platform not in self._instances:
            stack = ExitStack()
            try:
                instance = stack.enter_context(self._platforms[platform].start(self._spec))
            except BaseException:
                stack.close()
                raise
            self._instances[platform] = (instance, stack)
        return self._instances[platform][0]

    def focus(self, platform: str | None) -> None:
        """Resume this platform's instance, pause every other one (None: pause all).

        A sibling whose daemon went away is discarded and noted in `lost`, not raised: the
        trial about to run is on another platform and can still be measured."""
        for name, (instance, _) in list(self._instances.items()):
            try:
                if name == platform and name in self._paused:
                    instance.resume()
                    self._paused.discard(name)
                elif name != platform and name not in self._paused:
                    instance.pause()
                    self._paused.add(name)
            except DaemonLost as exc:
                if name == platform:
                    raise
                self.lost[name] = exc.message
                self.discard(name)

    def discard(self, platform: str) -> None:
        """Remove the instance (it failed or is suspect); the next get starts a new one."""
        entry = self._instances.pop(platform, None)
        if entry is None:
            return
        with lifecycle.shielded():
            if platform in self._paused:
                self._paused.discard(platform)
                with contextlib.suppress(Exception):  # a lost instance cannot be thawed
                    entry[0].resume()  # some daemons refuse to kill a frozen container
            entry[1].close()

    def close(self) -> None:
        for platform in list(self._instances):
            self.discard(platform)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
