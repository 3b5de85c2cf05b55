"""The claims of the project's study notes, each put to this run's own measurements.

`assess(run)` gives one ClaimVerdict per claim, C1..C12, always all twelve, in order: the
verdict, why in plain words with the numbers, the figures with their intervals, the caveats
(TCG emulation, small samples) and the published figures to read ours beside.

Pure, like bench/stats.py: a RunData in, verdicts out; it imports the results schema, the
statistics and the published figures, never the platforms or the runner. Every interval is
bench.stats.summarize's (bootstrap of the median); nothing here re-does statistics.

Decision rules (the same words are in each verdict's reason):
- Missing data is never guessed at: "not measured in this run", with what to run.
- "A below B" means A's 95% interval ends below B's (with one repeat only, the two values,
  flagged as a caveat); overlapping intervals show no difference.
- C1 kernel: supported when the container's `uname -r` equals the host's and the VM's differs.
- C2 image size: supported when the VM's total (disk + kernel + initramfs) is at least ten
  times the container image (an order of magnitude: "MB vs GB").
- C3 start-up: supported when, for every start-up workload run (warm, cold), the container's
  p50 is below the VM's (intervals apart).
- C4 memory: supported when the container's idle memory is below the VM's, and its loaded
  memory too where measured; from the idle-footprint workload when the experiment did not run.
- C5 disk: supported when the container's disk per instance after the same work is below the
  VM's.
- C6 density: supported when more containers than VMs started within the same budget, or, if
  both stopped at the same cap, each container cost less memory than each VM.
- C7 elasticity: supported when every limit change measured on the container takes effect in
  under QUICK_S, median.
- C8 overhead: under TCG "not measurable here" (the VM figures measure emulation); under KVM
  supported when the VM is worse than native on most measured metrics, partly on some.
- C9 para-virtualisation: virtio (`libvirt`) better than emulated devices
  (`libvirt-emulated`) on most disk and network metrics, and worse than native; under TCG the
  second half is not measurable, so at best "partly supported".
- C10 isolation: supported when, for some victim, the container's slowdown beside a noisy
  neighbour exceeds the VM's (intervals apart) and it is below the VM's for none.
- C11 visibility: supported when, inside the container, nproc or the memory total shows more
  than its limits (the host's), while the VM shows its own.
- C12: one host cannot measure orchestration across hosts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from bench import stats
from bench.report.references import Published, published_for
from bench.results import ExperimentRecord, RunData, Sample

Verdict = Literal[
    "supported",
    "not supported",
    "partly supported",
    "not measurable here",
    "not measured in this run",
]
VERDICTS: Final[tuple[Verdict, ...]] = (
    "supported",
    "not supported",
    "partly supported",
    "not measurable here",
    "not measured in this run",
)
CONTAINER: Final = "docker"
VM: Final = "libvirt"
NATIVE: Final = "native"
EMULATED_VM: Final = "libvirt-emulated"
QUICK_S: Final = 1.0  # C7: "quickly" means the change shows inside within a second
ORDER_OF_MAGNITUDE: Final = 10.0
FEW: Final = 5  # below this many repeats an interval is rough (stats' few-repeats warning)
# C11: a VM's kernel keeps some of its RAM for itself, so MemTotal sits a little below the
# limit; "sees more than its limit" needs a clear margin above it.
OVER_LIMIT: Final = 1.05
TCG_SPEED: Final = (
    "accel=tcg: the VM figures are emulation, not virtualisation; they do not say what a VM"
    " costs under KVM"
)
C8_METRICS: Final = (
    ("cpu-sysbench", "events_per_s"),
    ("memory-read", "mib_per_s"),
    ("memory-write", "mib_per_s"),
    ("disk-randread-4k", "iops"),
    ("disk-randwrite-4k", "iops"),
    ("net-iperf3", "gbit_per_s"),
    ("net-sockperf", "latency_p50_us"),
)
C9_METRICS: Final = (
    *(m for m in C8_METRICS if m[0].startswith(("disk-", "net-"))),
    ("disk-seqread-1m", "bw_mib_s"),
    ("disk-seqwrite-1m", "bw_mib_s"),
)
_UNMEASURED: Final = ("not measured in this run", "not measurable here")
STARTUP_WORKLOADS: Final = ("startup-warm", "startup-cold")
# C7: from the change call until the inside shows the new limit, and until it takes effect
RESIZE_METRICS: Final = (
    "cpu-visible-s",
    "cpu-effective-s",
    "memory-visible-s",
    "memory-effective-s",
)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    method: str  # how it is measured


CLAIMS: Final[tuple[Claim, ...]] = (
    Claim(
        "C1",
        "Containers share the host kernel; a VM runs its own",
        "`uname -r` inside each platform vs the host",
    ),
    Claim(
        "C2",
        "Container images are MB-sized; a VM needs a GB-sized guest OS",
        "image size (docker image inspect) vs the VM's disk (allocated bytes) + kernel +"
        " initramfs, both from the same userland",
    ),
    Claim(
        "C3",
        "Containers start much faster than VMs, deployment in seconds",
        "start-up latency to the in-guest ready marker, p50/p95 over repeats, warm and cold",
    ),
    Claim(
        "C4",
        "Containers use less RAM; a VM holds its memory",
        "idle and loaded memory per instance: container cgroup usage vs the QEMU process's"
        " RSS/PSS, and the host-level delta",
    ),
    Claim(
        "C5",
        "Containers use less disk",
        "disk used per extra instance after the same work: the container's writable layer"
        " vs the VM's qcow2 overlay",
    ),
    Claim(
        "C6",
        "Density: more containers than VMs fit on one host",
        "start idle instances of each until a memory budget or a start-up deadline is hit;"
        " instances per GiB",
    ),
    Claim(
        "C7",
        "Elasticity: container resources can be grown and shrunk quickly",
        "time for a live CPU or memory limit change to take effect inside (docker update vs"
        " libvirt setVcpus/setMemory with the balloon)",
    ),
    Claim(
        "C8",
        "VMs carry a real performance overhead; full virtualisation is slow",
        "CPU, memory bandwidth, disk IOPS, network throughput and latency: ratio to native"
        " with its interval",
    ),
    Claim(
        "C9",
        "Para-virtualisation is faster than full virtualisation but still slower than"
        " the real machine",
        "the disk and network workloads with virtio devices vs emulated ones, and vs native",
    ),
    Claim(
        "C10",
        "Containers isolate less: one misbehaving tenant can hurt the others",
        "a victim's slowdown while a noisy neighbour (stress-ng cpu/memory/io) runs in a"
        " sibling container vs a sibling VM, same limits",
    ),
    Claim(
        "C11",
        "A container's processes believe they own the machine",
        "what nproc and free report inside each platform vs the limits set",
    ),
    Claim("C12", "Kubernetes orchestrates containers across hosts", "not measured on one host"),
)

# What to run when a claim's data is missing from a run.
HOW: Final = {
    "C1": "vcbench run --experiments kernel",
    "C2": "vcbench run --experiments image-size",
    "C3": "vcbench run --suite full (the startup-warm and startup-cold workloads on docker and"
    " libvirt)",
    "C4": "vcbench run --experiments memory (or a suite with the idle-footprint workload)",
    "C5": "vcbench run --experiments disk-per-instance",
    "C6": "vcbench run --experiments density",
    "C7": "vcbench run --experiments elasticity",
    "C8": "vcbench run --suite full on native, docker and libvirt, on a host where KVM works",
    "C9": "vcbench run --vm-profile default,emulated (the disk and network workloads)",
    "C10": "vcbench run --experiments isolation",
    "C11": "vcbench run --experiments visibility",
    "C12": "several hosts: Kubernetes (kind, KubeVirt) is outside what vcbench measures",
}
EXPERIMENT_OF: Final = {
    "C1": "kernel",
    "C2": "image-size",
    "C4": "memory",
    "C5": "disk-per-instance",
    "C6": "density",
    "C7": "elasticity",
    "C10": "isolation",
    "C11": "visibility",
}


@dataclass(frozen=True)
class ClaimFigure:
    """One figure behind a verdict: a median with its 95% interval (None where there is
    none: one repeat, or a value that is text)."""

    platform: str
    metric: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    n: int
    text: str = ""  # a value that is text (a kernel release, a stop reason)
    note: str = ""  # what else to know: a ratio, a verdict against native


@dataclass(frozen=True)
class ClaimVerdict:
    id: str
    claim: str
    verdict: Verdict
    reason: str
    method: str = ""
    figures: tuple[ClaimFigure, ...] = ()
    caveats: tuple[str, ...] = ()
    references: tuple[Published, ...] = ()
    how: str = ""  # what to run to measure it, when this run did not
    key: str = ""  # the deciding figures in a few words (a terminal line's worth)

    @property
    def measured(self) -> bool:
        return self.verdict not in _UNMEASURED


@dataclass(frozen=True)
class _Outcome:
    """What a claim's rule found, before the common parts are added."""

    verdict: Verdict
    reason: str
    figures: tuple[ClaimFigure, ...] = ()
    caveats: tuple[str, ...] = ()
    key: str = ""  # the deciding figures in a few words


