"""The bundle's index: a row per figure and table with its settings, a static page that escapes every text."""

import io
import re

import pandas as pd

from interp.export.index import IndexEntry, Source, index_csv, index_frame, index_html

HEADS = Source("heads", "Heads", "Layer × head share.", "Sequence: s1 (Role); Stage: cpt",
               {"sequence": "s1", "stage": "cpt"}, ("A note.",))
TYPES = Source("types", "Concept types", "Per type.", "", {})
CONSISTENCY = Source("consistency", "Head consistency", "Per head.", "Concept type: Role; Stage: ift",
                     {"concept": "Role", "stage": "ift"})
ENTRIES = [
    IndexEntry("figure", "figures/heads/share-s1-cpt", ("png", "html", "pdf"), "Share, s1, cpt", HEADS),
    IndexEntry("figure", "figures/types/forest", ("html",), "Mean shift per type", TYPES),
    IndexEntry("table", "tables/types/types", ("csv", "json"), "types", TYPES),
    IndexEntry("figure", "figures/consistency/heads-role-ift", ("html",), "Rose in how many", CONSISTENCY),
]


def test_the_csv_has_a_row_per_entry_and_a_column_per_choice():
    frame = index_frame(ENTRIES)
    assert list(frame.columns) == ["kind", "view", "view_label", "path", "files", "title", "settings", "sequence",
                                   "stage", "concept", "caption", "notes"]
    assert list(frame["files"]) == ["html png pdf", "html", "csv json", "html"]  # in a fixed order of formats
    assert list(frame["stage"]) == ["cpt", "", "", "ift"] and list(frame["concept"]) == ["", "", "", "Role"]
    assert frame.loc[0, "notes"] == "A note." and frame.loc[2, "caption"] == "Per type."
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(index_csv(ENTRIES)), keep_default_na=False), frame,
                                  check_dtype=False)


def test_the_page_has_a_section_per_view_with_links_and_thumbnails():
    page = index_html(ENTRIES, {"Measure": "attention"}, ["Per-sequence figures of 3 sequences are left out."]).decode()
    assert [match for match in re.findall(r"<h2 id='view-([a-z-]+)'>", page)] == ["heads", "types", "consistency"]
    assert "href='#view-heads'>Heads</a>: 1 figure, 0 tables" in page
    assert "href='#view-types'>Concept types</a>: 1 figure, 1 table" in page
    assert "<img loading='lazy' alt='' src='figures/heads/share-s1-cpt.png'>" in page  # a thumbnail where a PNG is
    assert page.count("<img") == 1
    links = re.findall(r"href='(figures/heads/share-s1-cpt\.[a-z]+)'", page)
    assert links == ["figures/heads/share-s1-cpt.html", "figures/heads/share-s1-cpt.html",
                     "figures/heads/share-s1-cpt.png", "figures/heads/share-s1-cpt.pdf"]
    assert "tables/types/types.csv" in page and "Sequence: s1 (Role); Stage: cpt" in page
    assert "left out" in page and "<th>Measure</th><td>attention</td>" in page


def test_the_page_is_inert_whatever_the_names():
    hostile = Source("heads", "<script>alert(1)</script>", "caption <b>", "Sequence: '><img src=x onerror=alert(1)>",
                     {"sequence": "=HYPERLINK(\"x\")"})
    entries = [IndexEntry("figure", "figures/heads/x", ("html",), "<script>alert(2)</script>", hostile)]
    page = index_html(entries, {"Lineage": "<iframe>"}).decode()
    assert "<script" not in page and "<iframe" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    rows = pd.read_csv(io.BytesIO(index_csv(entries)), dtype=str)
    assert rows.loc[0, "sequence"] == "'=HYPERLINK(\"x\")"  # no formula reaches a spreadsheet
