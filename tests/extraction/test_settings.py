"""Extraction settings: the library's defaults are the command line's."""

import sys

from interp.cli.main import build_parser
from interp.extraction.settings import INPUT_FORMATS, ExtractionSettings


def test_cli_defaults_are_the_library_defaults():
    args = build_parser().parse_args(["extract", "--lineage", "demo", "--concepts", "c.yaml", "--out", "r"])
    from_cli = ExtractionSettings(device=args.device, dtype=args.dtype, device_map=args.device_map,
                                  patterns=args.patterns, input_format=args.input_format,
                                  trust_remote_code=args.trust_remote_code)
    assert from_cli == ExtractionSettings()
    assert ExtractionSettings().input_format in INPUT_FORMATS and not ExtractionSettings().trust_remote_code


def test_settings_import_no_torch():
    assert "interp.extraction.settings" in sys.modules
    import subprocess

    result = subprocess.run([sys.executable, "-c", "import interp.extraction.settings, sys; print('torch' in sys.modules)"],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False"
