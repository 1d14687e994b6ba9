"""The views of a run: the framework (`framework`: `View`, `Choice`, the registry `VIEWS`), the
catalogue of views (`catalogue`, `causal_views`, `planning`), and the figure builders (`figures`).

Importing this package registers every view. The app's picker and renderer, the export bundle
and the tests iterate `VIEWS`. May import: `interp.core`, `interp.concepts`, `interp.store`,
`interp.analysis`, and the torch-free readers of `interp.causal`. Never Streamlit, never torch.
"""

from interp.views import (
    catalogue,  # noqa: E402,F401  registers the catalogue's views, in the app's order
    causal,  # noqa: E402,F401  then the causal check's
    planning,  # noqa: E402,F401  then the sample-size planner's
)
from interp.views.framework import (
    VIEWS,
    BundleStep,
    BundleStepOutput,
    Choice,
    Headline,
    View,
    ViewOutput,
    bundle_choices,
    bundle_contents,
    bundle_plan,
    bundle_steps,
    choice_text,
    count_bundle_steps,
    describe_choices,
    entry_name,
    entry_path,
    entry_stem,
    get_view,
    named_choices,
    register,
    resolve_choices,
)

__all__ = [
    "VIEWS", "BundleStep", "BundleStepOutput", "Choice", "Headline", "View", "ViewOutput", "bundle_choices",
    "bundle_contents", "bundle_plan", "bundle_steps", "choice_text", "count_bundle_steps", "describe_choices",
    "entry_name", "entry_path", "entry_stem", "get_view", "named_choices", "register", "resolve_choices",
]
