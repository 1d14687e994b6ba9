"""The benchmark's own parts: the peak-memory sampler and the side-by-side table of ratios."""

import numpy as np

from interp.bench import PeakMemory, format_table


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
    assert memory.peak >= 48 * 2**20


def test_table_prints_ratios_side_by_side():
    def method(seconds, peak, **sizes):
        return {"load_rss_bytes": 2**30, "lengths": {"128": {"seconds": seconds, "peak_bytes": peak, **sizes}}}

    results = {"weights_bytes": 2**30, "lengths": [128], "repeats": 3, "threads": 2, "methods": {
        "forward": method(2.0, 100 * 2**20),
        "extract": method(2.2, 50 * 2**20, store_bytes=10, store_write_seconds=0.1),
        "reference": method(4.0, 200 * 2**20, raw_bytes=1000),
    }}
    table = format_table(results)
    row = next(line for line in table.splitlines() if line.startswith("| 128 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[4:7] == ["1.10", "2.00", "0.010"] and cells[-1] == "0.25"
