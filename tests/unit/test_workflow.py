"""The nightly workflow: valid against GitHub's workflow schema (check-jsonschema's vendored copy,
offline), shaped as the README describes it, and every shell step parses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "nightly.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_is_valid_against_githubs_schema() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "No module named check_jsonschema" not in done.stderr, "pip install -e '.[test]'"
    assert done.returncode == 0, done.stdout + done.stderr


def test_nightly_and_on_demand_never_two_at_once(workflow: dict[Any, Any]) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as the boolean true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_each_host_benches_on_its_own_kvm_runner(workflow: dict[Any, Any]) -> None:
    bench = workflow["jobs"]["bench"]
    assert bench["strategy"]["fail-fast"] is False and len(bench["strategy"]["matrix"]["host"]) >= 1
    assert bench["runs-on"] == ["self-hosted", "linux", "kvm", "${{ matrix.host }}"]
    scripts = "\n".join(step.get("run", "") for step in bench["steps"])
    assert "nox -s bench" in scripts
    upload = next(s for s in bench["steps"] if "upload-artifact" in s.get("uses", ""))
    assert "${{ matrix.host }}" in upload["with"]["name"]


def test_publish_runs_after_partial_nights_deploys_and_fails_on_a_regression(
    workflow: dict[Any, Any],
) -> None:
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "bench" and "cancelled()" in publish["if"]
    assert publish["permissions"] == {"contents": "write", "pages": "write", "id-token": "write"}
    assert publish["environment"]["name"] == "github-pages"
    uses = [s.get("uses", "").split("@")[0] for s in publish["steps"]]
    assert uses.index("actions/upload-pages-artifact") < uses.index("actions/deploy-pages")
    scripts = [s.get("run", "") for s in publish["steps"]]
    assert any("vcbench publish site" in s for s in scripts)
    assert "exit 3" in scripts[-1]  # the last step: after the site is deployed


def test_every_shell_step_parses(workflow: dict[Any, Any]) -> None:
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" not in step:
                continue
            # Expressions are filled in by GitHub before bash sees the script.
            script = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
            done = subprocess.run(
                ["bash", "-n"], input=script, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, f"{name}: {step.get('name')}: {done.stderr}"
