"""vcbench: what running a workload in a container or a VM costs, against native."""

__version__ = "0.1.0"
