"""The causal check read back: effects per head and per head set, with intervals, random-set
baselines, and the rank correlation between attention shift and causal effect. No torch.

Every effect is `metric with the intervention − without`, per sequence; numbers across
sequences are means with each sequence weighing the same. Intervals are bootstrap percentile
intervals over sequences, with the p-value of the same bootstrap (`bootstrap_mean`), so an
interval excludes zero exactly when p < 1 − confidence; q-values are Benjamini–Hochberg over
the heads of one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from interp.analysis.across_sequences import benjamini_hochberg, hierarchical_bootstrap
from interp.analysis.bootstrap import CONFIDENCE, RESAMPLES, Interval, mean_with_interval, percentile_interval
from interp.causal.heads import (
    Head,
    HeadSet,
    random_sets_matched_by_layer,
    single,
    top_heads,
)
from interp.causal.store import (
    CausalSettings,
    CausalStore,
    HeadSetRecord,
    VerificationPlan,
)
from interp.core.errors import InterpError


def bootstrap_mean(values: Sequence[float] | np.ndarray, seed: int = 0) -> Interval:
    """A mean over sequences with its interval and p-value from one bootstrap: the project's one
    procedure (`interp.analysis.bootstrap.mean_with_interval`, docs/design.md §5.8)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return Interval(np.nan, np.nan, np.nan, np.nan)
    return mean_with_interval(values, n_resamples=RESAMPLES, confidence=CONFIDENCE, seed=seed)


# ---------------------------------------------------------------- reading a run

