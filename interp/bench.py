"""Benchmark: extraction against a plain forward pass and against the reference study's method.

A random Mistral at full 7B width (hidden 4096, 32 heads, 8 key-value heads, intermediate
14336, vocabulary 32000) but only 2 layers fits a 24 GB, 2-core machine. Each method runs in
its own worker process, so that its peak memory is its own, on the same token ids:

- forward:   Hugging Face with its default (SDPA) attention, one plain forward pass;
- extract:   this project's extraction (TransformerBridge, reducing hooks), then the store write;
- reference: the reference study's method: Hugging Face eager attention with
             `output_attentions=True`, all layers held, the float32 tensor saved with `numpy.save`.

Times are medians over repeats after a warm-up; peak memory is the highest resident set size
sampled during the measured calls, above the resident size just before them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

BENCH_CONFIG = dict(
    hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
    vocab_size=32000, num_hidden_layers=2, max_position_embeddings=4096, sliding_window=None,
)
METHODS = ("forward", "extract", "reference")


class PeakMemory:
    """Samples this process's resident set size in a thread; `peak` is the most above `start`."""

    def __init__(self, interval: float = 0.002):
        self.process = psutil.Process()
        self.interval = interval
        self.start = self.highest = 0
        self._running = False

    def __enter__(self) -> PeakMemory:
        self.start = self.highest = self.process.memory_info().rss
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()
        self.highest = max(self.highest, self.process.memory_info().rss)

    def _sample(self) -> None:
        while self._running:
            self.highest = max(self.highest, self.process.memory_info().rss)
            time.sleep(self.interval)

    @property
    def peak(self) -> int:
        return self.highest - self.start


def build_bench_checkpoint(folder: Path, seed: int = 0) -> Path:
    """The random full-width, 2-layer Mistral, saved like any checkpoint (safetensors + tokenizer)."""
    from interp.tiny import build_tiny_mistral
    from interp.tokenizer import train_tokenizer

    if (folder / "config.json").is_file():
        return folder
    tokenizer = train_tokenizer(["The lessee shall pay the rent within thirty days."] * 20, vocab_size=120)
    return build_tiny_mistral(folder, tokenizer, seed=seed, **BENCH_CONFIG)


