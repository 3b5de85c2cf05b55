"""What the adaptive schedule saves: the same workloads run with fixed repeats and then
repeating until decided, back to back on one host; wall time, figures decided, wall time per
decided figure, and whether the verdicts agree.

    python -m bench.cli.saving --budget 10m -- --suite claims --platforms native,docker,libvirt

Everything after `--` goes to both `vcbench run`s (the fixed one gets `--budget none`).
Heavy: hold /tmp/vcbench-heavy.lock around it on a shared host.

    python -m bench.cli.saving --runs results/FIXED results/ADAPTIVE

sets two runs already made beside each other instead, each timed from its run.json's creation
to its "finished" event, the trials' own time beside it (both runs must have finished).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data.results import load_run
from bench.report.terminal import summary_frame

DECIDED = ("better", "worse", "no difference")


def _run(args: Sequence[str]) -> tuple[Path, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli.main", "run", "--no-compare", "--quiet", *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    if not lines or not Path(lines[-1]).is_dir():
        raise SystemExit(f"vcbench run {' '.join(args)} failed (exit {done.returncode})")
    return Path(lines[-1]), wall


def _verdicts(directory: Path) -> dict[tuple[str, str, str], str]:
    table = summary_frame(load_run(directory))
    compared = table.loc[table["verdict"] != "baseline"]
    return {
        (str(r["workload"]), str(r["metric"]), str(r["platform"])): str(r["verdict"])
        for _, r in compared.iterrows()
    }


def figures(directory: Path, wall: float, verdicts: dict[Any, str]) -> dict[str, Any]:
    """What one run spent and decided."""
    decided = sum(v in DECIDED for v in verdicts.values())
    run = load_run(directory)
    return {
        "run": str(directory),
        "wall_s": round(wall, 1),
        "trial_s": round(sum(max(0.0, t.ended - t.started) for t in run.trials), 1),
        "trials": len(run.trials),
        "decided": decided,
        "figures": len(verdicts),
        "wall_s_per_decided": round(wall / decided, 1) if decided else None,
    }


def recorded_wall(directory: Path) -> float:
    """A finished run's wall time from its own records: run.json's creation to "finished"."""
    run = load_run(directory)
    done = [e.at for e in run.events if e.kind == "finished"]
    if not done or run.run_meta.created <= 0:
        raise SystemExit(f"{directory}: not a finished run (no 'finished' event); finish it first")
    return done[-1] - run.run_meta.created


def compare(fixed: dict[Any, str], adaptive: dict[Any, str]) -> dict[str, Any]:
    both = [k for k in fixed if k in adaptive]
    agree = [k for k in both if fixed[k] == adaptive[k]]
    conflict = [
        k for k in both if {fixed[k], adaptive[k]} == {"better", "worse"}
    ]  # opposite calls: never acceptable
    only_fixed = [k for k in both if fixed[k] in DECIDED and adaptive[k] not in DECIDED]
    only_adaptive = [k for k in both if adaptive[k] in DECIDED and fixed[k] not in DECIDED]
    return {
        "figures": len(both),
        "agree": len(agree),
        "conflicts": [list(k) for k in conflict],
        "decided_by_fixed_only": [[*k, fixed[k]] for k in only_fixed],
        "decided_by_adaptive_only": [[*k, adaptive[k]] for k in only_adaptive],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", help="the adaptive run's --budget")
    parser.add_argument(
        "--runs", nargs=2, type=Path, metavar=("FIXED", "ADAPTIVE"), help="two runs made already"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if (args.budget is None) == (args.runs is None):
        parser.error("give --budget (and the run's options after --) or --runs FIXED ADAPTIVE")
    passed = [a for a in args.run_args if a != "--"]
    results: dict[str, Any] = {}
    verdicts = {}
    for index, (name, extra) in enumerate(
        (("fixed", ["--budget", "none"]), ("adaptive", ["--budget", str(args.budget)]))
    ):
        if args.runs:
            directory = args.runs[index]
            wall = recorded_wall(directory)
        else:
            directory, wall = _run([*passed, *extra])
        verdicts[name] = _verdicts(directory)
        results[name] = figures(directory, wall, verdicts[name])
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    results["wall_ratio"] = round(results["adaptive"]["wall_s"] / results["fixed"]["wall_s"], 3)
    results["verdicts"] = compare(verdicts["fixed"], verdicts["adaptive"])
    print(f"adaptive / fixed wall time: {results['wall_ratio']}")
    print(json.dumps(results["verdicts"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if results["verdicts"]["conflicts"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
