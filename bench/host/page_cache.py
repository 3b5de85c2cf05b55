"""The host's page cache, emptied on demand: cold start-up trials and the memory experiments
(MemAvailable must move with what instances hold, not with what happened to be cached)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DROP_CACHES: Final = Path("/proc/sys/vm/drop_caches")


def drop_caches() -> str | None:
    """Sync, then drop the page cache, dentries and inodes; why not, or None when done."""
    try:
        os.sync()  # dirty pages cannot be dropped: write them first
        DROP_CACHES.write_text("3\n")
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
