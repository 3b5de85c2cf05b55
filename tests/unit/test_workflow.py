"""The nightly workflow: valid against GitHub's workflow schema (check-jsonschema's vendored copy,
offline), shaped as the README describes it, and every shell step parses."""

from __future__ import annotations

import os
import re
import shutil
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


# --- the results branch, for real: the publish job's store step against a local remote -------


def store_step(workflow: dict[Any, Any]) -> dict[str, Any]:
    steps = workflow["jobs"]["publish"]["steps"]
    step = next(s for s in steps if s.get("name") == "Add tonight's runs to the results branch")
    assert isinstance(step, dict)
    return step


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def incoming_run(repo: Path, host: str, run_id: str, age_days: float) -> None:
    import json
    import time

    directory = repo / "incoming" / "results" / host / run_id
    (directory / "raw").mkdir(parents=True)
    (directory / "raw" / "out.stdout").write_text("tool output\n")
    meta = {"schema_version": 1, "run_id": run_id, "created": time.time() - age_days * 86400}
    (directory / "run.json").write_text(json.dumps(meta))
    (directory / "samples.jsonl").write_text("")
    (directory / "events.jsonl").write_text('{"kind": "finished"}\n')


def night(workflow: dict[Any, Any], repo: Path, number: int) -> str:
    step = store_step(workflow)
    env = {**os.environ, **{k: str(v) for k, v in step["env"].items()}, "NIGHT": str(number)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # vcbench
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    git("worktree", "remove", "--force", "store", cwd=repo)
    # A runner is fresh each night; this checkout is not (a night with nothing new made no commit).
    subprocess.run(["git", "branch", "-q", "-D", "night"], cwd=repo, capture_output=True)
    shutil.rmtree(repo / "incoming", ignore_errors=True)
    return done.stdout


def test_the_results_branch_is_one_pruned_snapshot_that_keeps_every_run(
    workflow: dict[Any, Any], tmp_path: Path
) -> None:
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("git") is None or shutil.which("vcbench", path=bin_dir) is None:
        pytest.skip("needs git and the vcbench entry point")
    remote, repo = tmp_path / "origin.git", tmp_path / "checkout"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    (repo / "README.md").write_text("the project\n")
    git("add", "README.md", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main", cwd=repo)
    git("remote", "add", "origin", str(remote), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)

    incoming_run(repo, "host-a", "20990101-000000-aaaaaa", age_days=40)
    incoming_run(repo, "host-b", "20990102-000000-bbbbbb", age_days=0)
    night(workflow, repo, 1)
    incoming_run(repo, "host-a", "20990103-000000-cccccc", age_days=0)
    night(workflow, repo, 2)

    tip = git("rev-parse", "results", cwd=remote)
    assert git("rev-list", "--count", tip, cwd=remote) == "1"  # a snapshot, no history
    files = set(git("ls-tree", "-r", "--name-only", tip, cwd=remote).splitlines())
    assert "README.md" not in files  # main's files never enter the results branch
    kept = {"results/host-b/20990102-000000-bbbbbb/raw/out.stdout",
            "results/host-a/20990103-000000-cccccc/raw/out.stdout",
            "results/host-a/20990101-000000-aaaaaa/run.json",
            "results/host-a/20990101-000000-aaaaaa/pruned.json"}  # fmt: skip
    assert kept <= files
    assert "results/host-a/20990101-000000-aaaaaa/raw/out.stdout" not in files
    assert "night 2" in git("log", "-1", "--format=%s", tip, cwd=remote)

    assert "no new runs tonight" in night(workflow, repo, 3)
    assert git("rev-parse", "results", cwd=remote) == tip
