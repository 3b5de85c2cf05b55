"""VM profiles: the files, their validation, fitting them to a host, the platform names."""

from __future__ import annotations

import lzma
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.cli import main as cli
from bench.core.errors import BenchError
from bench.core.platform_names import (
    base_of,
    expand_vm_profiles,
    profile_of,
    sort_platforms,
    vm_platform,
)
from bench.data.results import Sample, Trial
from bench.images.guest_kernel import boot_image
from bench.platforms.domain_xml import DomainSpec, render
from bench.platforms.profile_fit import HostFacts, direct_io_works, fit, shortfall_events
from bench.platforms.protocol import Limits
from bench.platforms.registry import platform_class, platform_names, vm_platform_class
from bench.platforms.vm_profile import (
    ProfileFileError,
    load_profile,
    load_profile_file,
    parse_profiles,
    profile_names,
)

TCG = HostFacts(kvm=False)
KVM_WITH_HUGEPAGES = HostFacts(kvm=True, hugepages_free=1024, hugetlbfs=True)

GOOD = """\
name = "mine"
description = "a test profile"
[disk]
bus = "virtio"
[net]
model = "virtio"
"""


def write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_the_three_shipped_profiles_load() -> None:
    assert {"default", "tuned", "emulated"} <= set(profile_names())
    for name in profile_names():
        assert load_profile(name).name == name


def test_tuned_says_cache_none_fixes_the_page_cache_reads() -> None:
    tuned = load_profile("tuned")
    assert (tuned.disk.cache, tuned.disk.io) == ("none", "native")
    assert "seqread" in tuned.description and "page cache" in tuned.description


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("colour = 'red'\n", "colour: unknown key"),
        ("[cpu]\npinning = 'loose'\n", "cpu.pinning: Input should be 'vcpu' or 'cpuset'"),
        ("[memory]\nhugepages = 'yes'\n", "memory.hugepages: Input should be a valid boolean"),
        ("[kvm]\ncpu_mode = 'max'\n", "kvm.cpu_mode:"),
    ],
)
def test_a_bad_key_is_named_with_the_file(tmp_path: Path, extra: str, expected: str) -> None:
    path = write(tmp_path, GOOD + extra)
    with pytest.raises(ProfileFileError) as info:
        load_profile_file(path)
    assert str(path) in info.value.message and expected in info.value.message
    assert "\n" not in info.value.one_line()


def test_io_native_needs_cache_none(tmp_path: Path) -> None:
    text = GOOD.replace('bus = "virtio"', 'bus = "virtio"\nio = "native"')
    with pytest.raises(ProfileFileError, match=r"disk: .*io = 'native' needs cache = 'none'"):
        load_profile_file(write(tmp_path, text))


def test_multiqueue_needs_virtio_net(tmp_path: Path) -> None:
    text = GOOD.replace('model = "virtio"', 'model = "e1000"\nqueues = 4')
    with pytest.raises(ProfileFileError, match="multiqueue needs model = 'virtio'"):
        load_profile_file(write(tmp_path, text))


def test_the_name_must_match_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileFileError, match="differs from the file name"):
        load_profile_file(write(tmp_path, GOOD, name="other"))


def test_parse_profiles_keeps_order_drops_repeats_and_refuses_unknown() -> None:
    assert parse_profiles("default, emulated,default") == ("default", "emulated")
    with pytest.raises(ProfileFileError) as info:
        parse_profiles("default,turbo")
    assert "turbo" in info.value.message and "tuned" in info.value.hint
    with pytest.raises(BenchError):
        parse_profiles(" , ")


def test_an_unknown_profile_on_the_command_line_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli._OPTIONS.debug = False
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--vm-profile", "turbo"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("vcbench: error: unknown VM profile 'turbo'") and err.count("\n") == 1


# --- fitting a profile to a host ---------------------------------------------------------


