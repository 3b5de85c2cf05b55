"""Golden-file tests of the rendered domain XML (VCBENCH_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.platforms.domain_xml import DomainSpec, render
from bench.platforms.profile_fit import HostFacts, fit
from bench.platforms.protocol import Limits
from bench.platforms.vm_profile import load_profile

GOLDEN = Path(__file__).parent / "golden"
RUN = "20250101-120000-abcdef"


TWO_CPUS = Limits(2, 512, (0, 1))


def spec(domain_type: str, limits: Limits = TWO_CPUS, profile: str = "default") -> DomainSpec:
    name = f"vcbench-{RUN}-libvirt-1"
    # a host with huge pages to spare: the goldens show everything a profile can apply
    facts = HostFacts(kvm=domain_type == "kvm", hugepages_free=4096, hugetlbfs=True)
    return DomainSpec(
        name=name, run_id=RUN, domain_type=domain_type, limits=limits,
        kernel=Path(f"/state/runs/{RUN}/instances/{name}/vmlinuz"),
        initrd=Path(f"/state/runs/{RUN}/instances/{name}/initramfs.img"),
        overlay=Path(f"/state/runs/{RUN}/instances/{name}/disk.qcow2"),
        backing=Path("/cache/entry/disk.raw"),
        network=f"vcbench-{RUN}-net", address="10.213.7.2/24",
        vm=fit(load_profile(profile), facts, limits.vcpus, limits.memory_mib).devices,
    )  # fmt: skip


@pytest.mark.parametrize("profile", ["default", "tuned", "emulated"])
@pytest.mark.parametrize("domain_type", ["qemu", "kvm"])
def test_matches_golden(domain_type: str, profile: str) -> None:
    stem = "domain" if profile == "default" else f"domain-{profile}"
    golden = GOLDEN / f"{stem}-{domain_type}.xml"
    rendered = render(spec(domain_type, profile=profile))
    if os.environ.get("VCBENCH_UPDATE_GOLDEN") == "1":
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_limits_become_vcpus_pins_and_memory() -> None:
    root = ET.fromstring(render(spec("qemu", Limits(3, 1024, (1, 4, 5)))))
    assert root.findtext("vcpu") == "3"
    assert root.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]
    assert root.findtext("memory") == root.findtext("currentMemory") == "1024"
    pins = [(p.get("vcpu"), p.get("cpuset")) for p in root.iter("vcpupin")]
    assert pins == [("0", "1"), ("1", "4"), ("2", "5")]
    assert root.find("cputune/emulatorpin").get("cpuset") == "1,4-5"  # type: ignore[union-attr]


def test_what_the_harness_relies_on() -> None:
    root = ET.fromstring(render(spec("qemu")))
    assert root.get("type") == "qemu"
    assert root.find("os/type").get("machine") == "q35"  # type: ignore[union-attr]
    assert root.find("features/acpi") is not None
    assert root.findtext("on_poweroff") == "destroy"
    agent = root.find("devices/channel[@type='unix']/target")
    assert agent is not None and agent.get("name") == "org.qemu.guest_agent.0"
    assert root.find("devices/memballoon/stats").get("period") == "1"  # type: ignore[union-attr]
    meta = root.find("metadata/{urn:vcbench:run:1}instance")
    assert meta is not None and meta.get("run") == RUN
    assert "vcbench.ip=10.213.7.2/24" in root.findtext("os/cmdline", "")


def test_names_and_paths_are_escaped() -> None:
    odd = DomainSpec(**{**spec("qemu").__dict__, "overlay": Path("/tmp/a'b&c/disk.qcow2")})
    root = ET.fromstring(render(odd))
    assert root.find("devices/disk/source").get("file") == "/tmp/a'b&c/disk.qcow2"  # type: ignore[union-attr]


def test_kvm_passes_the_host_cpu_and_tcg_keeps_the_default_model() -> None:
    # under TCG, -cpu max booted 0.5-1.4 s slower than the default model here
    kvm = ET.fromstring(render(spec("kvm"))).find("cpu")
    assert kvm is not None and kvm.get("mode") == "host-passthrough"
    assert ET.fromstring(render(spec("qemu"))).find("cpu") is None


def test_qemu_runs_unprivileged_and_only_the_overlay_is_relabelled() -> None:
    root = ET.fromstring(render(spec("qemu")))
    assert root.find("seclabel") is None  # libvirt's default: its own user, DAC labelling
    disk = root.find("devices/disk")
    assert disk is not None
    backing = disk.find("backingStore")
    assert backing is not None
    assert backing.find("format").get("type") == "raw"  # type: ignore[union-attr]
    source = backing.find("source")
    assert source is not None and source.get("file") == "/cache/entry/disk.raw"
    label = source.find("seclabel")
    assert label is not None and (label.get("model"), label.get("relabel")) == ("dac", "no")
    assert backing.find("backingStore") is not None  # the raw disk ends the chain: no probing
    assert disk.find("source/seclabel") is None  # the overlay itself is relabelled
