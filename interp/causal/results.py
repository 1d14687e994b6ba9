"""A stored causal run as a researcher reads it: every table and number, defined once, no torch.

`CausalResults` reads a stage pair's causal folder and the attention shares of the same results
folder, so an effect and the attention shift it is compared with come from the same sequences,
heads and selection. The CLI (`python -m interp causal`), the app's causal views and the export
bundle all read through it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from interp.analysis.bootstrap import Interval
from interp.analysis.results import Results, Selection
from interp.causal import statistics as stats
from interp.causal.store import CausalManifest, CausalStore, stored_pairs
from interp.core.errors import InterpError

SEQUENCE_COLUMNS = ("sequence_id", "concept", "source", "target", "intervention", "metric", "method", "set", "kind",
                    "layer", "head", "heads", "effect")


class CausalResults:
    """One stage pair's causal run in a results folder (`source` → `target`)."""

    def __init__(self, results_folder: str | Path, source: str, target: str):
        self.store = CausalStore(results_folder, source, target)
        self.manifest: CausalManifest = self.store.read_manifest()
        settings = self.settings
        self.results = Results(results_folder, Selection(exclusions=settings.exclusions, reference=settings.source,
                                                         first_position=settings.first_position,
                                                         measure=settings.measure))
        known = {sequence.id for sequence in self.results.sequences}
        stale = [sequence_id for sequence_id in self.manifest.sequences if sequence_id not in known]
        if stale or self.manifest.concept_set_hash != self.results.manifest.concept_set_hash:
            raise InterpError(f"{self.store.folder}: made from other sequences than the results folder holds now; "
                              "run the causal command again")
        self.sequence_ids = tuple(self.manifest.sequences)
        self._cache: dict = {}

    @property
    def settings(self):
        return self.manifest.settings

    @property
    def source(self) -> str:
        return self.settings.source

    @property
    def target(self) -> str:
        return self.settings.target

    @property
    def interventions(self) -> tuple[str, ...]:
        return self.settings.interventions

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.settings.metrics

    def concept_of(self, sequence_id: str) -> str:
        return self.results.sequence(sequence_id).concept

    # ------------------------------------------------------------ arrays

    @functools.cached_property
    def shift(self) -> np.ndarray:
        """Attention shift `share(target) − share(source)` per sequence, `[sequences, layers, heads]`."""
        return np.stack([self.results.share(stage=self.target, sequence=s) - self.results.share(stage=self.source, sequence=s)
                         for s in self.sequence_ids])

    def mean_z(self, metric: str) -> np.ndarray | None:
        """The target's mean of z the mean ablation used for `metric` (None where none ran)."""
        plan = self.store.read_plan(metric)
        return self.store.read_mean_z(plan) if plan is not None else None

    def atp(self, metric: str) -> dict[str, np.ndarray]:
        """AtP estimates `intervention → [sequences, layers, heads]`, or {} where AtP did not run."""
        key = ("atp", metric)
        if key not in self._cache:
            has_atp = all(self.store.read_atp_record(metric, s) is not None for s in self.sequence_ids)
            if not has_atp:
                self._cache[key] = {}
            else:
                mean_z = self.mean_z(metric)
                if mean_z is None and "mean" in self.interventions:
                    mean_z = stats.mean_of_z(self.store, metric, self.sequence_ids)
                self._cache[key] = stats.atp_effects(self.store, metric, self.sequence_ids, mean_z)
        return self._cache[key]

    def exact(self, metric: str) -> pd.DataFrame:
        """Exact effects, one row per sequence × trial."""
        key = ("exact", metric)
        if key not in self._cache:
            self._cache[key] = stats.exact_effects_table(self.store, metric, self.sequence_ids)
        return self._cache[key]

    # ------------------------------------------------------------ tables

    def heads_table(self, metric: str) -> pd.DataFrame:
        """Per intervention × head: shift, AtP, exact effect with interval, p and q (see
        `interp.causal.statistics.summarise_heads`)."""
        key = ("heads", metric)
        if key not in self._cache:
            atp = self.atp(metric) or self._no_atp()
            table = stats.summarise_heads(self.exact(metric), atp, self.shift, seed=self.settings.seed)
            table.insert(1, "metric", metric)
            self._cache[key] = table
        return self._cache[key]

    def _no_atp(self) -> dict[str, np.ndarray]:
        return {name: np.full_like(self.shift, np.nan) for name in self.interventions}

    def sets_table(self, metric: str) -> pd.DataFrame:
        key = ("sets", metric)
        if key not in self._cache:
            table = stats.summarise_sets(self.exact(metric), seed=self.settings.seed)
            if len(table):
                table.insert(1, "metric", metric)
            self._cache[key] = table
        return self._cache[key]

    def sequences_table(self, metric: str) -> pd.DataFrame:
        """One row per sequence × intervention × head (or set) × metric, exact rows and, for the
        same heads, AtP rows: `effect` = metric with the intervention − without."""
        exact = self.exact(metric)
        rows = []
        for row in exact.itertuples(index=False):
            rows.append(self._row(row.sequence_id, row.intervention, metric, "exact", row.set, row.kind, row.heads,
                                  row.effect))
        atp = self.atp(metric)
        if atp:
            singles = exact[exact["kind"] == "single"][["intervention", "set"]].drop_duplicates()
            wanted = {(i, s) for i, s in singles.itertuples(index=False)} if len(exact) else None
            for intervention, values in atp.items():
                for index, sequence_id in enumerate(self.sequence_ids):
                    for layer in range(values.shape[1]):
                        for head in range(values.shape[2]):
                            name = f"{layer}.{head}"
                            if wanted is not None and (intervention, name) not in wanted:
                                continue
                            rows.append(self._row(sequence_id, intervention, metric, "atp", name, "single", name,
                                                  float(values[index, layer, head])))
        table = pd.DataFrame(rows, columns=list(SEQUENCE_COLUMNS))
        return table.astype({"layer": "Int64", "head": "Int64"})  # empty, not NaN, for a set's row

    def _row(self, sequence_id, intervention, metric, method, name, kind, heads, effect) -> dict:
        layer, head = (name.split(".") if kind == "single" else ("", ""))
        return {"sequence_id": sequence_id, "concept": self.concept_of(sequence_id), "source": self.source,
                "target": self.target, "intervention": intervention, "metric": metric, "method": method,
                "set": name, "kind": kind, "layer": int(layer) if layer != "" else None,
                "head": int(head) if head != "" else None, "heads": heads, "effect": effect}

    def concept_types(self) -> list[str]:
        return list(dict.fromkeys(self.concept_of(s) for s in self.sequence_ids))

    def rank_correlation(self, metric: str, intervention: str, concept: str | None = None) -> Interval:
        """Spearman's ρ between |attention shift| and |AtP effect| across all heads, with its
        bootstrap interval over sequences; for one concept type's sequences when `concept` is given."""
        atp = self.atp(metric)
        if intervention not in atp:
            raise InterpError(f"{self.store.folder}: no AtP for intervention '{intervention}', metric '{metric}'")
        chosen = np.array([concept is None or self.concept_of(s) == concept for s in self.sequence_ids])
        if not chosen.any():
            raise InterpError(f"concept type {concept!r} is not in this causal run; types: {', '.join(self.concept_types())}")
        return stats.rank_correlation(self.shift[chosen], atp[intervention][chosen], seed=self.settings.seed)

    def correlation_table(self, metric: str) -> pd.DataFrame:
        """The rank correlation for every intervention, over all sequences and per concept type;
        `measure` is the one the shifts are computed under (the causal run's)."""
        rows = []
        for intervention in self.atp(metric):
            for concept in (None, *self.concept_types()):
                estimate = self.rank_correlation(metric, intervention, concept)
                count = sum(1 for s in self.sequence_ids if concept is None or self.concept_of(s) == concept)
                rows.append({"source": self.source, "target": self.target, "intervention": intervention,
                             "metric": metric, "measure": self.settings.measure, "concept": concept or "all",
                             "sequences": count,
                             "spearman": estimate.estimate, "low": estimate.low, "high": estimate.high,
                             "p": estimate.p_value})
        return pd.DataFrame(rows)

    def agreement_table(self, metric: str) -> pd.DataFrame:
        """How well AtP agreed with exact patching on the verified heads, per intervention."""
        heads = self.heads_table(metric)
        rows = []
        for intervention in self.interventions:
            agreement = stats.agreement(heads, intervention, self.settings.top)
            rows.append({"intervention": intervention, "metric": metric, "verified_heads": agreement.n_heads,
                         "spearman": agreement.spearman, "top_k_recall": agreement.top_k_recall, "k": agreement.k})
        return pd.DataFrame(rows)


def causal_pairs(results_folder: str | Path) -> list[tuple[str, str]]:
    """The stage pairs with a causal run in a results folder."""
    return stored_pairs(results_folder)
