"""The causal views compute from a stored causal run, through the registry like every view."""

import numpy as np
import pytest

from interp import views
from interp.analysis.results import Results
from interp.causal.results import CausalResults

pytestmark = pytest.mark.slow
CAUSAL_VIEWS = ("causal", "shift-effect", "head-sets")


@pytest.fixture(scope="module")
def results(tiny_causal_run):
    return Results(tiny_causal_run[0])


def test_the_three_views_are_registered_after_the_catalogues_and_compute(results):
    from interp.views.catalogue import __name__ as catalogue

    names = list(views.VIEWS)
    first = names.index(CAUSAL_VIEWS[0])
    assert names[first:first + 3] == list(CAUSAL_VIEWS)
    assert all(views.VIEWS[name].compute.__module__ == catalogue for name in names[:first])
    for name in CAUSAL_VIEWS:
        view = views.get_view(name)
        chosen = views.resolve_choices(view, results)
        assert chosen["pair"] == "base→cpt" and chosen["intervention"] == "patch" and chosen["metric"] == "span"
        output = view.compute(results, **chosen)
        assert output.figures and output.headlines


def test_the_effect_map_is_the_mean_atp_effect_with_verified_heads_ringed(results, tiny_causal_run):
    output = views.get_view("causal").compute(results, pair="base→cpt", intervention="mean", metric="span")
    reader = CausalResults(tiny_causal_run[0], "base", "cpt")
    expected = reader.atp("span")["mean"].mean(axis=0)
    heatmap = output.figures["map"].data[0]
    np.testing.assert_allclose(np.asarray(heatmap.z, dtype=float), expected, rtol=1e-9)
    ringed = next(trace for trace in output.figures["map"].data if trace.name == "verified by exact patching")
    heads = reader.heads_table("span")
    verified = heads[(heads["intervention"] == "mean") & heads["verified"]]
    assert sorted(zip(ringed.y, ringed.x)) == sorted(zip(verified["layer"], verified["head"]))
    assert views.get_view("causal").head_maps


def test_a_folder_without_a_causal_run_says_how_to_make_one(tiny_run):
    plain = Results(tiny_run[0])
    for name in CAUSAL_VIEWS:
        reason = views.get_view(name).unavailable(plain)
        assert reason and "python -m interp causal" in reason
        assert list(views.bundle_choices(views.get_view(name), plain)) == []
