"""Query heads and sets of them: parsed from the command line, drawn at random matched by layer.

Interventions are on query heads: under grouped-query attention `hook_z` and the pattern have one
slice per query head, while keys and values are shared by the `group` query heads of a key/value
head (`kv_head = head // group`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from interp.core.errors import InterpError

HEAD_TEXT = re.compile(r"\s*(\d{1,4})\s*\.\s*(\d{1,4})\s*")
MAX_HEADS_ASKED = 4096


@dataclass(frozen=True, order=True)
class Head:
    """Query head `head` of layer `layer` (both from 0)."""

    layer: int
    head: int

    def __str__(self) -> str:
        return f"{self.layer}.{self.head}"


@dataclass(frozen=True)
class HeadSet:
    """Heads intervened on together, under a name that says why they were chosen
    (`L.H` for one head, `concept-heads`, `atp-top`, `random-7`)."""

    name: str
    heads: tuple[Head, ...]
    kind: str = "single"

    def __post_init__(self) -> None:
        if not self.heads:
            raise InterpError(f"head set {self.name!r}: a set needs at least one head")

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({head.layer for head in self.heads}))


def single(head: Head) -> HeadSet:
    return HeadSet(str(head), (head,), "single")


def check_head(head: Head, shape: tuple[int, int], where: str = "--heads") -> Head:
    """`head` if it exists in a model of `shape = (layers, heads)`, else a one-line error."""
    layers, heads = shape
    if not (0 <= head.layer < layers and 0 <= head.head < heads):
        raise InterpError(f"{where}: head {head} is out of range; this lineage has layers 0–{layers - 1} "
                          f"and heads 0–{heads - 1}")
    return head


def parse_heads(text: str, shape: tuple[int, int]) -> tuple[Head, ...]:
    """`"12.3, 0.7"` → heads, each checked against `shape`, duplicates kept once."""
    items = [item for item in text.split(",")]
    if len(items) > MAX_HEADS_ASKED:
        raise InterpError(f"--heads: {len(items)} heads given; at most {MAX_HEADS_ASKED}")
    heads = []
    for item in items:
        match = HEAD_TEXT.fullmatch(item)
        if not match:
            shown = item.strip()[:20] or "(empty)"
            raise InterpError(f"--heads: {shown!r} is not LAYER.HEAD (e.g. 12.3); give a comma-separated list")
        heads.append(check_head(Head(int(match.group(1)), int(match.group(2))), shape))
    return tuple(dict.fromkeys(heads))


def top_heads(scores: np.ndarray, count: int) -> tuple[Head, ...]:
    """The `count` heads with the largest |score| (`scores [layers, heads]`, NaN last), ties by
    position."""
    magnitude = np.nan_to_num(np.abs(np.asarray(scores, dtype=np.float64)), nan=-1.0).ravel()
    order = np.argsort(-magnitude, kind="stable")[:count]
    heads_per_layer = scores.shape[1]
    return tuple(Head(int(index) // heads_per_layer, int(index) % heads_per_layer) for index in order)


def random_sets_matched_by_layer(
    reference: Sequence[Head], shape: tuple[int, int], count: int, seed: int, prefix: str = "random",
) -> tuple[HeadSet, ...]:
    """`count` random sets with as many heads in each layer as `reference`, drawn without
    replacement among that layer's other heads (among all its heads where the others are too few):
    the baseline that says whether the reference heads matter more than any heads of the same
    layers would."""
    per_layer = Counter(head.layer for head in reference)
    taken = set(reference)
    generator = np.random.default_rng(seed)
    heads = shape[1]
    pools = {}
    for layer, needed in per_layer.items():
        others = [h for h in range(heads) if Head(layer, h) not in taken]
        pools[layer] = others if len(others) >= needed else list(range(heads))
    sets = []
    for index in range(count):
        chosen = [Head(layer, int(h)) for layer, needed in sorted(per_layer.items())
                  for h in generator.choice(pools[layer], size=needed, replace=False)]
        sets.append(HeadSet(f"{prefix}-{index + 1}", tuple(sorted(chosen)), "random"))
    return tuple(sets)


def heads_text(heads: Iterable[Head]) -> str:
    return ",".join(str(head) for head in heads)
