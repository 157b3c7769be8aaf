"""Peak memory of one engine loading one generated table, run in a fresh interpreter.

``python -m benchmarks.memprobe ENGINE SIZE SEED WORKDIR`` prints one JSON line. A fresh process
keeps the figures apart from every other engine and table loaded by the main run.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from .engines import ENGINES
from .table import generate_complaints, generate_table


def _status_mib(field: str) -> float:
    """``VmRSS``/``VmHWM`` from /proc/self/status (``ru_maxrss`` would include the parent's peak,
    which Linux carries over ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe(key: str, size: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Generate the table, then load it into ``key`` and decide once, watching memory."""
    engine = next(e for e in ENGINES if e.key == key)
    table = generate_table(size, seed)
    complaints = generate_complaints(1)
    # import the engine's package before the baseline, so the growth is the table's, not the import's
    engine.prepare(generate_table(8, seed), complaints, workdir, {})
    before = _status_mib("VmRSS")
    prepared = engine.prepare(table, complaints, workdir, {})
    prepared.run(prepared.inputs[:1])
    peak_rss = _status_mib("VmHWM")
    del prepared
    gc.collect()
    tracemalloc.start()  # a second load, traced: tracemalloc's own bookkeeping would inflate the RSS above
    prepared = engine.prepare(table, complaints, workdir, {})
    prepared.run(prepared.inputs[:1])
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rss_before_mib": before, "rss_after_mib": peak_rss, "tracemalloc_peak_mib": peak / 2**20, "tracemalloc_retained_mib": retained / 2**20}

if __name__ == "__main__":
    name, rows, seed_text, directory = sys.argv[1:5]
    print(json.dumps(probe(name, int(rows), int(seed_text), Path(directory))))
