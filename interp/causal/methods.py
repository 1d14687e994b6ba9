"""The causal check's paragraph of the methods section (`interp.analysis.methods`): what was
intervened on, measured and verified, for every stage pair the results folder holds a run of."""

from __future__ import annotations

from interp.analysis.bibliography import cite
from interp.analysis.bootstrap import CONFIDENCE, RESAMPLES
from interp.analysis.methods import Paragraph, register_section
from interp.analysis.results import Results
from interp.causal.interventions import INTERVENTIONS
from interp.causal.metrics import METRICS
from interp.causal.store import CausalStore, stored_pairs

SENTENCES = {
    "patch": "patching, which replaces a head's write to the residual stream, z_h·W_O[h], by the source stage's "
             "on the same tokens",
    "pattern": "pattern patching, which replaces only the head's attention probabilities by the source stage's and "
               "keeps the target's values, z_h = A_S[h]·v_T[h // group]",
    "mean": "mean ablation, which replaces z_h by its mean over every position of every sequence in the target",
}


def causal_paragraph(results: Results) -> Paragraph:
    pairs = stored_pairs(results.store.folder)
    if not pairs:
        return Paragraph("Causal check", "")
    runs = [CausalStore(results.store.folder, source, target).read_manifest().settings for source, target in pairs]
    settings = runs[0]
    names = ", ".join(f"{run.source} → {run.target}" for run in runs)
    interventions = "; ".join(SENTENCES[name] for name in settings.interventions if name in INTERVENTIONS)
    metrics = "; ".join(f"{name}: {METRICS[name].description}" for name in settings.metrics)
    heads = (f"the heads {', '.join(settings.heads)}, each alone and together" if settings.heads else
             f"the {settings.top} heads with the largest |AtP| and the {settings.top} with the largest |attention "
             "shift|, each alone, each group together")
    text = (f"To ask whether the heads whose attention moved matter to the model's predictions, we intervened on "
            f"query heads of the target stage with what the source stage computed on the same token ids, for the "
            f"stage pairs {names}: {interventions}. Every intervention acts on the input of the output projection "
            f"(hook_z) of one query head, or of a set of heads jointly. The effect is the metric with the "
            f"intervention minus without, under teacher forcing ({metrics}). Every head was screened by attribution "
            f"patching, the first-order estimate (a′ − a)·∂M/∂a from one forward pass of the source and one forward "
            f"and backward pass of the target ({cite('syed2023attribution')}; {cite('kramar2024atp')}); exact "
            f"patching (one forward pass per intervention) then measured {heads}, and {settings.random_sets} random "
            "head sets with as many heads in each layer as the chosen ones, the baseline of a set's effect "
            f"({cite('zhang2024best')}; {cite('heimersheim2024patching')}). Means over sequences have {CONFIDENCE:.0%} "
            f"percentile bootstrap intervals over sequences ({RESAMPLES:,} replicates, seed {settings.seed}) with the "
            "p-value of the same replicates, and Benjamini–Hochberg q-values over the verified heads "
            f"({cite('benjamini1995controlling')}); a set is placed among the random sets by the percentile of its "
            "|effect| and p = (1 + #{|random| ≥ |set|}) / (R + 1). The agreement of the screen with exact patching is "
            "Spearman's ρ on the verified heads, and the relation of attention to effect is Spearman's ρ across all "
            "heads between |mean attention shift| and |mean AtP effect|, with a bootstrap interval over sequences.")
    return Paragraph("Causal check", text, ("syed2023attribution", "kramar2024atp", "zhang2024best",
                                            "heimersheim2024patching", "benjamini1995controlling"))


register_section("causal", causal_paragraph)
