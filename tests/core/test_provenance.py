"""What a result records about where it came from."""

import re
from importlib.metadata import version

from interp import __version__
from interp.core.provenance import RUN_PACKAGES, package_versions, utc_now


def test_package_versions():
    versions = package_versions(("interp", "python", "numpy", "no-such-package-here"))
    assert versions["interp"] == __version__ and versions["numpy"] == version("numpy")
    assert re.fullmatch(r"3\.\d+\.\d+", versions["python"])
    assert versions["no-such-package-here"] == "not installed"
    assert set(package_versions()) == set(RUN_PACKAGES)


def test_utc_now_is_iso_to_the_second():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", utc_now())
