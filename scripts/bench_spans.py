"""Spans, long texts and oversized requests, timed as a user (or an attacker) meets them.

Usage: python scripts/bench_spans.py [--dir DIR] [--only NAME ...]

Each case prints its wall seconds (and peak memory where that is the point) beside what the
command answered. Commands run as fresh `python -m interp` processes, imports included:

- `refuse-long`: `extract --lineage demo` of one ~59,000-character sequence (about 48,000 demo
  tokens) with 10,000 spans: refused for the model's context of 512 tokens.
- `align`: `align_sequence` of an 8,000-token sequence with 1,000 spans (in this process).
- `validate-occurrence`: `concepts validate` of `"holder " × n` with 10,000 and 20,000 spans given
  by occurrence (`INTERP_MAX_SPANS=20000` for the second).
- `extract-spans`: `extract --lineage demo` of 500 spans in under 512 tokens (and of 32, the most
  the Structure view draws), the size of what it stored, and the Structure view of that run (its
  time and the JSON size of its figures).
- `span-attention-cost`: `extract_sequence` of one demo stage with 500 spans and with one, the
  span × span attention computed for all (in one process).
- `long-line`: `concepts validate` and `extract` of a one-line `.jsonl` of 10 MB (peak memory).
- `generate`: `concepts generate --per-type 20000` and `--per-type 10000000`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CASES = ("refuse-long", "align", "validate-occurrence", "extract-spans", "span-attention-cost", "long-line",
         "generate")


def interp(*args: str) -> list[str]:
    return [sys.executable, "-m", "interp", *args]


TIMEOUT = 600.0


def run(command: list[str], env: dict | None = None, timeout: float | None = None) -> tuple[float, int, int, str]:
    """Wall seconds, peak resident bytes (the kernel's own peak, `wait4`), exit code and the last
    line the command wrote to stderr (or stdout) of `command`; killed after `timeout` seconds."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        deadline = began + (timeout or TIMEOUT)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                psutil.Process(process.pid).kill()
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        text = (err.read() or out.read()).decode(errors="replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024, code, (text[-1][:160] if text else "")


def report(label: str, wall: float, peak: int | None, code: int | None, said: str) -> None:
    memory = f"{peak / 2**20:8.0f} MB" if peak is not None else " " * 11
    status = f"exit {code}" if code is not None else "      "
    print(f"{label:<44} {wall:8.2f} s {memory}  {status}  {said}", flush=True)


def concept_file(path: Path, text: str, spans: list[dict], suffix: str = ".json") -> Path:
    item = {"id": "long", "concept": "Condition", "text": text, "spans": spans}
    if suffix == ".jsonl":
        path.write_text(json.dumps(item) + "\n")
    else:
        path.write_text(json.dumps({"set": "bench", "sequences": [item]}))
    return path


def random_words(length: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(length))


def refuse_long(folder: Path) -> None:
    text = random_words(58_889)
    spans = [{"start": 5 * i, "end": 5 * i + 3} for i in range(10_000)]
    spans = [span for span in spans if text[span["start"]:span["end"]].strip()]
    path = concept_file(folder / "long.json", text, spans)
    wall, peak, code, said = run(interp("extract", "--lineage", "demo", "--concepts", str(path),
                                        "--out", str(folder / "long-run")))
    report(f"extract, {len(text):,} chars, {len(spans):,} spans", wall, peak, code, said)


def align(folder: Path) -> None:
    from interp.concepts.alignment import align_sequence
    from interp.concepts.files import ConceptSequence, Span
    from interp.models.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(str(_demo_stage("base")))
    sentence = "The lessee shall pay the rent within thirty days. "
    per = len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
    text = sentence * (8_000 // per)
    words = [(i * len(sentence) + sentence.index(word), word) for i in range(len(text) // len(sentence))
             for word in ("lessee", "rent", "days")]
    chosen = words[::max(1, len(words) // 1_000)][:1_000]
    spans = tuple(Span(start, start + len(word), word) for start, word in chosen)
    sequence = ConceptSequence("long", "Condition", text, spans)
    began = time.perf_counter()
    aligned = align_sequence(sequence, tokenizer)
    wall = time.perf_counter() - began
    report(f"align_sequence, {aligned.n_tokens:,} tokens, {len(spans):,} spans", wall, None, None, "")


def validate_occurrence(folder: Path) -> None:
    for count in (10_000, 20_000):
        spans = [{"text": "holder", "occurrence": k} for k in range(1, count + 1)]
        path = concept_file(folder / f"holder-{count}.json", "holder " * count, spans)
        wall, peak, code, said = run(interp("concepts", "validate", str(path)), env={"INTERP_MAX_SPANS": "20000"})
        report(f"concepts validate, {count:,} spans by occurrence", wall, peak, code, said)
    spans = [{"start": 7 * k, "end": 7 * k + 6} for k in range(10_000)]
    path = concept_file(folder / "holder-offsets.json", "holder " * 10_000, spans)
    wall, peak, code, said = run(interp("concepts", "validate", str(path)))
    report("concepts validate, 10,000 spans by offsets", wall, peak, code, said)


def extract_spans(folder: Path) -> None:
    from interp import views
    from interp.analysis.results import Results

    for count in (500, 32):
        path = concept_file(folder / f"spans-{count}.json", "holder " * count,
                            [{"text": "holder", "occurrence": k} for k in range(1, count + 1)])
        out = folder / f"spans-run-{count}"
        wall, peak, code, said = run(interp("extract", "--lineage", "demo", "--concepts", str(path), "--out", str(out)))
        stored = sum(p.stat().st_size for p in (out / "entries").rglob("*") if p.is_file()) if out.is_dir() else 0
        report(f"extract, {count} spans, store {stored / 2**20:.1f} MB", wall, peak, code, said)
        if code != 0:
            continue
        results = Results(out)
        view = views.get_view("structure")
        began = time.perf_counter()
        reason = view.unavailable(results)
        if reason:
            report("Structure view", time.perf_counter() - began, None, None, f"unavailable: {reason}")
            continue
        output = view.compute(results, **views.resolve_choices(view, results))
        sizes = [len(figure.to_json()) for figure in output.figures.values()]
        wall = time.perf_counter() - began
        notes = " ".join(output.notes)[:100]
        report(f"Structure view, {len(sizes)} figures, {sum(sizes) / 2**20:.1f} MB JSON", wall, None, None, notes)


def span_attention_cost(folder: Path) -> None:
    """`extract_sequence` on the demo's base stage over 500 single-word spans and over one, the
    span × span attention computed for all of them (the bound on what is stored aside)."""
    from interp.extraction.extract import ExtractionRequest, extract_sequence
    from interp.models.lineage import Stage
    from interp.models.loader import free_stage, load_stage

    loaded = load_stage(Stage("base", str(_demo_stage("base"))), device="cpu", dtype="float32")
    try:
        ids = loaded.tokenizer("holder " * 500)["input_ids"][:512]
        spans = tuple((position,) for position in range(1, 501))
        for label, chosen in (("1 span", spans[:1]), ("500 spans", spans)):
            began = time.perf_counter()
            attention = extract_sequence(loaded, ids, ExtractionRequest("window", (0, len(ids)), chosen))
            stored = attention.span_attention.nbytes / 2**20
            report(f"extract_sequence, {len(ids)} tokens, {label} ({stored:.1f} MB)", time.perf_counter() - began,
                   None, None, "")
    finally:
        free_stage(loaded)


def long_line(folder: Path) -> None:
    path = concept_file(folder / "long-line.jsonl", "holder " * (10 * 2**20 // 7), [{"text": "holder"}], ".jsonl")
    wall, peak, code, said = run(interp("concepts", "validate", str(path)))
    report(f"concepts validate, one line of {path.stat().st_size / 2**20:.0f} MB", wall, peak, code, said)
    wall, peak, code, said = run(interp("extract", "--lineage", "demo", "--concepts", str(path),
                                        "--out", str(folder / "long-line-run")))
    report("extract, the same file", wall, peak, code, said)


def generate(folder: Path) -> None:
    for per_type in (20_000, 10_000_000):
        out = folder / f"generated-{per_type}.jsonl"
        wall, peak, code, said = run(interp("concepts", "generate", "--per-type", str(per_type), "--out", str(out)),
                                     timeout=120)
        size = f", wrote {out.stat().st_size / 2**20:.0f} MB" if out.is_file() else ""
        report(f"concepts generate --per-type {per_type:,}{size}", wall, peak, code, said)


def _demo_stage(label: str) -> Path:
    from interp.demo.resolve import resolve_lineage_models
    from interp.models.lineage import load_lineage

    lineage = resolve_lineage_models(load_lineage("demo"))
    return Path(next(stage.model for stage in lineage.stages if stage.label == label))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--only", nargs="+", choices=CASES, default=list(CASES), help="the cases to run")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds before a command is killed (default 600)")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        # One case per process: a child forked from a parent that holds torch would count the
        # parent's pages in its own peak memory.
        globals()["TIMEOUT"] = args.timeout
        globals()[args.case.replace("-", "_")](args.dir)
        return 0
    subprocess.run(interp("demo", "build"), cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.only:
            subprocess.run([sys.executable, __file__, "--case", name, "--dir", str(folder), "--timeout", str(args.timeout)],
                           cwd=REPO, check=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
