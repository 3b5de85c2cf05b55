"""The libvirt platform: a transient domain per instance on a qcow2 overlay of the shared disk.

At start-up the event loop runs before the connection opens, the domain is created paused,
its serial console is opened, and only then is it resumed, so the console log holds
everything from the first byte and the marker time is when the host received it.

Over 400 lines on purpose: one domain's life (create, console, agent, pause, crash and
power-off detection, teardown) shares the connection and its event loop; what stands alone
is apart already (domain_xml, guest_agent, output, resize, profile_fit, vm_profile).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from bench.core.errors import BenchError, DaemonLost, InstanceTimeout, PlatformError
from bench.core.platform_names import DEFAULT_PROFILE
from bench.core.proc import run
from bench.host.accel import detect
from bench.images.artifacts import ImageSet
from bench.platforms import lifecycle, network, resize, run_network
from bench.platforms.domain_xml import DomainSpec, render
from bench.platforms.guest_agent import GuestAgent
from bench.platforms.output import MarkerLog
from bench.platforms.profile_fit import Fitted, fit, host_facts
from bench.platforms.protocol import (
    ExecResult,
    Instance,
    InstanceSpec,
    Limits,
    Platform,
    PlatformConfig,
    Startup,
    exec_timed_out,
)
from bench.platforms.vm_profile import load_profile

DEFAULT_URI = "qemu:///system"
KERNEL = "vmlinuz"  # an instance's copies of the shared kernel and initramfs
INITRD = "initramfs.img"
RECONNECT_TIMEOUT_S = 60.0  # a restarted libvirtd answers within seconds; its domains live on
CONSOLE_DRAIN_S = 5.0  # a lost guest's last console bytes are still on their way to us
LOST_TAIL_LINES = 8
_loop_lock = threading.Lock()
_loop_started = False


def uri() -> str:
    return os.environ.get("VCBENCH_LIBVIRT_URI", DEFAULT_URI)


def start_event_loop() -> None:
    """libvirt's default event loop in a daemon thread: console streams need it. Once."""
    global _loop_started
    import libvirt

    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors come as exceptions
        threading.Thread(target=_run_loop, name="libvirt-events", daemon=True).start()
        _loop_started = True


def _run_loop() -> None:
    import libvirt

    while True:
        libvirt.virEventRunDefaultImpl()


def connect() -> Any:
    import libvirt

    start_event_loop()
    try:
        return libvirt.open(uri())
    except libvirt.libvirtError as exc:
        raise PlatformError(
            f"libvirtd is not reachable at {uri()} ({exc})", "run `vcbench host setup`"
        ) from exc


def alive(conn: Any) -> bool:
    """False once the connection's socket closed (libvirtd exited or restarted)."""
    import libvirt

    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def reconnect(deadline: float) -> Any:
    """A new connection, waiting (bounded) while libvirtd restarts."""
    while True:
        try:
            return connect()
        except PlatformError as exc:
            if time.perf_counter() >= deadline:
                raise DaemonLost(
                    f"libvirtd went away and did not come back within {RECONNECT_TIMEOUT_S:g} s",
                    "run `vcbench host setup`, then `vcbench run --resume RUN`",
                ) from exc
            time.sleep(0.2)


def resolve_accel(choice: str) -> str:
    """'kvm' or 'tcg': auto asks the doctor's boot probe; forced kvm must have been proven."""
    if choice == "tcg":
        return "tcg"

    found = detect()
    if choice == "kvm" and found.accel != "kvm":
        raise BenchError(
            f"KVM is not usable on this host: {found.reason}",
            "use --accel tcg (or auto); VM figures are then emulation",
        )
    return found.accel