def atp_effects(store: CausalStore, metric: str, sequence_ids: Sequence[str],
                mean_z: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """AtP effect estimates `intervention → [sequences, layers, heads]` (float64); `mean` needs
    the target's mean of z, `mean_z [layers, heads, d]`."""
    records = [_atp_record(store, metric, sequence_id) for sequence_id in sequence_ids]
    interventions = records[0].interventions
    scores = np.stack([store.read_atp_array(record, "scores") for record in records]).astype(np.float64)
    effects = {name: scores[:, index] for index, name in enumerate(i for i in interventions if i != "mean")}
    if "mean" in interventions and mean_z is not None:
        effects["mean"] = np.stack([
            np.einsum("lhd,lhd->lh", mean_z, store.read_atp_array(record, "gradient_sum"))
            - store.read_atp_array(record, "baseline") for record in records]).astype(np.float64)
    return {name: effects[name] for name in interventions if name in effects}


def mean_of_z(store: CausalStore, metric: str, sequence_ids: Sequence[str]) -> np.ndarray:
    """The target's mean of z over every position of every sequence, `[layers, heads, d]`."""
    records = [_atp_record(store, metric, sequence_id) for sequence_id in sequence_ids]
    total = sum(store.read_atp_array(record, "z_sum").astype(np.float64) for record in records)
    return total / sum(record.positions for record in records)


def _atp_record(store: CausalStore, metric: str, sequence_id: str):
    record = store.read_atp_record(metric, sequence_id)
    if record is None:
        raise InterpError(f"{store.folder}: no AtP entry for sequence '{sequence_id}', metric '{metric}'; "
                          "run `causal --method atp` (every shard) first")
    return record


def clean_metric(store: CausalStore, metric: str, sequence_ids: Sequence[str]) -> np.ndarray:
    return np.array([_atp_record(store, metric, s).clean for s in sequence_ids], dtype=np.float64)


# ---------------------------------------------------------------- what exact patching verifies

def verification_plan(settings: CausalSettings, shape: tuple[int, int], atp_mean: dict[str, np.ndarray],
                      shift_mean: np.ndarray, given: Sequence[Head] | None, key: str,
                      mean_digest: str | None) -> VerificationPlan:
    """Per intervention, the head sets exact patching runs: without `given` heads, the top
    `settings.top` heads by |AtP| and by |attention shift| one by one, the shift's top heads
    together ("concept-heads", the heads the Overview points at), AtP's together ("atp-top"), and
    `settings.random_sets` random sets matched by layer to the concept heads; with `given`
    heads, each of them, all of them together ("given") and random sets matched to them."""
    sets: dict[str, tuple[HeadSetRecord, ...]] = {}
    by_shift = top_heads(shift_mean, settings.top)
    for intervention in settings.interventions:
        if given:
            chosen = [single(head) for head in given]
            groups = [HeadSet("given", tuple(given), "given")] if len(given) > 1 else []
            reference = tuple(given)
        else:
            by_atp = top_heads(atp_mean[intervention], settings.top) if intervention in atp_mean else ()
            chosen = [single(head) for head in dict.fromkeys((*by_atp, *by_shift))]
            groups = [HeadSet("concept-heads", tuple(sorted(by_shift)), "concept-heads")]
            if by_atp:
                groups.append(HeadSet("atp-top", tuple(sorted(by_atp)), "atp-top"))
            reference = by_shift
        randoms = random_sets_matched_by_layer(reference, shape, settings.random_sets, settings.seed) \
            if settings.random_sets else ()
        sets[intervention] = tuple(HeadSetRecord(name=s.name, kind=s.kind, heads=tuple(str(h) for h in s.heads))
                                   for s in (*chosen, *groups, *randoms))
    return VerificationPlan(key=key, sets=sets, mean_digest=mean_digest)


def plan_head_sets(plan: VerificationPlan, intervention: str) -> tuple[HeadSet, ...]:
    return tuple(HeadSet(record.name, tuple(_head(text) for text in record.heads), record.kind)
                 for record in plan.sets.get(intervention, ()))


def _head(text: str) -> Head:
    layer, head = text.split(".")
    return Head(int(layer), int(head))


# ---------------------------------------------------------------- tables

def exact_effects_table(store: CausalStore, metric: str, sequence_ids: Sequence[str]) -> pd.DataFrame:
    """One row per sequence × trial: `sequence_id, intervention, set, kind, heads, effect`."""
    rows = []
    for sequence_id in sequence_ids:
        record = store.read_exact(metric, sequence_id)
        if record is None:
            continue
        rows.extend({"sequence_id": sequence_id, "intervention": t.intervention, "set": t.set, "kind": t.kind,
                     "heads": ",".join(t.heads), "effect": t.effect} for t in record.trials)
    return pd.DataFrame(rows, columns=["sequence_id", "intervention", "set", "kind", "heads", "effect"])


def summarise_sets(exact: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per intervention × set: the mean effect over sequences with its interval and p; for the
    chosen sets, where that mean falls among the random sets' means (percentile of |effect|,
    `p = (1 + #{|random| ≥ |set|}) / (R + 1)`, as the control spans), and the sum of the set's
    heads' single effects (joint − sum: what the heads do together beyond each alone)."""
    rows = []
    for intervention, trials in exact.groupby("intervention", sort=False):
        per_set = {name: group for name, group in trials.groupby("set", sort=False)}
        singles = {name: group["effect"].mean() for name, group in per_set.items() if group["kind"].iloc[0] == "single"}
        random_means = np.array([g["effect"].mean() for g in per_set.values() if g["kind"].iloc[0] == "random"])
        for name, group in per_set.items():
            kind = group["kind"].iloc[0]
            if kind == "single":
                continue
            estimate = bootstrap_mean(group["effect"].to_numpy(), seed=seed)
            heads = group["heads"].iloc[0].split(",")
            row = {"intervention": intervention, "set": name, "kind": kind, "n_heads": len(heads),
                   "heads": group["heads"].iloc[0], "mean_effect": estimate.estimate, "low": estimate.low,
                   "high": estimate.high, "p": estimate.p_value, "n_sequences": len(group)}
            if kind != "random" and random_means.size:
                larger = int(np.sum(np.abs(random_means) >= abs(estimate.estimate)))
                row["random_percentile"] = float(stats.percentileofscore(np.abs(random_means), abs(estimate.estimate)))
                row["random_p"] = (1 + larger) / (random_means.size + 1)
            known = [singles[h] for h in heads if h in singles]
            row["sum_of_singles"] = float(np.sum(known)) if len(known) == len(heads) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def summarise_heads(exact: pd.DataFrame, atp: dict[str, np.ndarray], shift: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Per intervention × head: the attention shift, the AtP estimate (mean over sequences), and
    for verified heads the exact effect with its interval, p and q (BH over the verified heads
    of the intervention)."""
    rows = []
    layers, heads = shift.shape[1:]
    shift_mean = shift.mean(axis=0)
    for intervention, estimates in atp.items():
        atp_mean = estimates.mean(axis=0)
        verified = exact[(exact["intervention"] == intervention) & (exact["kind"] == "single")]
        by_head = {name: group["effect"].to_numpy() for name, group in verified.groupby("set", sort=False)}
        block = []
        for layer in range(layers):
            for head in range(heads):
                effects = by_head.get(f"{layer}.{head}")
                estimate = bootstrap_mean(effects, seed=seed) if effects is not None else None
                block.append({
                    "intervention": intervention, "layer": layer, "head": head, "shift": float(shift_mean[layer, head]),
                    "atp": float(atp_mean[layer, head]), "verified": effects is not None,
                    "exact": estimate.estimate if estimate else np.nan, "low": estimate.low if estimate else np.nan,
                    "high": estimate.high if estimate else np.nan, "p": estimate.p_value if estimate else np.nan,
                })
        p_values = np.array([row["p"] for row in block])
        q_values = np.full(p_values.shape, np.nan)
        finite = np.isfinite(p_values)
        if finite.any():
            q_values[finite] = benjamini_hochberg(p_values[finite])
        for row, q in zip(block, q_values):
            row["q"] = float(q)
        rows.extend(block)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Agreement:
    """How well AtP ranked the heads exact patching verified: Spearman's ρ between the two mean
    effects, and the share of exact's top-k heads (by |effect|) that AtP also ranked top-k."""

    spearman: float
    top_k_recall: float
    k: int
    n_heads: int


def agreement(heads: pd.DataFrame, intervention: str, k: int) -> Agreement:
    verified = heads[(heads["intervention"] == intervention) & heads["verified"]]
    if len(verified) < 3:
        return Agreement(np.nan, np.nan, k, len(verified))
    rho = stats.spearmanr(verified["atp"], verified["exact"]).statistic
    k = min(k, len(verified))
    top_exact = set(verified["exact"].abs().nlargest(k).index)
    top_atp = set(verified["atp"].abs().nlargest(k).index)
    return Agreement(float(rho), len(top_exact & top_atp) / k, k, len(verified))


def rank_correlation(shift: np.ndarray, effect: np.ndarray, resamples: int = RESAMPLES,
                     confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """Spearman's ρ across all heads between |mean attention shift| and |mean causal effect|
    (`[sequences, layers, heads]` each), with the percentile bootstrap interval over sequences and
    the p-value of the same replicates (`interp.analysis.bootstrap.percentile_interval`): does a
    head whose attention moved more also matter more?"""
    def rho(chosen: np.ndarray) -> float:
        x, y = np.abs(shift[chosen].mean(axis=0)).ravel(), np.abs(effect[chosen].mean(axis=0)).ravel()
        return float(stats.spearmanr(x, y).statistic)

    n = shift.shape[0]
    observed = rho(np.arange(n))
    if n < 2:
        return Interval(observed, np.nan, np.nan, np.nan, confidence, resamples)
    rng = np.random.default_rng(seed)
    replicates = np.array([rho(rng.integers(0, n, size=n)) for _ in range(resamples)])
    replicates = np.nan_to_num(replicates, nan=0.0)  # a resample with a constant column has no rank order
    low, high, p = percentile_interval(replicates, confidence)
    return Interval(observed, float(low), float(high), float(p), confidence, resamples)


def set_mean_of_singles(exact: pd.DataFrame, intervention: str, heads: Sequence[str], seed: int = 0):
    """The mean single-head effect over a set's heads, with the hierarchical bootstrap over
    sequences, then heads (`interp.analysis.across_sequences.hierarchical_bootstrap`)."""
    singles = exact[(exact["intervention"] == intervention) & (exact["kind"] == "single") & exact["set"].isin(heads)]
    table = singles.pivot_table(index="sequence_id", columns="set", values="effect")
    if table.empty:
        return None
    return hierarchical_bootstrap(table.to_numpy(), n_resamples=RESAMPLES, seed=seed)
