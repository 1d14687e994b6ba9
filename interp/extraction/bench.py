"""Benchmark: extraction against a plain forward pass and the reference study's method, side by side.

Two random Mistral checkpoints with the 7B models' attention shape, small enough for a 24 GB,
2-core machine: "width" (hidden 4096, 32 heads, 8 key-value heads, intermediate 14336, 2 layers)
and "depth" (the 7B models' 32 layers × 32 heads with 8 key-value heads and their 4,096-token
sliding window, hidden 1024: attention's cost and memory do not depend on the width). Each
method runs in its own worker process, so its peak memory is its own, on the same token ids:

- forward:   Hugging Face with its default (SDPA) attention, one plain forward pass;
- extract:   this project's extraction (TransformerBridge, blockwise statistics, a pattern window
             around a concept span) and the write of the entry into a results folder;
- reference: the reference study's method: Hugging Face eager attention with
             `output_attentions=True`, all layers held, the float32 tensor saved with `numpy.save`,
             run only where its `[layers, heads, n, n]` tensor fits in memory.

Times are medians over repeats after a warm-up; peak memory is the highest resident set size
sampled during the measured calls, above the resident size just before them. `--commands` also
times whole commands as a user runs them: `python -m interp extract` over a two-stage lineage
against a process that loads the same checkpoint and runs one SDPA forward pass.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

CONFIGS = {
    "width": dict(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336,
                  vocab_size=32000, num_hidden_layers=2, max_position_embeddings=8192, sliding_window=None),
    "depth": dict(hidden_size=1024, num_attention_heads=32, num_key_value_heads=8, intermediate_size=2048,
                  vocab_size=32000, num_hidden_layers=32, max_position_embeddings=8192, sliding_window=4096),
}
METHODS = ("forward", "extract", "reference")
SPAN = (0.45, 0.47)  # where the benchmark's concept span lies, as fractions of the sequence


class PeakMemory:
    """The peak resident set size of a process (and its children) above `start`.

    Sampled in a thread; for this process also the kernel's own high-water mark (`VmHWM`, reset on
    entry through `/proc/self/clear_refs`), exact however briefly an allocation lived and however
    late the sampling thread was scheduled on a busy machine. This process's own peak (sampled, and
    its high-water mark) is also compared with its own resident size at entry, not only the sum
    over its children: a child that shrinks meanwhile, such as a browser left open by earlier
    work, would hide the growth."""

    def __init__(self, process: psutil.Process | None = None, interval: float = 0.002):
        self.process = process or psutil.Process()
        self.interval = interval
        self.start = self.highest = 0
        self._running = False
        self._own_mark = False
        self._own_start = self._own_peak = 0

    def __enter__(self) -> PeakMemory:
        self._own_mark = self.process.pid == os.getpid() and _reset_high_water_mark()
        self._own_start = self.process.memory_info().rss
        self.start = self.highest = self._rss()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()
        self.highest = max(self.highest, self._rss())
        if self._own_mark:
            self._own_peak = max(self._own_peak, _high_water_mark() - self._own_start)

    def _rss(self) -> int:
        try:
            processes = [self.process, *self.process.children(recursive=True)]
            return sum(p.memory_info().rss for p in processes)
        except psutil.NoSuchProcess:
            return self.highest

    def _sample(self) -> None:
        own = self.process.pid == os.getpid()
        while self._running:
            self.highest = max(self.highest, self._rss())
            if own:
                self._own_peak = max(self._own_peak, self.process.memory_info().rss - self._own_start)
            time.sleep(self.interval)

    @property
    def peak(self) -> int:
        return max(self.highest - self.start, self._own_peak)


def _reset_high_water_mark() -> bool:
    """Reset this process's peak RSS (`VmHWM`) to its current RSS, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _high_water_mark() -> int:
    """This process's peak RSS since the last reset, in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def build_bench_checkpoint(folder: Path, config: str, seed: int = 0) -> Path:
    """A random checkpoint of one benchmark configuration, saved like any other (safetensors)."""
    from interp.models.tiny import build_tiny_mistral, train_tokenizer

    if (folder / "config.json").is_file():
        return folder
    tokenizer = train_tokenizer(["The lessee shall pay the rent within thirty days."] * 20, vocab_size=120)
    return build_tiny_mistral(folder, tokenizer, seed=seed, **CONFIGS[config])


def token_ids(length: int, vocab: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [1] + rng.integers(3, vocab, size=length - 1).tolist()


def raw_bytes(config: str, n: int) -> int:
    """Bytes of the reference method's float32 tensor `[layers, heads, n, n]`."""
    settings = CONFIGS[config]
    return settings["num_hidden_layers"] * settings["num_attention_heads"] * n * n * 4


