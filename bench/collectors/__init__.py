"""Samplers around every benchmark trial: the host, and each platform's own figures, read
from cgroup and /proc files and libvirt at a fixed rate on a daemon thread."""

from bench.collectors.records import Field, Reading, SamplerCost, SeriesSummary, Source
from bench.collectors.sampler import Sampler
from bench.collectors.sources import sources_for

__all__ = ["Field", "Reading", "Sampler", "SamplerCost", "SeriesSummary", "Source", "sources_for"]
