"""How many CPUs this process may use: its affinity mask (what ``taskset`` or a container's
cpuset allow), not the machine's count. Defined here, in the pipeline's first package, because
every later one asks it: a folder of images is decoded on one thread per CPU, and a fit plans
its workers by it.

    >>> usable_cpus() >= 1
    True
"""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