class Console:
    """The domain's serial console, streamed into a MarkerLog by the event loop thread."""

    def __init__(self, conn: Any, domain: Any, log: MarkerLog) -> None:
        self._log = log
        self._open = False
        self.reopen(conn, domain)

    def reopen(self, conn: Any, domain: Any) -> None:
        """Stream into the same log again, e.g. over a new connection after libvirtd restarted:
        what was logged stays, what the guest prints from now on follows it."""
        import libvirt

        self.close()
        self._stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        domain.openConsole(None, self._stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        events = (
            libvirt.VIR_STREAM_EVENT_READABLE
            | libvirt.VIR_STREAM_EVENT_ERROR
            | libvirt.VIR_STREAM_EVENT_HANGUP
        )
        self._stream.eventAddCallback(events, self._on_event, None)
        self._open = True

    def _on_event(self, stream: Any, events: int, _opaque: object) -> None:
        import libvirt

        if not self._open:
            return
        data: Any = b""
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            try:
                data = stream.recv(65536)
            except libvirt.libvirtError:
                data = b""
            if data == -2:  # EAGAIN: spurious wakeup
                return
            if data:
                self._log.feed(data)
                return
        self._log.end()  # EOF, error or hangup: the guest is gone
        self.close()

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            self._stream.eventRemoveCallback()
            self._stream.abort()
        except Exception:
            pass  # the stream is already torn down by libvirt


class LibvirtInstance(Instance):
    platform = "libvirt"

    def __init__(
        self,
        name: str,
        limits: Limits,
        log: MarkerLog,
        domain: Any,
        platform: LibvirtPlatform | None = None,
        console: Console | None = None,
    ) -> None:
        super().__init__(name, limits, log.path)
        self.domain = domain
        self._log = log
        self._platform = platform
        self._console = console
        self.agent = GuestAgent(domain, name, self._reconnect if platform else None)

    def _reconnect(self) -> Any:
        """After libvirtd restarted: the new connection, this domain found again on it (a
        running domain outlives libvirtd), and the console log going on where it stopped."""
        import libvirt

        assert self._platform is not None
        conn = self._platform.connection()
        try:
            self.domain = conn.lookupByName(self.name)
        except libvirt.libvirtError as exc:
            raise PlatformError(
                f"{self.name}: the domain did not survive libvirtd's restart ({exc})"
            ) from exc
        if self._console is not None:
            self._console.reopen(conn, self.domain)
        return self.domain

    def _on_domain(self, action: str) -> None:
        """suspend or resume, once more over a new connection if libvirtd restarted."""
        import libvirt

        try:
            getattr(self.domain, action)()
        except libvirt.libvirtError as exc:
            if self._platform is None or alive(self.domain.connect()):
                raise PlatformError(f"{self.name}: {action} failed: {exc}") from exc
            getattr(self._reconnect(), action)()

    def pause(self) -> None:
        self._on_domain("suspend")  # vCPUs stop; an idle TCG guest would otherwise tick away

    def resume(self) -> None:
        self._on_domain("resume")

    def oom_kills(self) -> int | None:
        """The guest kernel's own count: its OOM killer acts inside, the host sees nothing."""
        found = self.exec(["grep", "^oom_kill ", "/proc/vmstat"], timeout=30)
        fields = found.stdout.split()
        return int(fields[1]) if found.exit_code == 0 and len(fields) == 2 else None

    def gone(self, settle_s: float = CONSOLE_DRAIN_S) -> bool:
        """The guest stopped: crashed or powered itself off (and so is being destroyed).

        A guest that powers off is "shutdown" while QEMU exits, and the agent's error may come
        before libvirt even saw that: wait (bounded) for the domain to leave "running"."""
        import libvirt

        deadline = time.perf_counter() + settle_s
        while True:
            try:
                state = self.domain.state()[0]
            except libvirt.libvirtError:
                return True  # a transient domain that stopped is no longer known at all
            if state not in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
                return bool(state != libvirt.VIR_DOMAIN_PAUSED)
            if time.perf_counter() >= deadline:
                return False
            time.sleep(0.05)

    def lost(self, argv: Sequence[str], why: PlatformError) -> PlatformError:
        """The error for a command whose guest went away: with the console's last words."""
        if not self.gone():
            return why
        self._log.wait_ended(CONSOLE_DRAIN_S)
        try:  # the file, not the log's short tail: a panic's stack trace is long
            lines = self.log_path.read_text(errors="replace").splitlines()[-200:]
        except OSError:
            lines = self._log.tail().splitlines()
        last = " | ".join(_last_words([line.strip() for line in lines if line.strip()]))
        return PlatformError(
            f"{self.name}: the VM went away (crashed or powered off) during `{' '.join(argv)}`;"
            f" last console lines: {last}",
            f"full console log: {self.log_path}",
        )

    def set_limits(self, limits: Limits) -> list[str]:
        """The balloon and vCPU hotplug, live. The domain must have been started with room
        (InstanceSpec.max_vcpus / max_memory_mib). Hotplugged vCPUs are onlined through the
        guest agent, doing what udev does in a full distribution (our guest has none)."""
        import libvirt

        try:
            if limits.memory_mib != self.limits.memory_mib:
                self.domain.setMemoryFlags(limits.memory_mib * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            notes = self._set_vcpus(limits.vcpus)
            resize.pin(self.domain, limits.cpuset)
        except libvirt.libvirtError as exc:
            raise PlatformError(f"{self.name}: libvirt refused the live change: {exc}") from exc
        self.limits = limits
        return notes

    def _set_vcpus(self, vcpus: int) -> list[str]:
        import libvirt

        live = libvirt.VIR_DOMAIN_AFFECT_LIVE
        if vcpus < self.limits.vcpus:  # the guest lets go of them before they are unplugged
            self.domain.setVcpusFlags(vcpus, libvirt.VIR_DOMAIN_VCPU_GUEST)
            try:
                self.domain.setVcpusFlags(vcpus, live)
            except libvirt.libvirtError as exc:  # boot vCPUs cannot go; TCG ejects slowly
                return [f"vCPUs offline in the guest but still plugged: {exc.get_error_message()}"]
        elif vcpus > self.limits.vcpus:
            if self.domain.vcpusFlags(live) < vcpus:  # an offline one may still be plugged
                self.domain.setVcpusFlags(vcpus, live)
            resize.online_vcpus(self.agent, vcpus, time.perf_counter() + resize.ONLINE_TIMEOUT_S)
        return []

    def exec(self, argv: Sequence[str], timeout: float = 60.0) -> ExecResult:
        try:
            return self._exec(argv, timeout)
        except (DaemonLost, InstanceTimeout):
            raise
        except PlatformError as exc:
            raise self.lost(argv, exc) from exc

    def _exec(self, argv: Sequence[str], timeout: float) -> ExecResult:
        started = time.perf_counter()
        pid, stem = self.agent.spawn(argv)
        code = self.agent.wait_exit(pid, started + timeout)
        if code is None:
            self.agent.kill(pid)
            raise exec_timed_out(self.name, argv, timeout)
        out = self.agent.take_file(stem + ".out")
        err = self.agent.take_file(stem + ".err")
        wall = time.perf_counter() - started
        return ExecResult(out.decode(errors="replace"), err.decode(errors="replace"), code, wall)


def _last_words(lines: list[str]) -> list[str]:
    """The console's last lines, led by the panic line a stack trace would push out of them."""
    why = [line for line in lines if "Kernel panic" in line][:1]
    return why + [line for line in lines[-LOST_TAIL_LINES:] if line not in why]


class LibvirtPlatform(Platform):
    name = "libvirt"
    profile: ClassVar[str] = DEFAULT_PROFILE  # registry.py makes libvirt-<profile> subclasses

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config)
        self._conn: Any = None
        self._network: network.LibvirtNetwork | None = None
        self.accel = ""

    def connection(self) -> Any:
        """The open connection; a new one (waiting for it) if libvirtd restarted meanwhile."""
        if self._conn is not None and not alive(self._conn):
            dead, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                dead.close()
            self._conn = reconnect(time.perf_counter() + RECONNECT_TIMEOUT_S)
        if self._conn is None:
            self._conn = connect()
        return self._conn

    def _ensure_network(self) -> network.LibvirtNetwork:
        if self._network is None:
            with lifecycle.shielded():
                self._network = run_network.acquire(self.connection(), self.config.run.run_id)
        return self._network

    def _start(self, name: str, spec: InstanceSpec, res: lifecycle.Resources) -> Instance:
        images = self.config.images
        if not images.disk_raw.exists() or not images.kernel.exists():
            raise PlatformError(f"the VM disk or kernel of {images.short} is missing",
                                "run `vcbench images build`")  # fmt: skip
        if not self.accel:
            self.accel = resolve_accel(self.config.accel)
        conn = self.connection()
        net = self._ensure_network()
        run_ = self.config.run
        log = res.acquire(lambda: MarkerLog(run_.log_dir / f"{name}.log", name), MarkerLog.close)
        own = run_.instance_dir(name)  # libvirt relabels what is in here, and nothing else
        slot = res.acquire(lambda: run_network.take_address(run_.run_id),
                           partial(run_network.give_address, run_.run_id))  # fmt: skip
        vm = self.fit(spec, run_.instance_dir(name)).devices
        overlay = own / "disk.qcow2"
        domain_spec = DomainSpec(
            name=name, run_id=run_.run_id, domain_type="kvm" if self.accel == "kvm" else "qemu",
            limits=spec.limits, kernel=own / KERNEL, initrd=own / INITRD, overlay=overlay,
            backing=images.disk_raw,
            network=net.name, address=str(net.guest_address(slot)),
            max_vcpus=spec.max_vcpus, max_memory_mib=spec.max_memory_mib, vm=vm,
        )  # fmt: skip
        res.acquire(lambda: _copy_boot_files(images, domain_spec), _remove_boot_files)
        started = time.perf_counter()
        res.acquire(lambda: _make_overlay(images.disk_raw, overlay), _remove_overlay)
        domain = res.acquire(lambda: _create_paused(conn, render(domain_spec)), self._destroy)
        console = res.acquire(lambda: Console(conn, domain, log), Console.close)
        domain.resume()
        running = time.perf_counter()
        ready = log.wait_ready(spec.ready_timeout_s, started)
        instance = LibvirtInstance(name, spec.limits, log, domain, self, console)
        instance.agent.wait_connected(started + spec.ready_timeout_s)
        instance.startup = Startup(running - started, ready - running)
        instance.address = domain_spec.address.split("/")[0]
        instance.accel = self.accel
        del console  # kept open by res until the instance is removed: the log goes on
        return instance

    def fit(self, spec: InstanceSpec, instance_dir: Path) -> Fitted:
        """This platform's VM profile on this host (accel, huge pages, O_DIRECT)."""
        facts = host_facts(self.accel == "kvm", (instance_dir, self.config.images.disk_raw.parent))
        vcpus = spec.max_vcpus or spec.limits.vcpus
        memory = spec.max_memory_mib or spec.limits.memory_mib
        return fit(load_profile(self.profile), facts, vcpus, memory)

    def _destroy(self, domain: Any) -> None:
        """Destroy the domain, over a new connection if libvirtd restarted since it started."""
        if alive(domain.connect()):
            _destroy(domain)
            return
        import libvirt

        try:
            _destroy(self.connection().lookupByName(domain.name()))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise

    def close(self) -> None:
        if self._network is not None:
            run_network.release(self.connection(), self.config.run.run_id)
            self._network = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _make_overlay(backing: Path, overlay: Path) -> Path:
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", backing, overlay])
    return overlay


def _remove_overlay(overlay: Path) -> None:
    overlay.unlink(missing_ok=True)


def _copy_boot_files(images: ImageSet, domain: DomainSpec) -> DomainSpec:
    """The instance's own kernel and initramfs: libvirt chowns a domain's kernel and initrd
    to QEMU's user while it runs, which must never happen to the shared ones (~15 MB, ~20 ms
    from the page cache: made before the startup clock starts, as harness work)."""
    shutil.copyfile(images.kernel, domain.kernel)
    shutil.copyfile(images.initramfs, domain.initrd)
    return domain


def _remove_boot_files(domain: DomainSpec) -> None:
    """Released last of the instance's files (acquired first): the instance dir goes too."""
    domain.kernel.unlink(missing_ok=True)
    domain.initrd.unlink(missing_ok=True)
    domain.kernel.parent.rmdir()


def _create_paused(conn: Any, xml: str) -> Any:
    import libvirt

    try:
        return conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
    except libvirt.libvirtError as exc:
        hint = _UNREACHABLE_HINT if "Permission denied" in str(exc) else ""
        raise PlatformError(f"libvirt could not create the domain: {exc}", hint) from exc


_UNREACHABLE_HINT = (
    "QEMU runs as libvirt's unprivileged user: the image cache and the run's work dir must be"
    " world-readable (as root they are /var/cache/vcbench and /var/lib/vcbench; an"
    " XDG_CACHE_HOME or XDG_STATE_HOME under a 0700 home hides them)"
)


def _destroy(domain: Any) -> None:
    import libvirt

    try:
        domain.destroy()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (
            libvirt.VIR_ERR_NO_DOMAIN,
            libvirt.VIR_ERR_OPERATION_INVALID,
        ):
            raise