def reference_fits(config: str, n: int) -> bool:
    """Whether holding every layer's attention (and the copy `numpy.save` makes) fits in memory."""
    return 2.5 * raw_bytes(config, n) < 0.8 * psutil.virtual_memory().available


def measure(call: Callable[[], object], repeats: int, warm_up: bool = True) -> tuple[float, int]:
    """Median seconds and peak extra memory over `repeats` calls, after one warm-up call (left out
    for the longest inputs, which run after shorter ones have warmed the process up)."""
    if warm_up:
        call()
    times, peaks = [], []
    for _ in range(repeats):
        with PeakMemory() as memory:
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        peaks.append(memory.peak)
    return statistics.median(times), max(peaks)


def run_worker(method: str, config: str, folder: Path, lengths: list[int], repeats: int, threads: int) -> dict:
    """One method over every length in this process; returns its timings, memory and sizes."""
    import torch

    torch.set_num_threads(threads)
    before_load = psutil.Process().memory_info().rss
    setup = {"forward": _forward_call, "extract": _extract_call, "reference": _reference_call}[method]
    make_call, cleanup = setup(folder)
    vocab = CONFIGS[config]["vocab_size"]
    # Safetensors are memory-mapped: weights count as resident only once a forward pass touched them.
    make_call(token_ids(16, vocab))[0]()
    results = {"method": method, "load_rss_bytes": psutil.Process().memory_info().rss - before_load, "lengths": {}}
    try:
        for length in lengths:
            if method == "reference" and not reference_fits(config, length):
                continue
            call, sizes = make_call(token_ids(length, vocab))
            seconds, peak = measure(call, repeats if length < 8192 else 1, warm_up=length < 8192)
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
                return model(tokens, logits_to_keep=1, use_cache=False).logits

        return call, dict

    return make, lambda: None


def _extract_call(folder: Path):
    from interp.concepts.alignment import AlignedSequence, concept_window
    from interp.extraction.extract import ExtractionRequest, extract_sequence
    from interp.models.lineage import Stage
    from interp.models.loader import free_stage, load_stage
    from interp.store.entries import PatternLayout
    from interp.store.folder import ResultsStore

    loaded = load_stage(Stage("bench", str(folder)), device="cpu", dtype="float32")
    scratch = tempfile.TemporaryDirectory()
    store = ResultsStore(scratch.name)

    def make(ids):
        n = len(ids)
        span = tuple(range(int(SPAN[0] * n), max(int(SPAN[1] * n), int(SPAN[0] * n) + 1)))
        mask = np.zeros(n, dtype=bool)
        mask[list(span)] = True
        aligned = AlignedSequence(f"n{n}", ("t",) * n, tuple(ids), ((0, 0),) * n, mask, (span,), (), True)
        layout = PatternLayout("window", *concept_window(mask, n))
        write_times: list[float] = []

        def call():
            writer = store.entry_writer("bench", aligned, loaded.n_layers, loaded.n_heads, layout)
            request = ExtractionRequest("window", (layout.start, layout.end), (span,))
            attention = extract_sequence(loaded, ids, request, on_patterns=writer.write_layer)
            began = time.perf_counter()
            writer.finish(attention.colsums, attention.norms, attention.span_attention, key="bench")
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
                attentions = model(tokens, output_attentions=True, use_cache=False).attentions
            np.save(path, torch.stack(attentions)[:, 0].float().numpy())
            path.unlink()

        return call, dict

    return make, scratch.cleanup


