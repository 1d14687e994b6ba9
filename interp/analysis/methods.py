"""A methods section a researcher can paste and edit, written from one run and its settings (docs/design.md §5.14).

Each paragraph is one function of a `Results` (the run's manifest and the `Selection` it is read
under) registered in `SECTIONS`, so every sentence is true of that run and those settings: change
the measure, the exclusions or the number of control spans, and the sentence that states it
changes. A paragraph cites only what the run uses (`interp.analysis.bibliography`); a later
analysis adds its own paragraph with `register_section`. No model, no torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from interp.analysis.across_sequences import FDR_LEVEL, HEAD_DRAWS
from interp.analysis.bibliography import REFERENCES, bibtex, cite
from interp.analysis.bootstrap import CONFIDENCE, RESAMPLES, interval_rank
from interp.analysis.envelope import analysis_packages, run_provenance
from interp.analysis.exclusions import resolve_exclusions
from interp.analysis.results import Results
from interp.analysis.shift_statistics import ENTROPY_BINS
from interp.core.palette import STAGE_PALETTE
from interp.core.registry import Registry
from interp.store.folder import StageRecord

# Digests in the text are cut to this many hex digits; the manifest and every table hold them whole.
SHOWN_DIGITS = 12


@dataclass(frozen=True)
class Paragraph:
    """One paragraph: a run-in `title`, its `text` (Markdown) and the works it `cites` (bibliography keys)."""

    title: str
    text: str
    cites: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodsSection:
    """A registered paragraph: `write(results)` gives it for one run and its settings."""

    name: str
    write: Callable[[Results], Paragraph]


SECTIONS: Registry[MethodsSection] = Registry("methods section")


def register_section(name: str, write: Callable[[Results], Paragraph]) -> MethodsSection:
    """Add a paragraph to every methods text (the causal check adds its own)."""
    return SECTIONS.add(MethodsSection(name, write))


def _number(value: int) -> str:
    return f"{value:,}"


def _digest(value: str) -> str:
    """A SHA-256 digest as the text shows it: its first `SHOWN_DIGITS` hex digits, without `sha256:`."""
    hex_part = value.removeprefix("sha256:")
    return f"{hex_part[:SHOWN_DIGITS]}…" if len(hex_part) > SHOWN_DIGITS else hex_part


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _checkpoint(stage: StageRecord) -> str:
    """How a stage's weights are named: a local folder with the SHA-256 of its weights, or a hub id
    at its revision with the snapshot's commit where the fingerprint recorded one (docs/design.md §6.6)."""
    if stage.fingerprint.startswith("sha256:"):
        folder = "/".join(PurePath(stage.model).parts[-2:])
        return f"the local checkpoint `{folder}` (weights SHA-256 `{_digest(stage.fingerprint)}`)"
    revision = stage.revision or "main"
    commit = stage.fingerprint.rpartition("@")[2]
    return f"`{stage.model}` at revision `{revision}`" + ("" if commit == revision else f" (commit `{commit}`)")


def lineage_paragraph(results: Results) -> Paragraph:
    stages = results.manifest.stages
    described = [f"{stage.label}, {_checkpoint(stage)}" for stage in stages]
    layers, heads = results.shape
    text = (f"We compared the {len(stages)} stages of the lineage `{results.manifest.lineage}`, in training order: "
            f"{'; '.join(described)}. All share one architecture of {layers} layers × {heads} query heads "
            f"({_number(layers * heads)} heads). Every shift is measured against the reference stage "
            f"`{results.reference}`.")
    return Paragraph("Models", text)


def data_paragraph(results: Results) -> Paragraph:
    counts = Counter(sequence.concept for sequence in results.sequences)
    spans = [len(sequence.spans) for sequence in results.sequences]
    types = _listing([f"{concept} ({_number(count)})" for concept, count in counts.items()])
    text = (f"The concept set (SHA-256 `{_digest(results.manifest.concept_set_hash)}`) holds "
            f"{_number(len(results.sequences))} sequences of {len(counts)} concept types: {types}. Each sequence marks "
            f"{_range(spans)} concept spans ({_number(sum(spans))} in all), given as character ranges of its text in "
            f"Unicode normal form {results.manifest.text_normalisation}.")
    if results.partial:
        text += (f" The run is partial ({results.describe_missing()}); only the sequences every finished stage holds "
                 "are used.")
    return Paragraph("Data", text)


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return _number(low) if low == high else f"{_number(low)}–{_number(high)}"


