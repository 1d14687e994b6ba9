"""The Streamlit app's parts: state, sidebar, run, result views, concept pages, widgets. `app.py` is the entry point."""