# --- entry point -----------------------------------------------------------------------------


def assess(run: RunData) -> tuple[ClaimVerdict, ...]:
    """One verdict per claim, C1..C12 in order, whatever the run holds."""
    data = _RunView(run)
    rules: dict[str, Callable[[_RunView], _Outcome]] = {
        "C1": _kernel,
        "C2": _image_size,
        "C3": _startup,
        "C4": _memory,
        "C5": _disk,
        "C6": _density,
        "C7": _elasticity,
        "C8": _overhead,
        "C9": _paravirt,
        "C10": _isolation,
        "C11": _visibility,
        "C12": _orchestration,
    }
    out = []
    for claim in CLAIMS:
        outcome = _guarded(claim.id, data, rules[claim.id])
        out.append(
            ClaimVerdict(
                id=claim.id,
                claim=claim.text,
                verdict=outcome.verdict,
                reason=outcome.reason,
                method=claim.method,
                figures=outcome.figures,
                caveats=outcome.caveats,
                references=tuple(published_for(claim.id)),
                how="" if outcome.verdict not in _UNMEASURED else HOW[claim.id],
                key=outcome.key,
            )
        )
    return tuple(out)


def _guarded(claim: str, data: _RunView, rule: Callable[[_RunView], _Outcome]) -> _Outcome:
    """A failed experiment, or none at all, is said before any rule looks at numbers."""
    experiment = EXPERIMENT_OF.get(claim)
    if experiment is None:
        return rule(data)
    failed = data.failure(experiment)
    if not data.records(experiment) and not (claim == "C4" and data.has_workload("idle-footprint")):
        if failed is not None:
            return _missing(f"not measured: the {experiment} experiment failed: {failed}")
        return _missing(f"the {experiment} experiment did not run in this run")
    outcome = rule(data)
    if failed is None:
        return outcome
    if outcome.verdict == "not measured in this run":
        why = f"{outcome.reason}: the {experiment} experiment failed ({failed})"
        return dataclasses.replace(outcome, reason=why)
    note = f"the {experiment} experiment failed part way ({failed}): its figures may be partial"
    return dataclasses.replace(outcome, caveats=(*outcome.caveats, note))