EXCLUSION_TEXT = {
    "paper": "the tokens of the reference study's list, matched byte for byte ({tokens})",
    "punctuation": "every token that covers only punctuation (Unicode categories P*) or whitespace",
    "none": "no token for its text",
    "custom": "the tokens {tokens}, matched byte for byte",
}
FIRST_POSITION_TEXT = {
    "bos": "the first token where it is the tokenizer's BOS (first-position rule `bos`)",
    "first": "the first token of every sequence, BOS or not (first-position rule `first`, for the attention sink)",
    "none": "nothing for being first (first-position rule `none`)",
}


def tokens_paragraph(results: Results) -> Paragraph:
    stages = results.manifest.stages
    tokenizers = {stage.tokenizer_hash for stage in stages}
    shared = (f"one tokenizer shared by every stage (SHA-256 `{_digest(next(iter(tokenizers)))}`)"
              if len(tokenizers) == 1 else f"each stage's own tokenizer ({len(tokenizers)} different ones)")
    aligned = [results.aligned(stage=results.reference, sequence=sequence.id) for sequence in results.sequences]
    lengths = [item.n_tokens for item in aligned]
    with_bos = sum(item.has_bos for item in aligned)
    fmt = results.manifest.settings.input_format
    rendering = ("as written" if fmt == "raw" else
                 "rendered as one user message with each tokenizer's chat template where it has one")
    exclusions = resolve_exclusions(results.selection.exclusions)
    excluded = EXCLUSION_TEXT[exclusions.name if exclusions.name in EXCLUSION_TEXT else "custom"].format(
        tokens=" ".join(f"`{token}`" for token in exclusions.tokens))
    text = (f"Each sequence was tokenized {rendering}, with {shared}; under the reference stage's tokenizer "
            f"sequences are {_range(lengths)} tokens long (median {_number(int(np.median(lengths)))}), and position 0 "
            f"is a BOS token in {_number(with_bos)} of {_number(len(aligned))}. A token belongs to a concept span when "
            "the characters it covers, trimmed of surrounding whitespace, overlap the span; tokens of whitespace alone "
            f"belong to none. Excluded from the keys of every share are {excluded}, and "
            f"{FIRST_POSITION_TEXT[results.selection.first_position]}.")
    different = results.differently_tokenized()
    if different:
        text += (f" {_number(len(different))} sequences are tokenized differently by some stages: their shares are "
                 "compared, their token maps and control spans are not.")
    return Paragraph("From spans to tokens", text)


def measure_paragraph(results: Results) -> Paragraph:
    attention = ("share_m[l,h] = Σ_q Σ_{k∈C∖E} A[l,h,q,k] / Σ_q Σ_{k∉E} A[l,h,q,k], where A[l,h,q,k] is the "
                 "post-softmax causal attention of query q on key k in layer l and head h at stage m, C the concept's "
                 "tokens and E the excluded ones")
    if results.selection.measure == "weighted":
        text = (f"We measured norm-weighted attention ({cite('kobayashi2020attention')}): each key's attention "
                "weighted by the norm of the head's transformed value, ‖v_k W_O^h‖, with v_k the key's value vector "
                "and W_O^h the head's slice of the output projection. The share of a head on the concept is "
                f"{attention.replace('A[l,h,q,k]', 'A[l,h,q,k]·‖v_k W_O^h‖', 2)}. Rows are not renormalised after "
                "exclusion.")
        return Paragraph("Measure", text, ("kobayashi2020attention",))
    text = (f"We measured raw attention. The share of a head on the concept is {attention}. Every query row counts, "
            "and rows are not renormalised after exclusion.")
    return Paragraph("Measure", text)


ROUTES = {
    "lean": "each layer's attention was recomputed blockwise over blocks of queries, in float32, from the model's own "
            "query, key and value projections, and only its per-key column sums Σ_q A[q,k] were kept",
    "pattern": "a hook on each layer's attention pattern reduced it to its per-key column sums Σ_q A[q,k], in float32, "
               "as it was produced",
}


