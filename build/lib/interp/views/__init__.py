"""The views of a run: the framework (`framework`: `View`, `Choice`, the registry `VIEWS`), the
catalogue of views (`catalogue`, `causal_views`), and the figure builders (`figures`).

Importing this package registers every view. The app's picker and renderer, the export bundle
and the tests iterate `VIEWS`. May import: `interp.core`, `interp.concepts`, `interp.store`,
`interp.analysis`, and the torch-free readers of `interp.causal`. Never Streamlit, never torch.
"""

from interp.views import (
    catalogue,  # noqa: E402,F401  registers the catalogue's views, in the app's order
    causal,  # noqa: E402,F401  then the causal check's
)
from interp.views.framework import (
    VIEWS,
    Choice,
    Headline,
    View,
    ViewOutput,
    bundle_choices,
    bundle_contents,
    bundle_steps,
    choice_text,
    count_bundle_steps,
    entry_name,
    get_view,
    register,
    resolve_choices,
)

__all__ = [
    "VIEWS", "Choice", "Headline", "View", "ViewOutput", "bundle_choices", "bundle_contents", "bundle_steps",
    "choice_text", "count_bundle_steps", "entry_name", "get_view", "register", "resolve_choices",
]
