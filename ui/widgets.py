"""Drawing one figure or table with its downloads: the same bytes the exporter writes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from interp.analysis.envelope import TableHeader
from interp.analysis.tables import COLUMN_LABELS
from interp.export.bundle import (
    CHROMIUM_MISSING,
    IMAGE_FORMATS,
    chromium_found,
    figure_bytes,
    figure_html,
    table_bytes,
)

MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}


def render_figure(fig, name: str, select_key: str | None = None, on_select=None):
    """Draw a figure and its PNG/SVG/PDF/HTML downloads; images are made only when clicked."""
    width = "content" if fig.layout.width else "stretch"
    event = st.plotly_chart(fig, key=select_key, on_select=on_select or "ignore", selection_mode="points", width=width)
    columns = st.columns(len(IMAGE_FORMATS) + 1, gap="small", width=420)
    images_possible = chromium_found()
    for column, fmt in zip(columns, IMAGE_FORMATS):
        column.download_button(
            fmt.upper(), data=(lambda f=fmt: figure_bytes(fig, f)), file_name=f"{name}.{fmt}", mime=MIME[fmt],
            key=f"download-{name}-{fmt}", disabled=not images_possible,
            help=None if images_possible else CHROMIUM_MISSING, on_click="ignore",
        )
    columns[-1].download_button("HTML", data=lambda: figure_html(fig), file_name=f"{name}.html", mime=MIME["html"],
                                key=f"download-{name}-html", on_click="ignore")
    return event


def render_table(frame: pd.DataFrame, name: str, styled=None, header: TableHeader | None = None) -> None:
    """A table and its CSV/JSON downloads; headers in words (`interp.analysis.tables.COLUMN_LABELS`), the
    files keep the plain column names and carry `header`'s settings and provenance."""
    config = {column: st.column_config.Column(COLUMN_LABELS[column]) for column in frame.columns
              if column in COLUMN_LABELS}
    st.dataframe(styled if styled is not None else frame, hide_index=True, width="stretch", column_config=config)
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("CSV", data=lambda: table_bytes(frame, "csv", header), file_name=f"{name}.csv", mime="text/csv",
                         key=f"download-{name}-csv", on_click="ignore")
    right.download_button("JSON", data=lambda: table_bytes(frame, "json", header), file_name=f"{name}.json",
                          mime="application/json", key=f"download-{name}-json", on_click="ignore")


def literal(text: str) -> str:
    """Text shown through Streamlit's markdown (alerts, captions) as written: brackets escaped, so
    a name in a shared file cannot become a link or an image that the browser would fetch."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("`", "'")