def token_ids(length: int, vocab: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [1] + rng.integers(3, vocab, size=length - 1).tolist()


def measure(call: Callable[[], object], repeats: int) -> tuple[float, int]:
    """Median seconds and peak extra memory over `repeats` calls, after one warm-up call."""
    call()
    times, peaks = [], []
    for _ in range(repeats):
        with PeakMemory() as memory:
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        peaks.append(memory.peak)
    return statistics.median(times), max(peaks)


def run_worker(method: str, folder: Path, lengths: list[int], repeats: int, threads: int) -> dict:
    """One method over every length in this process; returns its timings, memory and sizes."""
    import torch

    torch.set_num_threads(threads)
    before_load = psutil.Process().memory_info().rss
    setup = {"forward": _forward_call, "extract": _extract_call, "reference": _reference_call}[method]
    make_call, cleanup = setup(folder)
    # Safetensors are memory-mapped: weights count as resident only once a forward pass touched them.
    make_call(token_ids(16, BENCH_CONFIG["vocab_size"]))[0]()
    loaded_bytes = psutil.Process().memory_info().rss - before_load
    results = {"method": method, "load_rss_bytes": loaded_bytes, "lengths": {}}
    try:
        for length in lengths:
            call, sizes = make_call(token_ids(length, BENCH_CONFIG["vocab_size"]))
            seconds, peak = measure(call, repeats)
            results["lengths"][str(length)] = {"seconds": seconds, "peak_bytes": peak, **sizes()}
    finally:
        cleanup()
    return results


def _forward_call(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").eval()

    def make(ids):
        tokens = torch.tensor([ids])

        def call():
            with torch.inference_mode():
                return model(tokens).logits

        return call, dict

    return make, lambda: None


def _extract_call(folder: Path):
    from interp.alignment import AlignedSequence
    from interp.extract import extract_sequence
    from interp.lineage import Stage
    from interp.loader import free_stage, load_stage
    from interp.store import ResultsStore

    loaded = load_stage(Stage("bench", str(folder)), device="cpu", dtype="float32")
    scratch = tempfile.TemporaryDirectory()
    store = ResultsStore(scratch.name)

    def make(ids):
        n = len(ids)
        aligned = AlignedSequence(f"n{n}", ("t",) * n, tuple(ids), ((0, 0),) * n, np.zeros(n, dtype=bool), ((1,),), (), True)
        write_times: list[float] = []

        def call():
            attention = extract_sequence(loaded, ids, keep_patterns=True)
            began = time.perf_counter()
            store.write_entry("bench", aligned, attention.colsums, attention.patterns, key="bench")
            write_times.append(time.perf_counter() - began)

        def sizes():
            return {"store_bytes": store.bytes_of_entry("bench", aligned.sequence_id),
                    "store_write_seconds": statistics.median(write_times)}

        return call, sizes

    def cleanup():
        free_stage(loaded)
        scratch.cleanup()

    return make, cleanup


def _reference_call(folder: Path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    scratch = tempfile.TemporaryDirectory()

    def make(ids):
        tokens = torch.tensor([ids])
        path = Path(scratch.name) / f"attention-{len(ids)}.npy"

        def call():
            with torch.inference_mode():
                attentions = model(tokens, output_attentions=True).attentions
            np.save(path, torch.stack(attentions)[:, 0].float().numpy())

        return call, lambda: {"raw_bytes": path.stat().st_size}

    return make, scratch.cleanup


def run_benchmark(lengths: list[int], repeats: int, threads: int, folder: Path | None = None) -> dict:
    """Build the checkpoint once, then run each method in its own worker process."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = folder or Path(scratch) / "mistral-full-width-2-layers"
        print(f"building the benchmark checkpoint in {folder} ...", file=sys.stderr)
        build_bench_checkpoint(folder)
        weights = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        results = {"weights_bytes": weights, "lengths": lengths, "repeats": repeats, "threads": threads, "methods": {}}
        for method in METHODS:
            print(f"measuring {method} ...", file=sys.stderr)
            command = [sys.executable, "-m", "interp.bench", "--worker", method, "--folder", str(folder),
                       "--lengths", *map(str, lengths), "--repeats", str(repeats), "--threads", str(threads)]
            finished = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ.copy())
            if finished.returncode != 0:
                raise RuntimeError(f"benchmark worker {method} failed:\n{finished.stderr[-3000:]}")
            results["methods"][method] = json.loads(finished.stdout.strip().splitlines()[-1])
    return results


def format_table(results: dict) -> str:
    """The side-by-side table with the ratios the budgets speak of (DESIGN.md §7)."""
    methods = results["methods"]
    lines = [
        f"checkpoint: Mistral, hidden 4096, 32 heads (8 KV), intermediate 14336, vocab 32000, 2 layers; "
        f"weights {results['weights_bytes'] / 2**30:.2f} GiB float32; {results['threads']} threads; "
        f"median of {results['repeats']} runs",
        "| tokens | forward s | extract s | reference s | extract / forward | reference / forward "
        "| store / raw | peak MiB forward | peak MiB extract | peak MiB reference | extract / reference peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for length in map(str, results["lengths"]):
        f, e, r = (methods[m]["lengths"][length] for m in METHODS)
        lines.append(
            f"| {length} | {f['seconds']:.3f} | {e['seconds']:.3f} | {r['seconds']:.3f} "
            f"| {e['seconds'] / f['seconds']:.2f} | {r['seconds'] / f['seconds']:.2f} "
            f"| {e['store_bytes'] / r['raw_bytes']:.3f} "
            f"| {f['peak_bytes'] / 2**20:.0f} | {e['peak_bytes'] / 2**20:.0f} | {r['peak_bytes'] / 2**20:.0f} "
            f"| {e['peak_bytes'] / max(r['peak_bytes'], 1):.2f} |"
        )
    extract_load = methods["extract"]["load_rss_bytes"] / results["weights_bytes"]
    lines.append(f"loading through the bridge: resident memory {extract_load:.2f}× the weights "
                 f"(Hugging Face alone: {methods['forward']['load_rss_bytes'] / results['weights_bytes']:.2f}×)")
    store_write = ", ".join(f"{n}: {methods['extract']['lengths'][str(n)]['store_write_seconds']:.3f} s"
                            for n in results["lengths"])
    lines.append(f"of the extract time, the store write (compressed float16 triangles): {store_write}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interp bench", description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--folder", type=Path, default=None, help="where to build (or reuse) the checkpoint")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.folder, args.lengths, args.repeats, args.threads)))
        return 0
    results = run_benchmark(args.lengths, args.repeats, args.threads, args.folder)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
