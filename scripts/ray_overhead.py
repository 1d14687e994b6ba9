"""The Ray executor's overhead against a plain run, on one small lineage, in one run of this script.

    python scripts/ray_overhead.py [--lineage demo] [--concepts concepts/] [--threads 1] [--cpus 2]

Times, each into a fresh results folder with the same settings (`--threads` pinned in both):
a plain run (the local executor); `--executor ray` as a command runs it, starting a local Ray and
stopping it again; and, with a local Ray already running and its workers warm, the Ray run alone.
Checks that every entry has the plain run's digests (the same bits), then prints a Markdown table.
A warm-up plain run comes first, so that every timed run finds the checkpoints in the page cache.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from interp.concepts.files import all_sequences, load_concepts  # noqa: E402
from interp.extraction.pipeline import extract_lineage  # noqa: E402
from interp.extraction.settings import ExtractionSettings  # noqa: E402
from interp.models.lineage import load_lineage  # noqa: E402
from interp.store.folder import ResultsStore  # noqa: E402


def timed(run) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def same_bits(folder: Path, expected: Path) -> bool:
    mine, theirs = ResultsStore(folder), ResultsStore(expected)
    manifest = theirs.open()
    return all(mine.read_record(stage, sequence).digests == theirs.read_record(stage, sequence).digests
               for stage in manifest.stage_labels for sequence in manifest.sequence_ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lineage", default="demo")
    parser.add_argument("--concepts", nargs="+", default=["concepts/"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per task, in every run (default 1)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    lineage = load_lineage(args.lineage)
    sequences = all_sequences(load_concepts(args.concepts))
    settings = ExtractionSettings(device="cpu", threads=args.threads)
    work = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    runs = iter(range(10_000))

    def run(executor: str) -> Path:
        out = work / f"{executor}-{next(runs)}"
        extract_lineage(lineage, sequences, out, settings, executor=executor, reuse_from=[])
        return out

    extract_lineage(lineage, sequences, work / "warm-up", settings, reuse_from=[])
    plain, command, warm = [], [], []
    outputs = []
    import ray

    for _ in range(args.repeats):
        plain.append(timed(lambda: outputs.append(run("local"))))
        # As `extract --executor ray` runs it: Ray started for the command and stopped after it.
        command.append(timed(lambda: outputs.append(run("ray"))))
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING)
    run("ray")  # starts the workers and imports torch in them
    for _ in range(args.repeats):
        warm.append(timed(lambda: outputs.append(run("ray"))))
    ray.shutdown()
    identical = all(same_bits(folder, work / "warm-up") for folder in outputs)
    stages, count = len(lineage.stages), len(sequences)
    print(f"lineage {lineage.name!r}: {stages} stages × {count} sequences, --threads {args.threads}, "
          f"local Ray of {args.cpus} CPUs; every run the same bits as the plain run: {identical}\n")
    print("| run | seconds (each repeat) | median | × plain |")
    print("|---|---|---|---|")
    base = statistics.median(plain)
    for name, times in (("plain (local executor)", plain), ("`--executor ray`, Ray started and stopped by the command",
                                                            command), ("Ray already running, workers warm", warm)):
        median = statistics.median(times)
        print(f"| {name} | {', '.join(f'{t:.1f}' for t in times)} | {median:.1f} | {median / base:.2f} |")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