def test_default_under_tcg_is_todays_domain_and_says_what_it_lacks() -> None:
    fitted = fit(load_profile("default"), TCG, vcpus=2, memory_mib=512)
    assert fitted.devices.cpu_mode == "" and fitted.devices.disk_bus == "virtio"
    assert [s.key for s in fitted.shortfalls] == ["kvm.cpu_mode"]
    assert "TCG" in fitted.shortfalls[0].message


def test_tuned_on_a_tuned_kvm_host_applies_everything() -> None:
    fitted = fit(load_profile("tuned"), KVM_WITH_HUGEPAGES, vcpus=3, memory_mib=1024)
    d = fitted.devices
    assert fitted.shortfalls == ()
    assert (d.cpu_mode, d.disk_cache, d.disk_io, d.net_queues, d.hugepages) == (
        "host-passthrough", "none", "native", 3, True,
    )  # fmt: skip


def test_tuned_without_huge_pages_records_the_sysctl_to_run() -> None:
    fitted = fit(load_profile("tuned"), TCG, vcpus=2, memory_mib=1024)
    assert not fitted.devices.hugepages
    huge = next(s for s in fitted.shortfalls if s.key == "memory.hugepages")
    assert huge.message.startswith("tuned: no huge pages on this host")
    assert "`sysctl vm.nr_hugepages=512`" in huge.advice  # 1024 MiB in 2 MiB pages


def test_without_o_direct_cache_none_and_io_native_fall_back_together() -> None:
    facts = HostFacts(kvm=True, hugepages_free=1024, hugetlbfs=True, direct_io=False)
    fitted = fit(load_profile("tuned"), facts, vcpus=2, memory_mib=512)
    assert (fitted.devices.disk_cache, fitted.devices.disk_io) == ("", "")
    assert [s.key for s in fitted.shortfalls] == ["disk.cache"]


def test_shortfalls_become_warning_events_with_advice() -> None:
    fitted = fit(load_profile("tuned"), TCG, vcpus=2, memory_mib=512)
    events = shortfall_events({"libvirt-tuned": fitted.record("d")}, at=1.0)
    # the host CPU model is KVM's alone: the run's TCG banner says so once, not per profile
    assert {e.data["key"] for e in events} == {"memory.hugepages"}
    assert [s["key"] for s in fitted.record("d")["not_applied"]] == [
        "kvm.cpu_mode",
        "memory.hugepages",
    ]
    assert all(e.kind == "warning" and e.advice for e in events)
    assert all(e.data["code"] == "vm-profile-not-applied" for e in events)


def test_o_direct_probe(tmp_path: Path) -> None:
    assert direct_io_works(tmp_path / "not-yet" / "made") in (True, False)
    assert not list(tmp_path.iterdir())  # the probe file is gone


def test_emulated_domain_has_a_sata_disk_an_e1000_and_boots_from_sda() -> None:
    vm = fit(load_profile("emulated"), TCG, vcpus=1, memory_mib=256).devices
    spec = DomainSpec(
        name="vcbench-x-libvirt-emulated-1", run_id="x", domain_type="qemu",
        limits=Limits(1, 256, (0,)), kernel=Path("/k"), initrd=Path("/i"),
        overlay=Path("/o.qcow2"), backing=Path("/d.raw"), network="n",
        address="10.0.0.2/24", vm=vm,
    )  # fmt: skip
    root = ET.fromstring(render(spec))
    target = root.find("devices/disk/target")
    assert target is not None and (target.get("dev"), target.get("bus")) == ("sda", "sata")
    assert root.find("devices/interface/model").get("type") == "e1000"  # type: ignore[union-attr]
    assert "root=/dev/sda " in root.findtext("os/cmdline", "")


def test_cpuset_pinning_lets_every_vcpu_float_within_the_cpuset() -> None:
    base = fit(load_profile("default"), TCG, vcpus=2, memory_mib=256).devices
    floating = DomainSpec(
        name="n", run_id="x", domain_type="qemu", limits=Limits(2, 256, (2, 3)),
        kernel=Path("/k"), initrd=Path("/i"), overlay=Path("/o"), backing=Path("/d"),
        network="n", address="10.0.0.2/24",
        vm=base.__class__(**{**base.__dict__, "pin_each_vcpu": False}),
    )  # fmt: skip
    assert floating.pins == [(0, "2-3"), (1, "2-3")]


