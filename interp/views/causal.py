"""The causal views: "Causal effect", "Shift vs effect" and "Head sets", from a stored causal run.

They read `interp.causal.results.CausalResults` for the stage pair chosen (a results folder may
hold several pairs), so the app, the export bundle and the tests show the same numbers as
`python -m interp causal`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.analysis.results import Results
from interp.causal import methods as _causal_methods  # noqa: F401  its paragraph joins the methods section
from interp.causal.interventions import INTERVENTIONS
from interp.causal.metrics import METRICS
from interp.causal.results import CausalResults, causal_pairs
from interp.causal.store import CausalStore
from interp.views.figures import causal as causal_figures
from interp.views.figures.common import short_number
from interp.views.framework import Choice, Headline, View, ViewOutput, measure_label, register


def _pairs(results: Results, chosen: Mapping[str, Any]) -> list[str]:
    return [f"{source}→{target}" for source, target in causal_pairs(results.store.folder)]


def _reader(results: Results, pair: str) -> CausalResults:
    source, target = pair.split("→")
    store = CausalStore(results.store.folder, source, target)
    versions = tuple(path.stat().st_mtime_ns if path.is_file() else 0
                     for path in (store.manifest_path, store.folder / "mean_z.npy"))
    return _cached_reader(str(results.store.folder), source, target, versions)


@functools.lru_cache(maxsize=8)
def _cached_reader(folder: str, source: str, target: str, versions: tuple) -> CausalResults:
    return CausalResults(Path(folder), source, target)


def _unavailable(results: Results) -> str | None:
    if causal_pairs(results.store.folder):
        return None
    return ("no causal run in this results folder: run `python -m interp causal DIR --source STAGE --target STAGE` "
            "(the demo run has one)")


PAIR = Choice("pair", "Stages (source → target)", _pairs, default=lambda r, c: _pairs(r, c)[-1],
              slug=lambda value: value.replace("→", "-to-"))
INTERVENTION = Choice("intervention", "Intervention", lambda r, c: list(_reader(r, c["pair"]).interventions),
                      describe=lambda r, value: INTERVENTIONS[value].label, follows=("pair",))
METRIC = Choice("metric", "Metric", lambda r, c: list(_reader(r, c["pair"]).metrics),
                describe=lambda r, value: METRICS[value].label, slug=lambda value: value, follows=("pair",))
CONCEPT = Choice("concept", "Concept type", lambda r, c: ["all", *_reader(r, c["pair"]).concept_types()],
                 bundle=lambda r, c: ["all"], slug=lambda value: "" if value == "all" else value.lower().replace(" ", "-"),
                 follows=("pair",))


def _effect_label(intervention: str, metric: str) -> str:
    return f"effect on {METRICS[metric].label.lower()} ({INTERVENTIONS[intervention].label})"


def _shift_measure(results: Results, reader: CausalResults) -> tuple[str, tuple[str, ...]]:
    """The measure the causal run's shifts are under, as titles name it, and a note where the
    sidebar's measure is another (this view cannot follow it: its heads were chosen under the run's)."""
    label = measure_label(reader.settings.measure)
    if results.selection.measure == reader.settings.measure:
        return label, ()
    selected = measure_label(results.selection.measure)
    return label, (f"The shifts here are under the measure the causal run used ({label}), as its heads were chosen; "
                   f"the measure selected ({selected}) does not apply to this view.",)


def _causal_effect(results: Results, pair: str, intervention: str, metric: str) -> ViewOutput:
    reader = _reader(results, pair)
    heads = reader.heads_table(metric)
    rows = heads[heads["intervention"] == intervention]
    shape = results.shape
    grid = {column: rows[column].to_numpy().reshape(shape) for column in ("atp", "exact", "verified")}
    screened = np.isfinite(grid["atp"]).any()
    effect = grid["atp"] if screened else grid["exact"]
    label = _effect_label(intervention, metric)
    method = "AtP estimate, mean over sequences" if screened else "exact, mean over sequences"
    figure = causal_figures.causal_effect_figure(
        effect, grid["verified"].astype(bool), grid["exact"],
        f"{INTERVENTIONS[intervention].label} {pair}: {method}", label)
    agreement = reader.agreement_table(metric)
    agreement = agreement[agreement["intervention"] == intervention]
    headlines = [Headline("Heads verified by exact patching", str(int(grid["verified"].sum())),
                          "Top heads by |AtP|, top heads by |attention shift|, each patched alone.")]
    notes = ()
    if screened and len(agreement) and np.isfinite(agreement["spearman"].iloc[0]):
        row = agreement.iloc[0]
        headlines.append(Headline("AtP vs exact (Spearman ρ)", f"{row.spearman:+.2f}",
                                  "Rank agreement of the AtP screen with exact patching on the verified heads."))
        headlines.append(Headline(f"Top-{row.k} recall", f"{row.top_k_recall:.0%}",
                                  f"Of exact's {row.k} largest effects, the share AtP also ranked in its top {row.k}."))
        if row.spearman < 0.5:
            notes = ("AtP agreed poorly with exact patching here (ρ < 0.5): read the map as a screen and the ringed "
                     "heads' exact effects as the measurement.",)
    verified = rows[rows["verified"]].sort_values("exact", key=np.abs, ascending=False)
    return ViewOutput(figures={"map": figure}, tables={"verified": verified, "agreement": agreement},
                      headlines=tuple(headlines), notes=notes, downloads={"heads": rows})


register(View(
    "causal", "Causal effect",
    "Each head's causal effect on the target stage's predictions: the metric with the intervention minus without, "
    "estimated for every head by attribution patching (AtP) and measured exactly for the ringed heads. Click a cell "
    "to select that head.",
    _causal_effect, choices=(PAIR, INTERVENTION, METRIC), head_maps=True, unavailable=_unavailable,
))


def _shift_vs_effect(results: Results, pair: str, intervention: str, metric: str, concept: str) -> ViewOutput:
    reader = _reader(results, pair)
    atp = reader.atp(metric)
    if intervention not in atp:
        return ViewOutput(notes=("This causal run did not screen every head (no AtP): the comparison needs an effect "
                                 "for every head; run `causal --method atp` or `both`.",))
    chosen = np.array([concept == "all" or reader.concept_of(s) == concept for s in reader.sequence_ids])
    shift, effect = reader.shift[chosen].mean(axis=0), atp[intervention][chosen].mean(axis=0)
    heads = reader.heads_table(metric)
    verified = heads[heads["intervention"] == intervention]["verified"].to_numpy().reshape(results.shape)
    estimate = reader.rank_correlation(metric, intervention, None if concept == "all" else concept)
    interval = "" if not np.isfinite(estimate.low) else f" [{estimate.low:+.2f}, {estimate.high:+.2f}]"
    scope = "all sequences" if concept == "all" else concept
    source, target = pair.split("→")
    measure, notes = _shift_measure(results, reader)
    figure = causal_figures.shift_effect_figure(
        shift, effect, verified,
        f"Shift ({measure}) vs causal effect, {pair}, {scope}: ρ = {estimate.estimate:+.2f}{interval}",
        f"shift {target} − {source} ({measure})", _effect_label(intervention, metric))
    headlines = (Headline("Rank correlation |shift| vs |effect|", f"{estimate.estimate:+.2f}{interval}",
                          f"Spearman's ρ across all heads, 95% bootstrap interval over {int(chosen.sum())} sequences."),)
    return ViewOutput(figures={"scatter": figure}, tables={"correlation": reader.correlation_table(metric)},
                      headlines=headlines, notes=notes)


register(View(
    "shift-effect", "Shift vs effect",
    "Every head's attention shift between the two stages against its causal effect (AtP): do the heads whose "
    "attention to the concept moved matter to the prediction? A large shift with no effect is attention that moved "
    "to no end; ρ near zero says the attention reading does not pick out the heads that matter.",
    _shift_vs_effect, choices=(PAIR, INTERVENTION, METRIC, CONCEPT), unavailable=_unavailable,
))


def _head_sets(results: Results, pair: str, intervention: str, metric: str) -> ViewOutput:
    reader = _reader(results, pair)
    sets = reader.sets_table(metric)
    if not len(sets):
        return ViewOutput(notes=("No head sets were patched exactly in this run (run `causal --method exact` or "
                                 "`both`).",))
    measure, notes = _shift_measure(results, reader)
    rows = sets[sets["intervention"] == intervention].copy()
    rows.insert(rows.columns.get_loc("metric") + 1, "measure", reader.settings.measure)
    figure = causal_figures.head_sets_figure(
        rows, f"Head sets, {INTERVENTIONS[intervention].label} {pair}; concept heads by |shift| ({measure})",
        _effect_label(intervention, metric))
    headlines = []
    for row in rows[rows["kind"] != "random"].itertuples(index=False):
        text = f"{row.mean_effect:+.4g}"
        if np.isfinite(getattr(row, "random_p", np.nan)):
            text += f" (random p = {short_number(row.random_p)})"
        headlines.append(Headline(f"Joint effect, {row.set}", text,
                                  f"{row.n_heads} heads patched together; p: where |effect| falls among the random sets."))
    return ViewOutput(figures={"sets": figure}, tables={"sets": rows}, headlines=tuple(headlines), notes=notes)


register(View(
    "head-sets", "Head sets",
    "The heads whose attention moved most (concept heads) and AtP's top heads, patched together, beside random head "
    "sets with as many heads in each layer: the random sets say how large an effect any heads of those layers have.",
    _head_sets, choices=(PAIR, INTERVENTION, METRIC), unavailable=_unavailable,
))
