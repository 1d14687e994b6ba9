"""The works the methods text cites: each entry once, well-formed BibTeX, and an unknown key named."""

import re

import pytest

from interp.analysis.bibliography import REFERENCES, bibtex, cite
from interp.core.errors import InterpError

# The works docs/design.md and the README cite for what the code does.
CITED_BY_THE_DOCS = {
    "kobayashi2020attention": ("Kobayashi et al. 2020", "2020"),
    "benjamini1995controlling": ("Benjamini & Hochberg 1995", "1995"),
    "efron1987better": ("Efron 1987", "1987"),
    "efron1993introduction": ("Efron & Tibshirani 1993", "1993"),
    "davison1997bootstrap": ("Davison & Hinkley 1997", "1997"),
    "saravanan2020application": ("Saravanan et al. 2020", "2020"),
    "phipson2010permutation": ("Phipson & Smyth 2010", "2010"),
    "okabe2008color": ("Okabe & Ito 2008", "2008"),
    "syed2023attribution": ("Syed et al. 2023", "2023"),
    "kramar2024atp": ("Kramár et al. 2024", "2024"),
    "zhang2024best": ("Zhang & Nanda 2024", "2024"),
    "heimersheim2024patching": ("Heimersheim & Nanda 2024", "2024"),
}


def test_every_entry_is_well_formed_bibtex_with_its_year():
    assert set(REFERENCES) == set(CITED_BY_THE_DOCS)
    for name, reference in REFERENCES.items():
        text = reference.bibtex
        assert re.match(rf"@(article|book|inproceedings|misc)\{{{name},\n", text), name
        assert text.count("{") == text.count("}") and text.endswith("}\n")
        fields = dict(re.findall(r"^  (\w+) = \{(.*)\},?$", text, flags=re.MULTILINE))
        assert {"author", "title", "year"} <= set(fields) and fields["year"] == CITED_BY_THE_DOCS[name][1]
        assert cite(name) == CITED_BY_THE_DOCS[name][0] and CITED_BY_THE_DOCS[name][1] in reference.entry


def test_bibtex_writes_each_named_work_once_in_order():
    text = bibtex(["okabe2008color", "efron1987better", "okabe2008color"])
    assert re.findall(r"^@\w+\{(\w+),", text, flags=re.MULTILINE) == ["okabe2008color", "efron1987better"]
    assert bibtex([]) == ""
    with pytest.raises(InterpError, match="reference 'smith2024' is unknown; references: kobayashi2020attention"):
        bibtex(["smith2024"])