# --- platform names ----------------------------------------------------------------------


def test_platform_names_of_profiles() -> None:
    assert vm_platform("default") == "libvirt"
    assert vm_platform("tuned") == "libvirt-tuned"
    assert [profile_of(p) for p in ("native", "docker", "libvirt", "libvirt-emulated")] == [
        "", "", "default", "emulated",
    ]  # fmt: skip
    assert base_of("libvirt-tuned") == "libvirt" and base_of("docker") == "docker"


def test_one_platform_order_everywhere() -> None:
    mixed = ["libvirt-zzz", "libvirt-emulated", "libvirt", "docker", "libvirt-tuned", "native"]
    assert sort_platforms(mixed) == [
        "native", "docker", "libvirt", "libvirt-tuned", "libvirt-emulated", "libvirt-zzz",
    ]  # fmt: skip


def test_vm_profile_expands_the_libvirt_entry_in_place() -> None:
    both = expand_vm_profiles(("native", "libvirt", "docker"), ("default", "emulated"))
    assert both == ("native", "libvirt", "libvirt-emulated", "docker")
    assert expand_vm_profiles(("native",), ("tuned",)) == ("native",)


def test_the_registry_makes_one_platform_class_per_profile() -> None:
    tuned = platform_class("libvirt-tuned")
    assert tuned is vm_platform_class("tuned")
    assert (tuned.name, vm_platform_class("tuned").profile) == ("libvirt-tuned", "tuned")
    assert platform_class("libvirt").name == "libvirt"
    with pytest.raises(BenchError, match="unknown platform 'libvirt-turbo'"):
        platform_class("libvirt-turbo")
    assert platform_names()[:10] == [
        "native", "docker", "docker-nat", "docker-hostnet", "podman", "podman-hostnet", "gvisor",
        "libvirt", "libvirt-tuned", "libvirt-emulated",
    ]  # fmt: skip


# --- results -----------------------------------------------------------------------------


def test_samples_carry_the_trial_profile_and_old_rows_read_as_empty() -> None:
    trial = Trial("r0-w-libvirt-tuned", 0, "w", "h", "libvirt-tuned", False, "ok", 1.0, 2.0,
                  "i", "tcg", profile="tuned")  # fmt: skip
    assert Sample.of(trial, "m", 1.0, "s", False).profile == "tuned"
    old = Trial("r0-w-native", 0, "w", "h", "native", False, "ok", 1.0, 2.0, "i", "")
    assert old.profile == ""


# --- the kernel the VM boots -------------------------------------------------------------


def _elf_with_note(name: bytes, kind: int) -> bytes:
    """A minimal ELF64 with one PT_NOTE program header holding one note."""
    note = struct.pack("<III", len(name) + 1, 4, kind) + name + b"\0" * (4 - len(name) % 4)
    note += b"\0" * 4
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", header, 0x36, 56, 1)  # e_phentsize, e_phnum
    phdr = struct.pack("<IIQQQQQQ", 4, 0, 120, 0, 0, len(note), len(note), 4)
    return bytes(header) + phdr + note


@pytest.mark.parametrize(
    ("note", "elf_expected"), [((b"Xen", 18), True), ((b"Xen", 17), False), ((b"GNU", 18), False)]
)
def test_an_xz_kernel_boots_as_its_elf_only_with_a_pvh_entry(
    tmp_path: Path, note: tuple[bytes, int], elf_expected: bool
) -> None:
    elf = _elf_with_note(*note)
    bzimage = b"MZ setup code " + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"trailer"
    path = tmp_path / "vmlinuz"
    path.write_bytes(bzimage)
    assert boot_image(path) == (elf if elf_expected else bzimage)


def test_a_kernel_not_compressed_with_xz_is_booted_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "vmlinuz"
    path.write_bytes(b"MZ an lz4 kernel")
    assert boot_image(path) == b"MZ an lz4 kernel"
