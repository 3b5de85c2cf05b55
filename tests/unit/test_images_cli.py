"""`vcbench images` commands that need no daemon: list and the errors of rm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli.images import images
from bench.core.errors import ImageError
from bench.images.cache import Cache
from tests.unit.test_images_cache import build_into


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "vcbench"


def test_list_when_nothing_is_built(cache_root: Path) -> None:
    result = CliRunner().invoke(images, ["list"])
    assert result.exit_code == 0 and "vcbench images build" in result.output
    assert json.loads(CliRunner().invoke(images, ["list", "--json"]).output) == []


def test_list_shows_digest_and_sizes(cache_root: Path) -> None:
    entry = build_into(Cache(cache_root))
    rows = json.loads(CliRunner().invoke(images, ["list", "--json"]).output)
    assert [r["digest"] for r in rows] == ["cd" * 32]
    assert rows[0]["path"] == str(entry) and rows[0]["sizes"]["disk_allocated"] == 5
    text = CliRunner().invoke(images, ["list"]).output
    assert text.startswith("cdcdcdcdcdcd  docker ") and "6.1.0-test" in text


@pytest.mark.parametrize(("prefix", "says"), [("ab", "too short"), ("ffff", "no image")])
def test_rm_refuses_what_it_cannot_match(cache_root: Path, prefix: str, says: str) -> None:
    build_into(Cache(cache_root))
    result = CliRunner().invoke(images, ["rm", prefix])
    assert isinstance(result.exception, ImageError) and says in result.exception.message
    assert Cache(cache_root).entries()  # nothing was removed
