"""The benchmark's own parts: the peak-memory sampler, what fits, and the side-by-side table."""

import sys

import numpy as np

from interp.extraction.bench import (
    CONFIGS,
    PeakMemory,
    format_table,
    raw_bytes,
    run_command,
)


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
    assert memory.peak >= 48 * 2**20


def test_a_child_that_shrinks_does_not_hide_this_process_growing():
    """CI measured 4 KiB for the 64 MiB above: a child (a browser earlier tests left open) freed
    memory while this process grew, and the sum over both hardly moved."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import sys, numpy; a = numpy.ones(2**25); print(1, flush=True); "
                              "sys.stdin.readline()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()  # holding 256 MiB
        with PeakMemory() as memory:
            child.communicate("\n", timeout=60)  # frees it and exits
            block = np.ones(64 * 2**20 // 8)
            block.sum()
    finally:
        child.kill()
    assert memory.peak >= 48 * 2**20


def test_a_whole_command_is_timed_with_its_peak_memory():
    seconds, peak = run_command([sys.executable, "-c", "import numpy; a = numpy.ones(2**25); a.sum()"])
    assert seconds > 0 and peak > 2**25 * 8 * 0.75


def test_configurations_have_the_7b_attention_shape():
    assert (CONFIGS["depth"]["num_hidden_layers"], CONFIGS["depth"]["num_attention_heads"]) == (32, 32)
    assert CONFIGS["depth"]["num_key_value_heads"] == CONFIGS["width"]["num_key_value_heads"] == 8
    assert raw_bytes("depth", 2048) == 32 * 32 * 2048 * 2048 * 4


def test_table_prints_ratios_side_by_side():
    def method(seconds, peak, **sizes):
        return {"load_rss_bytes": 2**30, "lengths": {"512": {"seconds": seconds, "peak_bytes": peak, **sizes}}}

    results = {"lengths": [512], "repeats": 3, "threads": 2, "configs": {"depth": {"weights_bytes": 2**30, "methods": {
        "forward": method(2.0, 100 * 2**20),
        "extract": method(2.2, 150 * 2**20, store_bytes=raw_bytes("depth", 512) // 100, store_write_seconds=0.1),
        "reference": {"load_rss_bytes": 2**30, "lengths": {}},
    }}}}
    row = next(line for line in format_table(results).splitlines() if line.startswith("| depth | 512 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[4] == "1.10" and cells[7] == "1.50" and cells[8] == "0.0100"
    assert cells[9].startswith("does not fit")
