"""Image spec validation: every error names the file and the key; the key is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core.errors import ImageError
from bench.images import spec

MINIMAL = """
suite = "bookworm"
source_date_epoch = 1700000000
packages = ["sysbench"]
[kernel]
modules = ["virtio_blk"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_the_shipped_spec_is_valid_and_has_what_the_platforms_need() -> None:
    loaded = spec.load()
    for needed in ("sysbench", "fio", "stress-ng", "iperf3", "sockperf", "qemu-guest-agent"):
        assert needed in loaded.packages
    assert loaded.variant == "essential"
    modules = loaded.kernel.modules
    assert modules.index("virtio_ring") < modules.index("virtio_console")  # insmod order
    assert {"ext4", "ahci", "sd_mod", "e1000"} <= set(modules)  # the generic kernel; emulated


def test_a_minimal_spec_gets_defaults(tmp_path: Path) -> None:
    loaded = spec.load(write(tmp_path, MINIMAL))
    assert loaded.disk.size_mib == 4096 and loaded.apt_sources == "host"
    assert loaded.kernel.package == "linux-image-cloud-amd64"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 'red'\n" + MINIMAL, "colour"),
        (MINIMAL.replace('["sysbench"]', '["sysbench", "Bad Name"]'), "packages"),
        (MINIMAL.replace('["sysbench"]', '["fio", "fio"]'), "packages"),
        (MINIMAL.replace('["sysbench"]', "[]"), "packages"),
        (MINIMAL.replace("1700000000", "-1"), "source_date_epoch"),
        (MINIMAL.replace('["virtio_blk"]', '["virtio blk"]'), "kernel.modules"),
        (MINIMAL.replace('["virtio_blk"]', "[]"), "kernel.modules"),
        (MINIMAL + "[disk]\nsize_mib = 1\n", "disk.size_mib"),
        (MINIMAL.replace('suite = "bookworm"\n', ""), "suite"),
        ('hostname = "a;rm -rf /"\n' + MINIMAL, "hostname"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ImageError) as failure:
        spec.load(path)
    assert str(path) in failure.value.message
    assert f"key `{key}" in failure.value.message
    assert failure.value.hint


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not valid TOML"):
        spec.load(write(tmp_path, "suite = "))
    with pytest.raises(ImageError, match="cannot read image spec"):
        spec.load(tmp_path / "absent.toml")


def test_a_named_sources_file_must_exist(tmp_path: Path) -> None:
    loaded = spec.load(write(tmp_path, f'apt_sources = "{tmp_path}/none.sources"\n' + MINIMAL))
    with pytest.raises(ImageError, match="does not exist"):
        loaded.sources_file()


def test_the_key_follows_spec_sources_and_recipe(tmp_path: Path) -> None:
    base = spec.load(write(tmp_path, MINIMAL))
    key = spec.spec_key(base, "deb http://a bookworm main", "r1")
    assert key == spec.spec_key(
        spec.load(write(tmp_path, MINIMAL)), "deb http://a bookworm main", "r1"
    )
    other = spec.load(write(tmp_path, MINIMAL.replace('["sysbench"]', '["sysbench", "fio"]')))
    assert len({
        key,
        spec.spec_key(other, "deb http://a bookworm main", "r1"),
        spec.spec_key(base, "deb http://b bookworm main", "r1"),
        spec.spec_key(base, "deb http://a bookworm main", "r2"),
    }) == 4  # fmt: skip
