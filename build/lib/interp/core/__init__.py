"""The floor every other part stands on: errors, atomic writes, locks, provenance, boundary parsing,
inert output, name registries and digests.

Nothing here knows about concepts, models or results. May import: the standard library, numpy,
pydantic and PyYAML only — never another `interp` subpackage.
"""
