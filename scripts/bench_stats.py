"""Percentiles and the machine load the benchmark scripts print, one way for all of them."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence


def p50(values: Sequence[float]) -> float | None:
    """The median, or None without values."""
    return statistics.median(values) if values else None


def p95(values: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile (the max for fewer than 20 values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, p50, p95 and max."""
    return {
        "n": len(values),
        "p50": p50(values),
        "p95": p95(values),
        "max": max(values) if values else None,
    }


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages and the CPU count, to print next to timings."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
