"""The causal check's bounds: what the parser states is what the run enforces."""

from interp.causal import settings
from interp.causal.store import CausalSettings
from interp.cli.main import build_parser


def test_help_states_the_bounds_the_run_enforces(capsys):
    parser = build_parser()
    causal = parser._subparsers._group_actions[0].choices["causal"]
    text = causal.format_help()
    assert f"1 to {settings.MAX_TOP}" in text and f"0 to {settings.MAX_RANDOM_SETS}" in text
    assert f"at most {settings.MAX_BATCH}" in " ".join(text.split())
    defaults = {action.dest: action.default for action in causal._actions}
    assert defaults["top"] == CausalSettings(source="a", target="b").top == settings.DEFAULT_TOP
    assert defaults["random"] == CausalSettings(source="a", target="b").random_sets == settings.DEFAULT_RANDOM_SETS
    assert defaults["method"] == "both" and tuple(defaults_choices(causal, "method")) == settings.METHODS


def defaults_choices(parser, dest):
    return next(action.choices for action in parser._actions if action.dest == dest)
