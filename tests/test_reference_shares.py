"""The published per-head shares of the reference study, summarised two independent ways.

The matrices live outside the repository (../shared/reference/paper-shares, CC BY-NC 4.0) and
are only read here, never copied. The statistics of each shift (cpt − base, ift − base) are
recomputed with plain loops written below and must agree with `compute_shift_statistics`.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from interp.analysis.shift_statistics import compute_shift_statistics, load_share_matrix

PAPER_SHARES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paper-shares"
if not PAPER_SHARES.is_dir():
    pytest.skip(f"{PAPER_SHARES} is absent", allow_module_level=True)

SEQUENCES = ("facet-1", "facet-2", "facet-3", "facet-4", "facet-5", "facet-6", "thematic")
MODELS = {
    "base": "mistralaiMistral-7B-v0.1",
    "cpt": "EquallSaul-7B-Base",
    "ift": "EquallSaul-7B-Instruct-v1",
}


def shares(sequence: str, stage: str) -> np.ndarray:
    return load_share_matrix(PAPER_SHARES / f"{sequence}_{MODELS[stage]}_proportions.npy")


def loop_statistics(values: list[float]) -> dict[str, float]:
    """Mean, median, fraction > 0, population skewness and kurtosis, 11-bin entropy, by hand."""
    n = len(values)
    mean = sum(values) / n
    ordered = sorted(values)
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    m2 = sum((x - mean) ** 2 for x in values) / n
    m3 = sum((x - mean) ** 3 for x in values) / n
    m4 = sum((x - mean) ** 4 for x in values) / n
    low, high = ordered[0], ordered[-1]
    width = (high - low) / 11
    edges = [low + i * width for i in range(11)] + [high]
    counts = [0] * 11
    for x in values:
        # Bin i is (edges[i], edges[i + 1]]; the minimum goes to bin 0.
        for i in range(11):
            if x <= edges[i + 1]:
                counts[i] += 1
                break
    entropy = -sum(c / n * math.log(c / n) for c in counts if c)
    return {
        "mean": mean,
        "median": median,
        "frac_positive": sum(1 for x in values if x > 0) / n,
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / m2**2,
        "entropy": entropy,
    }


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_published_shares_are_32_by_32_proportions(sequence):
    for stage in MODELS:
        matrix = shares(sequence, stage)
        assert matrix.shape == (32, 32)
        assert ((matrix >= 0) & (matrix <= 1)).all()
        assert 0 < matrix.mean() < 1


@pytest.mark.parametrize("stage", ["cpt", "ift"])
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_shift_statistics_agree_with_an_independent_loop(sequence, stage):
    shift = shares(sequence, stage) - shares(sequence, "base")
    assert np.abs(shift).max() > 0
    expected = loop_statistics([float(x) for x in shift.ravel()])
    computed = compute_shift_statistics(shift).as_dict()
    assert computed.keys() == expected.keys()
    for name, value in expected.items():
        assert computed[name] == pytest.approx(value, rel=1e-9, abs=1e-15), name
    assert 0 < computed["entropy"] <= math.log(11)


def test_the_readme_states_facet_1s_shift_as_computed():
    """The README quotes facet 1's cpt − base statistics without the files; they must be these."""
    computed = compute_shift_statistics(shares("facet-1", "cpt") - shares("facet-1", "base")).as_dict()
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    stated = (f"mean shift of {computed['mean']:.3g}, median {computed['median']:.3g}, "
              f"{100 * computed['frac_positive']:.1f}% of heads up, skewness {computed['skewness']:.3g}, "
              f"kurtosis {computed['kurtosis']:.4g} and entropy {computed['entropy']:.3g}").replace("-", "−")
    assert stated in readme