# --- the run, as the rules read it --------------------------------------------------------------


class _RunView:
    """The run's samples and records, indexed once; the acceleration the VMs ran under."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.accel = _accel(run)
        self.tcg = self.accel == "tcg"
        self._by_experiment: dict[str, list[ExperimentRecord]] = {}
        for record in run.experiments:
            self._by_experiment.setdefault(record.experiment, []).append(record)
        self.samples = [s for s in run.samples if s.origin == "workload" and not s.warmup]

    def records(self, experiment: str, metric: str | None = None) -> list[ExperimentRecord]:
        found = self._by_experiment.get(experiment, [])
        return found if metric is None else [r for r in found if r.metric == metric]

    def failure(self, experiment: str) -> str | None:
        """Why the experiment's last attempt did not end well (failed, interrupted), if so."""
        found = None
        for event in self.run.events:
            if event.kind == "experiment" and event.data.get("name") == experiment:
                status = str(event.data.get("status", ""))
                # The experiments' end events name the error "cause"; "error" is read as well.
                why = str(event.data.get("cause") or event.data.get("error") or status)
                lines = why.strip().splitlines()
                first = lines[0].rstrip(":") if lines else "the experiment failed"
                found = None if status == "ok" else first
        return found

    def has_workload(self, workload: str) -> bool:
        return any(s.workload == workload for s in self.samples)

    def workload_frame(self, pairs: Iterable[tuple[str, str]]) -> pd.DataFrame:
        wanted = set(pairs)
        rows = [vars(s) for s in self.samples if (s.workload, s.metric) in wanted]
        return pd.DataFrame(rows, columns=list(Sample.__dataclass_fields__))


def _accel(run: RunData) -> str:
    """run.json's accel, else what the VM trials or records say; "" when no VM ran."""
    fingerprint = run.meta.get("fingerprint", {})
    accel = fingerprint.get("accel", {}) if isinstance(fingerprint, Mapping) else {}
    found = accel.get("accel") if isinstance(accel, Mapping) else accel
    if found in ("tcg", "kvm"):
        return str(found)
    seen = {t.accel for t in run.trials if t.platform.startswith(VM)}
    seen |= {r.accel for r in run.experiments if r.platform.startswith(VM)}
    seen.discard("")
    return seen.pop() if len(seen) == 1 else ""


# --- statistics over records (bench.stats does the work) ---------------------------------------


