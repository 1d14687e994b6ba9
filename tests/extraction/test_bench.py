"""The benchmark's own parts: the peak-memory sampler, what fits, and the side-by-side table."""

import sys
import textwrap

from interp.extraction.bench import (
    CONFIGS,
    format_table,
    raw_bytes,
    run_command,
)


def peak_in_a_fresh_process(code: str, setup: str = "") -> int:
    """`PeakMemory().peak` around `code`, measured in a process of its own, as the benchmark runs
    each method: in this long-lived test process the allocator may hand back memory that is still
    resident from earlier tests, and the resident size rightly does not grow (CI measured 4 KiB
    for a 64 MiB array)."""
    import subprocess

    program = (f"import numpy as np\nfrom interp.extraction.bench import PeakMemory\n{setup}\n"
               f"with PeakMemory() as memory:\n{textwrap.indent(code, '    ')}\nprint(memory.peak)\n")
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    return int(ran.stdout.split()[-1])


def test_peak_memory_sees_an_allocation():
    assert peak_in_a_fresh_process("block = np.ones(64 * 2**20 // 8)\nblock.sum()") >= 48 * 2**20  # 64 MiB, touched


def test_a_child_that_shrinks_does_not_hide_this_process_growing():
    """A child (a browser left open by earlier work) that frees memory while this process grows
    must not hide the growth in the sum over both."""
    setup = """import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import sys, numpy; a = numpy.ones(2**25); a.sum(); print(1, flush=True); sys.stdin.readline()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
child.stdout.readline()"""
    code = """child.communicate("\\n", timeout=60)
block = np.ones(64 * 2**20 // 8)
block.sum()"""
    assert peak_in_a_fresh_process(code, setup) >= 48 * 2**20  # the child held 256 MiB at the start


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
