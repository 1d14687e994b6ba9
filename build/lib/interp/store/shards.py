"""Shards for any batch scheduler: `extract --shard I/N` runs the I-th of N deterministic parts.

A SLURM array, a Kubernetes indexed job or a shell loop runs the N parts wherever it likes, each
into its own results folder; `python -m interp merge` puts them together (`interp.store.merge`). The
parts are the sequences dealt round-robin in the order the concept files give them (every
stage of the lineage for each): sequence p goes to shard `p mod N + 1`. Dealing keeps the parts
within one sequence of each other in size, and it is undone exactly, so a merged folder lists
the sequences in the order a plain run would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from interp.core.errors import InterpError

T = TypeVar("T")
SHARD_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
# A bound on N: a batch scheduler's array (SLURM's default holds 1,001 tasks), and as many
# folders as one `merge` command line can name. A run of N shards needs N sequences or more.
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count > MAX_SHARDS:
            raise InterpError(f"--shard {self.index}/{self.count}: N is at most {MAX_SHARDS:,} shards")
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise InterpError(f"--shard {self.index}/{self.count}: I must lie between 1 and N "
                              f"(1/{max(self.count, 1)} … {max(self.count, 1)}/{max(self.count, 1)})")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's items: positions `index - 1`, `index - 1 + count`, ..."""
        return list(items[self.index - 1::self.count])


def parse_shard(text: str) -> Shard:
    """`"I/N"` (e.g. `3/8`, or `$SLURM_ARRAY_TASK_ID/8` with `--array=1-8`) as a `Shard`."""
    shown = repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text):,} characters)"
    match = SHARD_SPEC.fullmatch(text)
    if not match:
        raise InterpError(f"--shard {shown}: expected I/N, two whole numbers with 1 ≤ I ≤ N (e.g. 3/8)")
    # Numbers longer than any valid N are refused as text: int() of thousands of digits is slow or refused.
    index, count = (digits.lstrip("0") or "0" for digits in match.groups())
    if len(count) > len(str(MAX_SHARDS)):
        raise InterpError(f"--shard {shown}: N is at most {MAX_SHARDS:,} shards")
    if len(index) > len(count):
        raise InterpError(f"--shard {shown}: I must lie between 1 and N")
    return Shard(int(index), int(count))


def interleave(parts: Sequence[Sequence[T]]) -> list[T]:
    """The inverse of dealing: `parts[i]` is what `Shard(i + 1, len(parts)).select` chose."""
    count = len(parts)
    total = sum(len(part) for part in parts)
    for number, part in enumerate(parts):
        expected = len(range(number, total, count))
        if len(part) != expected:
            raise InterpError(f"shard {number + 1}/{count} holds {len(part)} sequence(s); dealing {total} sequences "
                              f"into {count} shards gives it {expected}")
    return [parts[position % count][position // count] for position in range(total)]
