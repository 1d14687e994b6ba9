"""The causal check's paragraph of the methods section: there when a causal run is, true of its settings."""

import pytest

from interp.analysis.methods import methods_bibtex, methods_markdown
from interp.analysis.results import Results
from interp.causal import methods as causal_methods

pytestmark = pytest.mark.slow


def test_the_paragraph_states_the_run_and_cites_what_it_uses(tiny_causal_run):
    results = Results(tiny_causal_run[0])
    text = methods_markdown(results)
    assert "**Causal check.**" in text and "base → cpt" in text
    assert "5 random head sets" in text and "the 2 heads with the largest |AtP|" in text
    assert "mean ablation" in text and "pattern patching" in text
    bib = methods_bibtex(results)
    assert "@article{kramar2024atp" in bib and "@inproceedings{zhang2024best" in bib


def test_a_folder_without_a_causal_run_has_no_such_paragraph(tiny_run):
    results = Results(tiny_run[0])
    assert causal_methods.causal_paragraph(results).text == ""
    assert "Causal check" not in methods_markdown(results)
