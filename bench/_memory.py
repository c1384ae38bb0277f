"""Peak memory of the running process, for benchmarks that run each case in a process of its own."""

from __future__ import annotations

import math


def peak_rss_mib() -> float:
    """Peak resident set size of this process (``VmHWM``), MiB; NaN where /proc is missing.

    ``VmHWM`` starts afresh at exec, unlike ``ru_maxrss`` of a forked child, so a
    subprocess per case measures that case alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return math.nan
    return math.nan