@dataclass(frozen=True)
class _Stat:
    """A summarize() row, the parts the rules read."""

    workload: str
    platform: str
    metric: str
    median: float
    low: float
    high: float
    unit: str
    n: int
    ratio: float = math.nan
    ratio_low: float = math.nan
    ratio_high: float = math.nan
    verdict: str = ""

    def figure(self, note: str = "", metric: str = "") -> ClaimFigure:
        return ClaimFigure(
            self.platform,
            metric or self.metric,
            _finite(self.median),
            _finite(self.low),
            _finite(self.high),
            self.unit,
            self.n,
            note=note,
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summary(
    rows: Sequence[Mapping[str, Any]], baseline: str = NATIVE, **kwargs: Any
) -> list[_Stat]:
    """summarize() over rows with workload, metric, platform, value, unit, higher_is_better."""
    if not rows:
        return []
    frame = pd.DataFrame([{"warmup": False, **r} for r in rows])
    table = stats.summarize(frame, baseline=baseline, **kwargs)
    return [
        _Stat(
            workload=str(r["workload"]),
            platform=str(r["platform"]),
            metric=str(r["metric"]),
            median=float(r["median"]),
            low=float(r["ci_low"]),
            high=float(r["ci_high"]),
            unit=str(r["unit"]),
            n=int(r["n"]),
            ratio=float(r["ratio"]),
            ratio_low=float(r["ratio_low"]),
            ratio_high=float(r["ratio_high"]),
            verdict=str(r["verdict"]),
        )
        for r in table.to_dict("records")
    ]


def _record_stats(records: Iterable[ExperimentRecord]) -> dict[tuple[str, str], _Stat]:
    """Median and interval per (platform, metric) of records' numeric values."""
    rows = [
        {
            "workload": r.experiment,
            "metric": r.metric,
            "platform": r.platform,
            "value": r.value,
            "unit": r.unit,
            "higher_is_better": False,
        }
        for r in records
        if r.value is not None and math.isfinite(r.value)
    ]
    return {(s.platform, s.metric): s for s in _summary(rows)}


Order = Literal["below", "above", "overlap"]


def _order(a: _Stat, b: _Stat) -> Order:
    """Where a lies against b: apart by their intervals; with a single repeat on either side,
    by the values themselves (the caller adds the caveat)."""
    if a.n >= 2 and b.n >= 2 and math.isfinite(a.high) and math.isfinite(b.low):
        if a.high < b.low:
            return "below"
        if a.low > b.high:
            return "above"
        return "overlap"
    if a.median < b.median:
        return "below"
    return "above" if a.median > b.median else "overlap"


def _few(*found: _Stat) -> list[str]:
    """Caveats for small samples: no interval at all, or a rough one."""
    out = []
    single = sorted({f"{s.platform} {s.metric}" for s in found if s.n < 2})
    if single:
        out.append(
            f"one repeat only, no interval ({', '.join(single)}): values compared as they are"
        )
    few = sorted({f"{s.platform} {s.metric} n={s.n}" for s in found if 2 <= s.n < FEW})
    if few:
        out.append(f"fewer than {FEW} repeats ({', '.join(few)}): the intervals are rough")
    return out


def _num(value: float, unit: str = "") -> str:
    """A figure as the reason states it: bytes in MiB or GiB, others to four digits."""
    if not math.isfinite(value):
        return "-"
    if unit == "B":
        if abs(value) >= 2**30:
            return f"{value / 2**30:.3g} GiB"
        return f"{value / 2**20:.4g} MiB"
    if unit == "s" and abs(value) < 1:
        return f"{value * 1000:.4g} ms"
    return f"{value:.4g}" + (f" {unit}" if unit else "")


def _ci(s: _Stat) -> str:
    text = _num(s.median, s.unit)
    if s.n >= 2 and math.isfinite(s.low):
        text += f" [{_num(s.low, s.unit)}, {_num(s.high, s.unit)}]"
    return text + f" (n={s.n})"


def _missing(what: str, figures: Iterable[ClaimFigure] = ()) -> _Outcome:
    """Not enough to judge: say what is missing, and show what there is."""
    return _Outcome("not measured in this run", what, tuple(figures))


# --- C1 kernel ---------------------------------------------------------------------------------


def _kernel(data: _RunView) -> _Outcome:
    releases = {r.platform: r.text for r in data.records("kernel", "uname-r") if r.text}
    figures = tuple(
        ClaimFigure(p, "uname -r", None, None, None, "", 1, text=t) for p, t in releases.items()
    )
    missing = [p for p in (NATIVE, CONTAINER, VM) if p not in releases]
    if missing:
        return _Outcome(
            "not measured in this run",
            f"no kernel release from {', '.join(missing)}",
            figures,
        )
    host, container, vm = releases[NATIVE], releases[CONTAINER], releases[VM]
    shares = container == host
    own = vm != host
    verdict: Verdict = "supported" if shares and own else "not supported"
    reason = (
        f"The host runs {host}; the container reports {container}"
        f" ({'the same: it shares the host kernel' if shares else 'a different one'}); the VM"
        f" reports {vm} ({'its own' if own else 'the same as the host'})."
    )
    return _Outcome(verdict, reason, figures, key=f"host {host}, docker {container}, VM {vm}")


# --- C2 image size -------------------------------------------------------------------------------


def _image_size(data: _RunView) -> _Outcome:
    found = _record_stats(data.records("image-size"))
    figures = tuple(s.figure() for s in found.values())
    image = found.get((CONTAINER, "image-bytes"))
    vm = found.get((VM, "total-bytes"))
    if image is None or vm is None:
        return _Outcome(
            "not measured in this run",
            "needs the container's image-bytes and the VM's total-bytes",
            figures,
        )
    ratio = vm.median / image.median if image.median > 0 else math.inf
    big = ratio >= ORDER_OF_MAGNITUDE
    verdict: Verdict = "supported" if big else "not supported"
    reason = (
        f"The container image takes {_num(image.median, 'B')}; the VM needs"
        f" {_num(vm.median, 'B')} (disk, kernel and initramfs), {ratio:.3g}x as much,"
        f" {'at least' if big else 'less than'} the order of magnitude ({ORDER_OF_MAGNITUDE:g}x)"
        " the claim implies. Both hold the same userland, so the difference is the guest"
        " kernel, its initramfs and the file system's slack, not a bigger OS."
    )
    caveats = []
    if image.median >= 2**30:
        caveats.append("the container image itself is GB-sized: this userland is not minimal")
    key = f"image {_num(image.median, 'B')} vs VM {_num(vm.median, 'B')} ({ratio:.3g}x)"
    return _Outcome(verdict, reason, figures, tuple(caveats), key)


# --- C3 start-up ---------------------------------------------------------------------------------


def _startup(data: _RunView) -> _Outcome:
    frame = data.workload_frame((w, "startup_s") for w in STARTUP_WORKLOADS)
    found = {(s.workload, s.platform): s for s in _summary(_records_of(frame))}
    figures: list[ClaimFigure] = []
    judged: list[tuple[str, Order, _Stat, _Stat]] = []
    for workload in STARTUP_WORKLOADS:
        for s in (v for (w, _), v in found.items() if w == workload):
            figures.append(s.figure(metric=f"{workload} p50"))
            p95 = _p95(frame, workload, s.platform)
            figures.append(ClaimFigure(s.platform, f"{workload} p95", p95, None, None, "s", s.n))
        container, vm = found.get((workload, CONTAINER)), found.get((workload, VM))
        if container is not None and vm is not None:
            judged.append((workload, _order(container, vm), container, vm))
    if not judged:
        return _missing("no start-up samples on both docker and libvirt", figures)
    parts = [
        f"{w}: container p50 {_ci(c)}, VM {_ci(v)}"
        + (f", {v.median / c.median:.3g}x slower" if c.median > 0 else "")
        for w, _, c, v in judged
    ]
    faster = all(order == "below" for _, order, _, _ in judged)
    verdict: Verdict = "supported" if faster else "not supported"
    rule = "the container's p50 interval ends below the VM's" + (
        " for every start-up workload" if faster else ", which it does not everywhere"
    )
    caveats = _few(*(s for _, _, c, v in judged for s in (c, v)))
    if data.tcg:
        caveats.insert(
            0,
            TCG_SPEED + ": a TCG guest boots several times slower than under KVM, so the"
            " gap here overstates a real VM's; the published KVM-class figures (Firecracker"
            " <= 125 ms) show how fast a tuned VM can start",
        )
    caveats.append("p95 is a plain quantile of the repeats, without an interval")
    unjudged = [w for w in STARTUP_WORKLOADS if w not in {j[0] for j in judged}]
    if unjudged:
        caveats.append(f"{', '.join(unjudged)} not measured on both docker and libvirt")
    w, _, c, v = judged[0]
    key = f"{w} p50 docker {_num(c.median, c.unit)} vs VM {_num(v.median, v.unit)}"
    reason = "; ".join(parts) + f". Rule: {rule}."
    return _Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


def _p95(frame: pd.DataFrame, workload: str, platform: str) -> float | None:
    chosen = frame.loc[(frame["workload"] == workload) & (frame["platform"] == platform)]
    values = pd.to_numeric(chosen["value"], errors="coerce").dropna().to_numpy(np.float64)
    return float(np.quantile(values, 0.95)) if values.size else None


# --- C4 memory -----------------------------------------------------------------------------------


def _memory(data: _RunView) -> _Outcome:
    found = _record_stats(data.records("memory"))
    figures = [s.figure() for s in found.values()]
    footprint = _footprint(data)
    figures += [s.figure(metric="idle-footprint memory") for s in footprint.values()]
    pairs: list[tuple[str, _Stat, _Stat]] = []
    for metric in ("idle-bytes", "loaded-bytes"):
        container, vm = found.get((CONTAINER, metric)), found.get((VM, metric))
        if container is not None and vm is not None:
            pairs.append((metric, container, vm))
    source = "the memory experiment"
    if not pairs and CONTAINER in footprint and VM in footprint:
        pairs.append(("idle memory (idle-footprint workload)", footprint[CONTAINER], footprint[VM]))
        source = "the idle-footprint workload (the memory experiment did not run)"
    if not pairs:
        return _missing("needs idle memory of both a container and a VM", figures)
    parts = [f"{m}: container {_ci(c)}, VM {_ci(v)}" for m, c, v in pairs]
    less = all(_order(c, v) == "below" for _, c, v in pairs)
    verdict: Verdict = "supported" if less else "not supported"
    caveats = _few(*(s for _, c, v in pairs for s in (c, v)))
    if not any(m == "loaded-bytes" for m, _, _ in pairs):
        caveats.append("loaded memory not measured: whether a VM holds on to it is not tested")
    if data.tcg:
        caveats.append(
            "accel=tcg: QEMU's translated-code cache counts in the VM's memory; a KVM VM has none"
        )
    rule = "the container's interval ends below the VM's" + ("" if less else ", not everywhere")
    reason = f"From {source}: " + "; ".join(parts) + f". Rule: {rule}."
    m, c, v = pairs[0]
    key = f"{m.split(' (')[0]}: docker {_num(c.median, c.unit)} vs VM {_num(v.median, v.unit)}"
    return _Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


def _footprint(data: _RunView) -> dict[str, _Stat]:
    frame = data.workload_frame([("idle-footprint", "memory_mib")])
    if frame.empty:
        return {}
    return {s.platform: s for s in _summary(_records_of(frame))}


def _records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Sample rows as summarize() input (an empty list when there are none)."""
    columns = ["workload", "metric", "platform", "value", "unit", "higher_is_better"]
    return [{c: r[c] for c in columns} for r in frame.to_dict("records")]


# --- C5 disk -------------------------------------------------------------------------------------


def _disk(data: _RunView) -> _Outcome:
    found = _record_stats(data.records("disk-per-instance"))
    figures = tuple(s.figure() for s in found.values())
    container = found.get((CONTAINER, "bytes-after-work"))
    vm = found.get((VM, "bytes-after-work"))
    if container is None or vm is None:
        return _missing("needs bytes-after-work of both a container and a VM", figures)
    order = _order(container, vm)
    verdict: Verdict = "supported" if order == "below" else "not supported"
    reason = (
        f"Disk used by one more instance after the same work: container {_ci(container)},"
        f" VM {_ci(vm)}. Rule: the container's below the VM's, which it "
        + ("is." if order == "below" else "is not.")
    )
    key = f"docker {_num(container.median, 'B')} vs VM {_num(vm.median, 'B')}"
    return _Outcome(verdict, reason, figures, tuple(_few(container, vm)), key)


# --- C6 density ----------------------------------------------------------------------------------


def _density(data: _RunView) -> _Outcome:
    found = _record_stats(r for r in data.records("density") if r.metric != "startup-s")
    starts = _record_stats(data.records("density", "startup-s"))
    reasons = {r.platform: r.text for r in data.records("density", "stop-reason")}
    figures = [s.figure() for s in found.values()]
    figures += [s.figure(metric="startup-s (all instances)") for s in starts.values()]
    figures += [
        ClaimFigure(p, "stop-reason", None, None, None, "", 1, text=t) for p, t in reasons.items()
    ]
    container_count, vm_count = found.get((CONTAINER, "instances")), found.get((VM, "instances"))
    if container_count is None or vm_count is None:
        return _missing("needs the instance count of both containers and VMs", figures)
    c, v = container_count.median, vm_count.median
    per = {p: found.get((p, "bytes-per-instance")) for p in (CONTAINER, VM)}
    parts = [
        f"{p}: {n:.0f} instances (stopped by {reasons.get(p, 'unknown')})"
        + (
            f", {_num(b.median, 'B')} each, {2**30 / b.median:.3g} per GiB"
            if b and b.median > 0
            else ""
        )
        for p, n, b in ((CONTAINER, c, per[CONTAINER]), (VM, v, per[VM]))
    ]
    same_cap = c == v and reasons.get(CONTAINER) == reasons.get(VM)
    cb, vb = per[CONTAINER], per[VM]
    if c != v:
        verdict: Verdict = "supported" if c > v else "not supported"
        rule = "more containers than VMs started within the same limits"
    elif same_cap and cb is not None and vb is not None:
        verdict = "supported" if cb.median < vb.median else "not supported"
        rule = "both stopped at the same cap, so the memory each cost decides"
    else:
        verdict, rule = "not supported", "as many VMs as containers started"
    caveats = []
    if data.tcg and reasons.get(VM) == "deadline":
        caveats.append(
            "accel=tcg: the VMs hit the start-up deadline, and TCG boots slowly: under KVM"
            " more might have fit"
        )
    key = f"docker {c:.0f} vs VM {v:.0f} instances"
    reason = "; ".join(parts) + f". Rule: {rule}."
    return _Outcome(verdict, reason, tuple(figures), tuple(caveats), key)


# --- C7 elasticity -------------------------------------------------------------------------------


def _elasticity(data: _RunView) -> _Outcome:
    found = _record_stats(data.records("elasticity"))
    figures = tuple(s.figure() for s in found.values())
    times = [found[(CONTAINER, m)] for m in RESIZE_METRICS if (CONTAINER, m) in found]
    if not times:
        return _missing("no limit change measured on a container", figures)
    quick = all(s.median < QUICK_S for s in times)
    parts = [f"container {s.metric} {_ci(s)}" for s in times]
    parts += [f"VM {m} {_ci(found[(VM, m)])}" for m in RESIZE_METRICS if (VM, m) in found]
    verdict: Verdict = "supported" if quick else "not supported"
    rule = f"every change measured on the container takes effect within {QUICK_S:g} s (median)"
    caveats = _few(*times)
    if data.tcg and any(p == VM for p, _ in found):
        caveats.append(TCG_SPEED + ": the VM's resize times are emulated guest time")
    if (VM, "memory-effective-s") not in found and any(p == VM for p, _ in found):
        caveats.append("the VM's memory change has no effective time: see the records' detail")
    slowest = max(times, key=lambda s: s.median)
    key = f"docker slowest: {slowest.metric} {_num(slowest.median, 's')}"
    return _Outcome(verdict, "; ".join(parts) + f". Rule: {rule}.", figures, tuple(caveats), key)


# --- C8 overhead ---------------------------------------------------------------------------------


def _overhead(data: _RunView) -> _Outcome:
    frame = data.workload_frame(C8_METRICS)
    found = _summary(_records_of(frame), min_effects=_min_effects(data))
    figures = tuple(_ratio_figure(s) for s in found if s.platform != NATIVE)
    vm_rows = [s for s in found if s.platform == VM and math.isfinite(s.ratio)]
    container_rows = [s for s in found if s.platform == CONTAINER and math.isfinite(s.ratio)]
    containers = _tally(container_rows)
    if not vm_rows:
        return _missing("no VM samples of the CPU, memory, disk or network workloads")
    if data.tcg:
        return _Outcome(
            "not measurable here",
            "The claim is about virtualisation, and the VM ran under TCG: its figures measure"
            " software emulation, so no VM overhead is measured here. The container rows are"
            f" measured: {containers}.",
            figures,
            (TCG_SPEED,),
            f"VM: emulated; docker worse on {_worse(container_rows)}",
        )
    worse = sum(s.verdict == "worse" for s in vm_rows)
    verdict: Verdict = (
        "supported"
        if worse > len(vm_rows) / 2
        else "partly supported"
        if worse
        else "not supported"
    )
    reason = (
        f"The VM is worse than native on {worse} of {len(vm_rows)} metrics"
        f" ({_tally(vm_rows)}); the container: {containers}. Rule: worse (p < 0.01 and at least"
        " the minimum effect) on most metrics is supported, on some partly."
    )
    unclear = sum(s.verdict == "inconclusive" for s in vm_rows)
    if unclear:
        reason += f" {unclear} VM metric(s) are inconclusive: too few or too noisy repeats."
    key = f"VM worse on {_worse(vm_rows)}, docker on {_worse(container_rows)}"
    return _Outcome(verdict, reason, figures, key=key)


def _worse(rows: Sequence[_Stat]) -> str:
    return f"{sum(s.verdict == 'worse' for s in rows)}/{len(rows)} metrics"


def _min_effects(data: _RunView) -> dict[tuple[str, str], float]:
    from bench.report.compare import min_effects

    return min_effects(data.run.meta)


def _ratio_figure(s: _Stat) -> ClaimFigure:
    return ClaimFigure(
        s.platform,
        f"{s.workload} {s.metric}",
        _finite(s.ratio),
        _finite(s.ratio_low),
        _finite(s.ratio_high),
        "x native",
        s.n,
        note=f"{s.verdict}; median {_num(s.median, s.unit)}",
    )


def _tally(rows: Sequence[_Stat]) -> str:
    if not rows:
        return "none measured"
    return ", ".join(
        f"{s.workload} {s.metric} x{s.ratio:.3g} [{s.ratio_low:.3g}, {s.ratio_high:.3g}]"
        f" {s.verdict}"
        for s in rows
    )


# --- C9 para-virtualisation ----------------------------------------------------------------------


def _paravirt(data: _RunView) -> _Outcome:
    frame = data.workload_frame(C9_METRICS)
    platforms = set(frame["platform"]) if len(frame) else set()
    if VM not in platforms or EMULATED_VM not in platforms:
        return _missing(
            "the disk and network workloads did not run on both libvirt (virtio) and"
            " libvirt-emulated"
        )
    rows = _records_of(frame)
    versus_emulated = [s for s in _summary(rows, baseline=EMULATED_VM) if s.platform == VM]
    versus_native = [s for s in _summary(rows) if s.platform in (VM, EMULATED_VM)]
    figures = [_ratio_figure(s) for s in versus_native]
    figures += [
        ClaimFigure(
            VM,
            f"{s.workload} {s.metric}",
            _finite(s.ratio),
            _finite(s.ratio_low),
            _finite(s.ratio_high),
            "x libvirt-emulated",
            s.n,
            note=s.verdict,
        )
        for s in versus_emulated
    ]
    judged = [s for s in versus_emulated if math.isfinite(s.ratio)]
    better = sum(s.verdict == "better" for s in judged)
    faster = bool(judged) and better > len(judged) / 2
    vm_native = [s for s in versus_native if s.platform == VM and math.isfinite(s.ratio)]
    slower = bool(vm_native) and sum(s.verdict == "worse" for s in vm_native) > len(vm_native) / 2
    reason = (
        f"virtio is better than emulated devices on {better} of {len(judged)} metrics"
        f" (virtio over emulated: {_tally(judged)})"
    )
    if data.tcg:
        verdict: Verdict = "partly supported" if faster else "not supported"
        reason += (
            "; against the real machine nothing is measurable under TCG, where every guest"
            " instruction is emulated."
        )
        key = f"virtio better than emulated on {better}/{len(judged)}; vs native: emulated"
        return _Outcome(verdict, reason, tuple(figures), (TCG_SPEED,), key)
    verdict = (
        "supported" if faster and slower else "partly supported" if faster else "not supported"
    )
    reason += (
        f"; worse than native on {sum(s.verdict == 'worse' for s in vm_native)} of"
        f" {len(vm_native)}. Rule: most metrics must hold for each half."
    )
    key = (
        f"virtio better than emulated on {better}/{len(judged)}, worse than native on"
        f" {_worse(vm_native)}"
    )
    return _Outcome(verdict, reason, tuple(figures), key=key)


# --- C10 isolation -------------------------------------------------------------------------------


def _isolation(data: _RunView) -> _Outcome:
    slowdown = _slowdowns(data.records("isolation"))
    figures = tuple(
        ClaimFigure(
            platform,
            f"{victim} slowdown",
            *_slowdown(s),
            "fraction",
            s.n,
            note="1 - with neighbour / alone",
        )
        for (victim, platform), s in slowdown.items()
    )
    victims = sorted({v for v, _ in slowdown})
    compared = [
        (v, slowdown[(v, CONTAINER)], slowdown[(v, VM)])
        for v in victims
        if (v, CONTAINER) in slowdown and (v, VM) in slowdown
    ]
    if not compared:
        return _missing(
            "needs victim-alone and victim-with-neighbour of containers and VMs", figures
        )
    more = [v for v, c, m in compared if _apart(c, m) == "more"]
    less = [v for v, c, m in compared if _apart(c, m) == "less"]
    parts = [f"{v}: container {_slow_text(c)}, VM {_slow_text(m)}" for v, c, m in compared]
    verdict: Verdict = (
        "supported" if more and not less else "partly supported" if more else "not supported"
    )
    rule = (
        "the container loses more than the VM (intervals apart) for some victim, and less for none"
    )
    caveats = _few(*(s for _, c, m in compared for s in (c, m)))
    if data.tcg:
        caveats.append(
            "accel=tcg: a neighbour in a TCG VM works more slowly and so presses less on the"
            " shared caches, memory and disk: the VM rows may understate its interference"
        )
    key = "; ".join(
        f"{v}: docker {_slow_text(c).split(' ')[0]}, VM {_slow_text(m).split(' ')[0]}"
        for v, c, m in compared
    )
    return _Outcome(verdict, "; ".join(parts) + f". Rule: {rule}.", figures, tuple(caveats), key)


def _slowdowns(records: Iterable[ExperimentRecord]) -> dict[tuple[str, str], _Stat]:
    """Per (victim, platform): with-neighbour over alone, the ratio and its interval from
    summarize() with "alone" as the baseline."""
    phases = {"victim-alone": "alone", "victim-with-neighbour": "with"}
    keys: dict[str, tuple[str, str]] = {}
    rows = []
    for r in records:
        if r.metric not in phases or r.value is None or not math.isfinite(r.value):
            continue
        victim = str(r.detail.get("victim", "victim"))
        subject = f"{victim} on {r.platform}"
        keys[subject] = (victim, r.platform)
        rows.append(
            {
                "workload": "isolation",
                "metric": subject,
                "platform": phases[r.metric],
                "value": r.value,
                "unit": r.unit,
                "higher_is_better": True,
            }
        )
    found = _summary(rows, baseline="alone")
    return {keys[s.metric]: s for s in found if s.platform == "with"}


def _slowdown(s: _Stat) -> tuple[float | None, float | None, float | None]:
    return _finite(1 - s.ratio), _finite(1 - s.ratio_high), _finite(1 - s.ratio_low)


def _slow_text(s: _Stat) -> str:
    value, low, high = _slowdown(s)
    if value is None:
        return "-"
    text = f"{value:+.1%}"
    if low is not None and high is not None:
        text += f" [{low:+.1%}, {high:+.1%}]"
    return text + f" (n={s.n})"


def _apart(container: _Stat, vm: _Stat) -> str:
    """'more' when the container's slowdown interval lies above the VM's, 'less' below."""
    c_value, c_low, c_high = _slowdown(container)
    v_value, v_low, v_high = _slowdown(vm)
    if None in (c_low, c_high, v_low, v_high):
        if c_value is None or v_value is None or c_value == v_value:
            return "same"
        return "more" if c_value > v_value else "less"
    if c_low > v_high:  # type: ignore[operator]
        return "more"
    if c_high < v_low:  # type: ignore[operator]
        return "less"
    return "same"


# --- C11 visibility ------------------------------------------------------------------------------


def _visibility(data: _RunView) -> _Outcome:
    found = _record_stats(data.records("visibility"))
    figures = tuple(s.figure() for s in found.values())
    seen = {p: _sees_more(found, p) for p in (CONTAINER, VM)}
    if seen[CONTAINER] is None:
        return _missing(
            "needs nproc or the memory total inside a container, and its limits", figures
        )
    over = seen[CONTAINER]
    verdict: Verdict = "supported" if over else "not supported"
    reason = "Inside the container: " + _visible_text(found, CONTAINER)
    if seen[VM] is not None:
        reason += "; inside the VM: " + _visible_text(found, VM)
    reason += (
        ". Rule: supported when the container sees more CPUs or memory than its limits"
        f" (memory: more than {OVER_LIMIT:g}x)."
    )
    caveats = []
    if seen[VM]:
        caveats.append("the VM, too, sees more than its limits: check its domain's settings")
    key = "docker: " + _visible_text(found, CONTAINER)
    return _Outcome(verdict, reason, figures, tuple(caveats), key)


def _sees_more(found: Mapping[tuple[str, str], _Stat], platform: str) -> bool | None:
    """True when nproc or the memory total exceed the limits set; None when not measured."""
    answers = []
    nproc, vcpus = found.get((platform, "nproc")), found.get((platform, "limit-vcpus"))
    if nproc is not None and vcpus is not None:
        answers.append(nproc.median > vcpus.median)
    total, limit = (
        found.get((platform, "mem-total-bytes")),
        found.get((platform, "limit-memory-bytes")),
    )
    if total is not None and limit is not None:
        answers.append(total.median > OVER_LIMIT * limit.median)
    return any(answers) if answers else None


def _visible_text(found: Mapping[tuple[str, str], _Stat], platform: str) -> str:
    def value(metric: str, unit: str = "") -> str:
        s = found.get((platform, metric))
        return "-" if s is None else _num(s.median, unit)

    return (
        f"nproc {value('nproc')} for {value('limit-vcpus')} vCPUs set,"
        f" memory total {value('mem-total-bytes', 'B')} for a"
        f" {value('limit-memory-bytes', 'B')} limit"
    )


# --- C12 orchestration ---------------------------------------------------------------------------


def _orchestration(data: _RunView) -> _Outcome:
    return _Outcome(
        "not measurable here",
        "Orchestration across hosts needs several hosts; vcbench measures one. Future work:"
        " a kind or KubeVirt cluster.",
        key="one host",
    )