def extraction_paragraph(results: Results) -> Paragraph:
    stages = results.manifest.stages
    loaded = _listing(sorted({f"{stage.dtype} on {stage.device}" for stage in stages}))
    routes: dict[str, list[str]] = {}
    for stage in stages:
        routes.setdefault(stage.route, []).append(stage.label)
    how = " ".join(f"For {_listing(labels)}, {ROUTES[route]}." for route, labels in routes.items())
    packages = results.manifest.packages
    text = (f"Each checkpoint was loaded through TransformerLens's TransformerBridge (transformer-lens "
            f"{packages.get('transformer-lens', 'unknown')}), in {loaded}, and run once over each sequence without a "
            f"key–value cache. {how} The value norms ‖v_k W_O^h‖ were kept beside them; the attention tensor itself "
            "was never stored.")
    cached = [stage.label for stage in stages if stage.cached]
    if cached:
        text += (f" The entries of {_listing(cached)} came whole from an earlier run (same weights, tokenizer, text "
                 "and dtype).")
    if results.manifest.shards:
        text += (f" The run was executed in {len(results.manifest.shards)} shards (`{results.manifest.executor}`), "
                 "merged into one folder.")
    elif results.manifest.executor != "local":
        text += f" The run was executed by `{results.manifest.executor}`."
    return Paragraph("Extraction", text)


def shift_paragraph(results: Results) -> Paragraph:
    heads = results.shape[0] * results.shape[1]
    text = (f"The shift of a head at stage m is Δ = share_m − share_ref, against the reference stage "
            f"`{results.reference}`. For each sequence and stage we report, over its {_number(heads)} head shifts, the "
            "mean, the median, the fraction of heads with Δ > 0, the skewness m₃/m₂^{3/2} and kurtosis m₄/m₂² "
            f"(population moments; kurtosis not excess), and the entropy in nats of their {ENTROPY_BINS}-bin "
            f"equal-width histogram; and for the mean a {CONFIDENCE:.0%} BCa bootstrap interval from "
            f"{_number(RESAMPLES)} resamples of the heads ({cite('efron1987better')}; seed {results.selection.seed}).")
    return Paragraph("Shifts", text, ("efron1987better",))


def control_paragraph(results: Results) -> Paragraph:
    selection = results.selection
    if selection.n_controls <= 0:
        return Paragraph("Control spans", "No control spans were drawn, so no concept is compared with other spans of "
                                          "its text.")
    text = (f"To tell a change specific to the concept from a change across its text, we drew "
            f"{_number(selection.n_controls)} control spans per sequence (seed {selection.seed}): for each concept "
            "span, a window of as many consecutive non-excluded tokens outside the concept, placed uniformly at random "
            "without overlap within a draw; one draw serves every stage, and a control's shift is computed exactly as "
            "the concept's. The concept's mean shift T is placed among its controls' T_j by its percentile and the "
            "two-sided Monte Carlo p-value p = min(1, 2·min(1 + #{T_j ≥ T}, 1 + #{T_j ≤ T}) / (N + 1)) "
            f"({cite('phipson2010permutation')}), with Benjamini–Hochberg q-values over the sequences of each stage "
            f"({cite('benjamini1995controlling')}). Sequences whose stages tokenize them differently, or without room "
            "for a control, have none (the report says which).")
    return Paragraph("Control spans", text, ("phipson2010permutation", "benjamini1995controlling"))


