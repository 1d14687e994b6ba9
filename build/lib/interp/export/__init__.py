"""The export bundle: every view's figures (HTML, PNG, SVG, PDF through one Chromium via
kaleido) and tables, in screen or paper style (`bundle`, `images`, `styles`).

May import: everything below the views, and `interp.views`. Never Streamlit.
"""
