"""How a lineage is run and how its progress is reported: plain records, no torch.

The app and the CLI build these before anything heavy is imported; `interp.extraction.pipeline` does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

INPUT_FORMATS = ("raw", "chat")
# What `--patterns` keeps of each head's token × token attention (`interp.extraction.extract`).
PATTERN_KINDS = ("window", "full", "none")


@dataclass(frozen=True)
class ExtractionSettings:
    """How a lineage is run; everything here except `device`, `device_map` and `threads` enters
    the cache key.

    `patterns`: "window" keeps each head's pattern around the concept spans (what the Tokens
    view shows), "full" the whole lower triangle, "none" only column sums and span attention.
    `threads`: the torch thread count every task pins, in this process or on a worker (None:
    the CPUs this process may use), so that every executor sums in the same order.
    """

    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    patterns: str = "window"
    input_format: str = "raw"
    trust_remote_code: bool = False
    threads: int | None = None


@dataclass
class Progress:
    """What a progress display needs: counts over stage × sequence and a line of news.

    Per stage, `cached` entries were in the results folder before the run, `reused` ones were
    linked from other results folders; both count as done from the start."""

    total: int
    done: int = 0
    stage: str = ""
    message: str = ""
    cached: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]