def across_paragraph(results: Results) -> Paragraph:
    counts = Counter(sequence.concept for sequence in results.sequences)
    rank = interval_rank(RESAMPLES, CONFIDENCE)
    alpha = round(1 - CONFIDENCE, 12)
    text = (f"Across the sequences of each concept type, the mean shift (each sequence's mean over heads, averaged "
            f"over sequences) has a {CONFIDENCE:.0%} percentile interval from a hierarchical bootstrap: "
            f"{_number(RESAMPLES)} replicates, each resampling the sequences with replacement and then the heads of "
            f"each drawn sequence ({HEAD_DRAWS} head resamples per sequence, drawn once; "
            f"{cite('davison1997bootstrap')}; {cite('saravanan2020application')}); the interval's ends are the "
            f"{_ordinal(rank)} smallest and largest replicates.")
    cites = ["davison1997bootstrap", "saravanan2020application"]
    if results.selection.n_controls > 0:
        text += (" The concept − control contrast is paired within sequences, d_s = T_s − mean_j T_{s,j}; we report "
                 f"mean(d) with its {CONFIDENCE:.0%} percentile bootstrap interval over sequences and the p-value of "
                 f"mean(d) = 0 from the same B = {_number(RESAMPLES)} replicates, "
                 "p = min(1, 2·(1 + min(#{d̄* ≤ 0}, #{d̄* ≥ 0})) / (B + 1)), the "
                 f"smallest α at which the percentile interval excludes 0 ({cite('efron1993introduction')}), so that "
                 f"the interval excludes 0 exactly when p < {alpha:g}; q-values are Benjamini–Hochberg over every "
                 "concept type × stage.")
        cites.append("efron1993introduction")
    text += (" For each head, a two-sided sign test asks whether its share rose in more of a type's sequences than "
             "it fell (binomial, p = ½; sequences with Δ = 0 left out), with Benjamini–Hochberg control of the false "
             f"discovery rate at {FDR_LEVEL:g} over all heads ({cite('benjamini1995controlling')}).")
    single = [concept for concept, count in counts.items() if count == 1]
    if single:
        which = ("Every type has" if len(single) == len(counts)
                 else f"{_number(len(single))} of the {len(counts)} types have")
        text += f" {which} a single sequence: its interval resamples heads only and speaks for that text alone."
    return Paragraph("Across sequences", text, (*cites, "benjamini1995controlling"))


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def software_paragraph(results: Results) -> Paragraph:
    analysis = analysis_packages()
    extraction = results.manifest.packages
    provenance = run_provenance(results)
    text = (f"Computed with interp {analysis['interp']} (Python {analysis['python']}, NumPy {analysis['numpy']}, "
            f"SciPy {analysis['scipy']}, pandas {analysis['pandas']}); attention was extracted with interp "
            f"{extraction.get('interp', 'unknown')}, PyTorch {extraction.get('torch', 'unknown')}, Transformers "
            f"{extraction.get('transformers', 'unknown')} and Tokenizers {extraction.get('tokenizers', 'unknown')}. "
            f"The results folder `{provenance['folder']}` (run id `{_digest(provenance['run_id'])}`, created "
            f"{results.manifest.created}) holds every stage's fingerprints in its manifest; each table carries them "
            "with the analysis settings.")
    stages = len(results.stages)
    if stages <= len(STAGE_PALETTE):
        text += (f" Figures colour the stages with the Okabe–Ito palette ({cite('okabe2008color')}).")
        return Paragraph("Software", text, ("okabe2008color",))
    return Paragraph("Software", text + f" Figures colour the {stages} stages along the Viridis scale.")


for _name, _write in (("models", lineage_paragraph), ("data", data_paragraph), ("tokens", tokens_paragraph),
                      ("measure", measure_paragraph), ("extraction", extraction_paragraph), ("shifts", shift_paragraph),
                      ("controls", control_paragraph), ("across-sequences", across_paragraph),
                      ("software", software_paragraph)):
    register_section(_name, _write)


def methods_paragraphs(results: Results, sections: Iterable[str] | None = None) -> list[Paragraph]:
    """The paragraphs of the named sections (default: every registered one, in order); a section
    with nothing to say of this run (no causal check was run) gives none."""
    written = (SECTIONS.named(name).write(results) for name in (SECTIONS if sections is None else sections))
    return [paragraph for paragraph in written if paragraph.text]


def methods_markdown(results: Results, sections: Iterable[str] | None = None) -> str:
    """METHODS.md: a heading, the paragraphs with run-in titles, and the references they cite."""
    paragraphs = methods_paragraphs(results, sections)
    cited = list(dict.fromkeys(name for paragraph in paragraphs for name in paragraph.cites))
    lines = ["# Methods", "",
             f"Written by `python -m interp methods` from the results folder `{results.store.folder.name}` and the "
             "analysis settings it was read with; every number and setting below is that run's. Edit freely.", ""]
    lines += [f"**{paragraph.title}.** {paragraph.text}\n" for paragraph in paragraphs]
    if cited:
        lines += ["## References", "", "BibTeX keys in brackets; the entries are in `references.bib`.", ""]
        lines += [f"- {REFERENCES.named(name).entry} [{name}]" for name in cited]
    return "\n".join(lines).rstrip() + "\n"


def methods_bibtex(results: Results, sections: Iterable[str] | None = None) -> str:
    """references.bib: the BibTeX of every work the paragraphs cite, each once."""
    return bibtex(name for paragraph in methods_paragraphs(results, sections) for name in paragraph.cites)
