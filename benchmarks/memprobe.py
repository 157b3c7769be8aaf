"""Memory one engine keeps for one generated table, measured in a fresh interpreter.

``python -m benchmarks.memprobe ENGINE SIZE SEED WORKDIR [--no-cache]`` prints one JSON line. A fresh
process keeps the figures apart from everything else the main run loaded. The table's input (YAML
files, ZEN's JDM document) is made before the baseline, so the growth is the loaded engine alone.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from . import translate
from .engines import disable_caches
from .table import generate_complaints, generate_table


def _status_mib(field: str) -> float:
    """``VmRSS``/``VmHWM`` from /proc/self/status (``ru_maxrss`` would include the parent's peak,
    which Linux carries over ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe(engine: str, size: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Load the ``size``-row table into ``engine`` ("gesture" or "zen") and decide once, watching memory."""
    table = generate_table(size, seed)
    complaint = generate_complaints(1)[0]
    small = generate_table(8, seed)
    if engine == "gesture":
        from gesture_engine import load_policy

        home = Path(tempfile.mkdtemp(prefix="memprobe-", dir=workdir))
        path = home / "big"
        translate.write_gesture_policy(table, path)
        translate.write_gesture_policy(small, home / "small")
        load_policy(home / "small").decide(complaint)  # imports and first-use work, before the baseline

        def load() -> Any:
            policy = load_policy(path)
            policy.decide(complaint)
            return policy
    else:
        import zen

        document = {"big.json": translate.zen_jdm(table)}
        zen.ZenEngine({"loader": {"type": "static", "content": {"small.json": translate.zen_jdm(small)}}}).evaluate(
            "small.json", translate.zen_context(complaint))

        def load() -> Any:
            loaded = zen.ZenEngine({"loader": {"type": "static", "content": document}})
            loaded.evaluate("big.json", translate.zen_context(complaint))
            return loaded

    gc.collect()
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    loaded = load()
    seconds = time.perf_counter() - start
    gc.collect()
    after = _status_mib("VmRSS")
    peak = _status_mib("VmHWM")
    del loaded
    gc.collect()
    tracemalloc.start()  # a second load, traced: tracemalloc's own bookkeeping would inflate the RSS above
    loaded = load()
    gc.collect()
    heap = tracemalloc.get_traced_memory()[0]  # while the second load is still alive
    tracemalloc.stop()
    del loaded
    return {"engine": engine, "rows": size, "load_seconds": seconds, "rss_before_mib": before, "rss_retained_mib": after - before,
            "rss_peak_growth_mib": peak - before, "python_heap_retained_mib": heap / 2**20}


if __name__ == "__main__":
    name, rows, seed_text, directory, *flags = sys.argv[1:]
    knobs = disable_caches() if "--no-cache" in flags else []
    print(json.dumps({**probe(name, int(rows), int(seed_text), Path(directory)), "caches_disabled": knobs}))