def run_benchmark(configs: list[str], lengths: list[int], repeats: int, threads: int, folder: Path) -> dict:
    """Build each configuration's checkpoint once, then run each method in its own process."""
    results = {"lengths": lengths, "repeats": repeats, "threads": threads, "configs": {}}
    for config in configs:
        checkpoint = folder / config
        print(f"building the {config} checkpoint in {checkpoint} ...", file=sys.stderr)
        build_bench_checkpoint(checkpoint, config)
        entry = {"weights_bytes": sum(p.stat().st_size for p in checkpoint.glob("*.safetensors")), "methods": {}}
        for method in METHODS:
            print(f"measuring {method} on {config} ...", file=sys.stderr)
            command = [sys.executable, "-m", "interp.extraction.bench", "--worker", method, "--config", config,
                       "--folder", str(checkpoint), "--lengths", *map(str, lengths), "--repeats", str(repeats),
                       "--threads", str(threads)]
            finished = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ.copy())
            if finished.returncode != 0:
                raise RuntimeError(f"benchmark worker {method} failed:\n{finished.stderr[-3000:]}")
            entry["methods"][method] = json.loads(finished.stdout.strip().splitlines()[-1])
        results["configs"][config] = entry
    return results


def run_command(command: list[str], env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident memory of a whole command: the higher of the kernel's own
    peak for the process (`wait4`'s `ru_maxrss`, exact however briefly it lasted) and the
    sampled sum over the process and its children (for commands that start workers)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or os.environ.copy())
    with PeakMemory(psutil.Process(process.pid), interval=0.05) as memory:
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{errors.decode(errors='replace')[-3000:]}")
    return time.perf_counter() - began, max(memory.highest, usage.ru_maxrss * 1024)


@dataclass(frozen=True)
class CommandInputs:
    """What the whole-command comparisons run on: two depth checkpoints, a lineage file naming them,
    a concept file of one sequence of about the asked length, and the baseline's command."""

    lineage: Path
    concepts: Path
    tokens: int
    env: dict
    baseline: list[str]


def command_inputs(folder: Path, tokens: int, threads: int) -> CommandInputs:
    from interp.models.tokenizers import load_tokenizer

    stages = [build_bench_checkpoint(folder / f"depth-stage-{seed}", "depth", seed=seed) for seed in (1, 2)]
    tokenizer = load_tokenizer(str(stages[0]))
    sentence = "The lessee shall pay the rent within thirty days. "
    per_sentence = len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
    text = sentence * ((tokens - 1) // per_sentence)
    concepts = folder / f"command-concepts-{tokens}.json"
    concepts.write_text(json.dumps({"set": "bench", "sequences": [{
        "id": "long", "concept": "Condition", "text": text, "spans": [{"text": "within thirty days", "occurrence": 5}]}]}))
    lineage = folder / "command-lineage.yaml"
    lineage.write_text("name: bench\nstages:\n" + "".join(f"  - {{label: s{i}, model: '{p}'}}\n" for i, p in enumerate(stages)))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    baseline = (
        "import sys, torch; from transformers import AutoModelForCausalLM, AutoTokenizer; "
        f"torch.set_num_threads({threads}); folder = sys.argv[1]; text = open(sys.argv[2]).read(); "
        "import json; text = json.loads(text)['sequences'][0]['text']; "
        "ids = AutoTokenizer.from_pretrained(folder)(text, return_tensors='pt')['input_ids']; "
        "model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='sdpa').eval(); "
        "torch.inference_mode()(lambda: model(ids, logits_to_keep=1, use_cache=False))()"
    )
    return CommandInputs(lineage, concepts, len(tokenizer(text)["input_ids"]), env,
                         [sys.executable, "-c", baseline, str(stages[0]), str(concepts)])


def command_comparison(folder: Path, tokens: int, threads: int) -> dict:
    """`python -m interp extract` over two stages of the depth configuration against a process
    that loads one of them and runs one SDPA forward pass, on one sequence of `tokens` tokens."""
    inputs = command_inputs(folder, tokens, threads)
    forward_seconds, forward_peak = run_command(inputs.baseline, inputs.env)
    with tempfile.TemporaryDirectory() as out:
        extract_seconds, extract_peak = run_command(
            [sys.executable, "-m", "interp", "extract", "--lineage", str(inputs.lineage), "--concepts",
             str(inputs.concepts), "--out", str(Path(out) / "run"), "--device", "cpu"], inputs.env)
        store_bytes = sum(p.stat().st_size for p in (Path(out) / "run" / "entries").rglob("*") if p.is_file()) / 2
    return {"tokens": inputs.tokens, "forward_seconds": forward_seconds, "forward_peak": forward_peak,
            "extract_seconds_per_stage": extract_seconds / 2, "extract_peak": extract_peak,
            "store_bytes_per_stage": store_bytes, "raw_bytes": raw_bytes("depth", inputs.tokens)}


# Exact verification in the benchmark: this many heads, each alone and all together, under every intervention.
VERIFIED_HEADS = 16


def causal_comparison(folder: Path, tokens: int, threads: int, verified: int = VERIFIED_HEADS) -> dict:
    """The causal check's whole commands on the depth configuration (32 × 32 heads, 8 KV heads)
    against a process that loads one stage and runs one SDPA forward pass: `causal --method atp`
    (every head of one stage pair screened) and `causal --method exact` on `verified` heads (each
    alone and all together, patch, pattern and mean: 3 · (verified + 1) interventions)."""
    inputs = command_inputs(folder, tokens, threads)
    forward_seconds, forward_peak = run_command(inputs.baseline, inputs.env)
    heads = ",".join(f"{2 * i}.{2 * i}" for i in range(verified))
    with tempfile.TemporaryDirectory() as out:
        run = str(Path(out) / "run")
        run_command([sys.executable, "-m", "interp", "extract", "--lineage", str(inputs.lineage), "--concepts",
                     str(inputs.concepts), "--out", run, "--device", "cpu", "--patterns", "none"], inputs.env)
        causal = [sys.executable, "-m", "interp", "causal", run, "--source", "s0", "--target", "s1", "--device", "cpu",
                  "--format", "csv"]
        atp_seconds, atp_peak = run_command([*causal, "--method", "atp"], inputs.env)
        exact_seconds, exact_peak = run_command([*causal, "--method", "exact", "--heads", heads, "--random", "0"],
                                                inputs.env)
    trials = 3 * (verified + 1)
    return {"tokens": inputs.tokens, "forward_seconds": forward_seconds, "forward_peak": forward_peak,
            "atp_seconds": atp_seconds, "atp_peak": atp_peak, "exact_seconds": exact_seconds,
            "exact_peak": exact_peak, "exact_trials": trials, "verified_heads": verified}


def format_table(results: dict) -> str:
    """The side-by-side table with the ratios the budgets speak of (docs/design.md §9)."""
    lines = [
        f"{results['threads']} threads; median of {results['repeats']} runs (one at 8,192 tokens); "
        "peak = most resident memory above the level before the call",
        "| checkpoint | tokens | forward s | extract s | extract / forward | peak MiB forward | peak MiB extract "
        "| extract / forward peak | store / raw | reference s | reference peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ] if results["configs"] else []
    for config, entry in results["configs"].items():
        methods = entry["methods"]
        for length in map(str, results["lengths"]):
            f, e = methods["forward"]["lengths"][length], methods["extract"]["lengths"][length]
            r = methods["reference"]["lengths"].get(length)
            reference = (f"{r['seconds']:.2f} | {r['peak_bytes'] / 2**20:,.0f}" if r else
                         f"does not fit ({raw_bytes(config, int(length)) / 2**30:,.0f} GiB) | —")
            lines.append(
                f"| {config} | {length} | {f['seconds']:.2f} | {e['seconds']:.2f} | {e['seconds'] / f['seconds']:.2f} "
                f"| {f['peak_bytes'] / 2**20:,.0f} | {e['peak_bytes'] / 2**20:,.0f} "
                f"| {e['peak_bytes'] / max(f['peak_bytes'], 1):.2f} | {e['store_bytes'] / raw_bytes(config, int(length)):.4f} "
                f"| {reference} |"
            )
        load = methods["extract"]["load_rss_bytes"] / entry["weights_bytes"]
        lines.append(f"{config}: loading through the bridge holds {load:.2f}× the weights in memory "
                     f"(Hugging Face alone: {methods['forward']['load_rss_bytes'] / entry['weights_bytes']:.2f}×)")
    command = results.get("command")
    if command:
        lines.append(
            f"whole commands, depth checkpoint, {command['tokens']} tokens: `python -m interp extract` "
            f"{command['extract_seconds_per_stage']:.1f} s per stage, peak {command['extract_peak'] / 2**30:.2f} GiB; "
            f"load + one SDPA forward pass {command['forward_seconds']:.1f} s, peak {command['forward_peak'] / 2**30:.2f} GiB "
            f"({command['extract_seconds_per_stage'] / command['forward_seconds']:.2f}× the time, "
            f"{command['extract_peak'] / command['forward_peak']:.2f}× the memory); "
            f"store {command['store_bytes_per_stage'] / command['raw_bytes']:.4f}× the raw tensor"
        )
    for causal in results.get("causal", []):
        lines.append(
            f"causal check, depth checkpoint, {causal['tokens']} tokens: `causal --method atp` (every head, patch, "
            f"pattern and mean) {causal['atp_seconds']:.1f} s, peak {causal['atp_peak'] / 2**30:.2f} GiB "
            f"({causal['atp_seconds'] / causal['forward_seconds']:.2f}× the time, "
            f"{causal['atp_peak'] / causal['forward_peak']:.2f}× the memory of load + one SDPA forward pass, "
            f"{causal['forward_seconds']:.1f} s and {causal['forward_peak'] / 2**30:.2f} GiB); `causal --method exact` "
            f"on {causal['verified_heads']} heads ({causal['exact_trials']} interventions) {causal['exact_seconds']:.1f} s "
            f"({causal['exact_seconds'] / causal['forward_seconds']:.2f}× load + forward), peak "
            f"{causal['exact_peak'] / 2**30:.2f} GiB"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interp bench", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--lengths", type=int, nargs="*", default=[512, 2048, 8192],
                        help="lengths of the extraction benchmark (none: only the whole commands asked for)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--commands", type=int, default=0, metavar="TOKENS",
                        help="also time whole commands on a sequence of about this many tokens (0: skip)")
    parser.add_argument("--causal", type=int, nargs="*", default=[], metavar="TOKENS",
                        help="also time the causal check's commands (AtP screen, exact verification) at these lengths")
    parser.add_argument("--verify", type=int, default=VERIFIED_HEADS, metavar="N",
                        help=f"heads exact patching verifies in the causal timing (default {VERIFIED_HEADS}; at most 16)")
    parser.add_argument("--folder", type=Path, default=None, help="where to build (or reuse) the checkpoints")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--config", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.config, args.folder, args.lengths, args.repeats, args.threads)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        results = run_benchmark(args.configs, args.lengths, args.repeats, args.threads, folder) if args.lengths else \
            {"lengths": [], "repeats": args.repeats, "threads": args.threads, "configs": {}}
        if args.commands:
            print("timing whole commands ...", file=sys.stderr)
            results["command"] = command_comparison(folder, args.commands, args.threads)
        for tokens in args.causal:
            print(f"timing the causal check at {tokens} tokens ...", file=sys.stderr)
            results.setdefault("causal", []).append(causal_comparison(folder, tokens, args.threads,
                                                                      min(max(args.verify, 1), VERIFIED_HEADS)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
