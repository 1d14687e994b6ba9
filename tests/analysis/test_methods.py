"""The methods text against the run and the settings it was made with: change a setting, its sentence changes."""

import re

import numpy as np
import pytest

from interp.analysis.bibliography import REFERENCES
from interp.analysis.methods import (
    SECTIONS,
    MethodsSection,
    Paragraph,
    methods_bibtex,
    methods_markdown,
    methods_paragraphs,
)
from interp.analysis.results import Results, Selection

pytestmark = pytest.mark.slow


def paragraphs(folder, **selection) -> dict[str, str]:
    return {p.title: p.text for p in methods_paragraphs(Results(folder, Selection(**selection)))}


def bib_keys(text: str) -> list[str]:
    return re.findall(r"^@\w+\{(\w+),", text, flags=re.MULTILINE)


def test_default_text_states_the_run(tiny_run):
    folder, manifest, _ = tiny_run
    results = Results(folder)
    text = paragraphs(folder)
    assert list(text) == ["Models", "Data", "From spans to tokens", "Measure", "Extraction", "Shifts", "Control spans",
                          "Across sequences", "Software"]
    for stage in manifest.stages:
        assert f"{stage.label}, the local checkpoint " in text["Models"]
        assert f"(weights SHA-256 `{stage.fingerprint.removeprefix('sha256:')[:12]}…`)" in text["Models"]
    assert "the lineage `tiny`" in text["Models"] and "2 layers × 4 query heads (8 heads)" in text["Models"]
    assert "reference stage `base`" in text["Models"]
    assert "holds 2 sequences of 1 concept types: Condition (2)" in text["Data"]
    assert "marks 1–2 concept spans (3 in all)" in text["Data"]
    lengths = [results.aligned(stage="base", sequence=s.id).n_tokens for s in results.sequences]
    assert f"sequences are {min(lengths)}–{max(lengths)} tokens long (median {int(np.median(lengths))})" \
        in text["From spans to tokens"]
    assert "`<s>`" in text["From spans to tokens"] and "first-position rule `bos`" in text["From spans to tokens"]
    assert text["Measure"].startswith("We measured raw attention.") and "Kobayashi" not in text["Measure"]
    assert "float32 on cpu" in text["Extraction"] and "For base, cpt and ift, each layer's attention was recomputed " \
        "blockwise" in text["Extraction"]
    assert "over its 8 head shifts" in text["Shifts"] and "95% BCa bootstrap interval from 2,000 resamples" in text["Shifts"]
    assert "200 control spans per sequence (seed 0)" in text["Control spans"]
    assert "the 50th smallest and largest replicates" in text["Across sequences"]
    assert "excludes 0 exactly when p < 0.05" in text["Across sequences"]
    assert f"interp {manifest.packages['interp']}" in text["Software"] and "Okabe–Ito" in text["Software"]


@pytest.mark.parametrize("setting, title, before, after", [
    ({"measure": "weighted"}, "Measure", "We measured raw attention.", "norm-weighted attention (Kobayashi et al. 2020)"),
    ({"n_controls": 50, "seed": 7}, "Control spans", "200 control spans per sequence (seed 0)",
     "50 control spans per sequence (seed 7)"),
    ({"seed": 7}, "Shifts", "(Efron 1987; seed 0)", "(Efron 1987; seed 7)"),
    ({"n_controls": 0}, "Control spans", "we drew 200 control spans", "No control spans were drawn"),
    ({"n_controls": 0}, "Across sequences", "The concept − control contrast",
     "largest replicates. For each head, a two-sided sign test"),
    ({"exclusions": "punctuation"}, "From spans to tokens", "the reference study's list",
     "every token that covers only punctuation"),
    ({"exclusions": ("▁the", ".")}, "From spans to tokens", "the reference study's list",
     "the tokens `▁the` `.`, matched byte for byte"),
    ({"exclusions": "none"}, "From spans to tokens", "the reference study's list", "are no token for its text"),
    ({"first_position": "first"}, "From spans to tokens", "first-position rule `bos`",
     "the first token of every sequence, BOS or not (first-position rule `first`"),
    ({"first_position": "none"}, "From spans to tokens", "first-position rule `bos`", "first-position rule `none`"),
    ({"reference": "cpt"}, "Shifts", "against the reference stage `base`", "against the reference stage `cpt`"),
    ({"reference": "cpt"}, "Models", "reference stage `base`", "reference stage `cpt`"),
])
def test_a_changed_setting_changes_its_sentence_and_no_other_paragraph(tiny_run, setting, title, before, after):
    default, changed = paragraphs(tiny_run[0]), paragraphs(tiny_run[0], **setting)
    assert before in default[title] and before not in changed[title]
    assert after in changed[title] and after not in default[title]
    touched = {"seed": {"Shifts", "Control spans"}, "reference": {"Models", "Shifts"},
               "n_controls": {"Control spans", "Across sequences"}}
    allowed = set().union(*(touched.get(name, {title}) for name in setting))
    assert {name for name in default if default[name] != changed[name]} <= allowed


def test_references_follow_what_the_text_cites(tiny_run):
    folder = tiny_run[0]
    plain = Results(folder, Selection(n_controls=0))
    weighted = Results(folder, Selection(measure="weighted"))
    assert "kobayashi2020attention" not in bib_keys(methods_bibtex(plain))
    assert "phipson2010permutation" not in bib_keys(methods_bibtex(plain))
    keys = bib_keys(methods_bibtex(weighted))
    assert {"kobayashi2020attention", "phipson2010permutation", "benjamini1995controlling"} <= set(keys)
    assert len(keys) == len(set(keys))
    markdown = methods_markdown(weighted)
    listed = re.findall(r"^- .*\[(\w+)\]$", markdown, flags=re.MULTILINE)
    assert listed == keys, "the text's reference list and references.bib hold the same works in one order"
    for key in keys:
        assert REFERENCES[key].cite in markdown


def test_hub_checkpoints_are_named_by_revision_and_snapshot_commit():
    from interp.analysis.methods import _checkpoint
    from interp.store.folder import StageRecord

    def stage(fingerprint, revision=None):
        return StageRecord(label="base", model="mistralai/Mistral-7B-v0.1", revision=revision, checkpoint="x",
                           fingerprint=fingerprint, tokenizer_hash="t", n_layers=32, n_heads=32, dtype="bfloat16",
                           device="cuda")

    assert _checkpoint(stage("mistralai/Mistral-7B-v0.1@26bca36b")) == \
        "`mistralai/Mistral-7B-v0.1` at revision `main` (commit `26bca36b`)"
    assert _checkpoint(stage("mistralai/Mistral-7B-v0.1@v2", "v2")) == "`mistralai/Mistral-7B-v0.1` at revision `v2`"


def test_a_registered_section_joins_the_text_and_its_references(tiny_run, monkeypatch):
    results = Results(tiny_run[0], Selection(n_controls=0))
    causal = MethodsSection("causal", lambda r: Paragraph("Causal check", f"Ablated {r.shape[1]} heads.",
                                                          ("okabe2008color", "efron1987better")))
    monkeypatch.setitem(SECTIONS, "causal", causal)
    markdown = methods_markdown(results)
    assert "**Causal check.** Ablated 4 heads." in markdown
    assert markdown.index("**Software.**") < markdown.index("**Causal check.**")
    only = methods_paragraphs(results, ["measure", "causal"])
    assert [p.title for p in only] == ["Measure", "Causal check"]
    assert bib_keys(methods_bibtex(results, ["causal"])) == ["okabe2008color", "efron1987better"]
