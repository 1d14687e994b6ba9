"""The results folder: its manifest and entries (`folder`, `entries`), shards and their merge
(`shards`, `merge`), and where the app keeps what a user makes (`locations`).

Everything the app shows is read from here without a model. May import: `interp.core`,
`interp.concepts`, `interp.models` (lineage records, no torch). Never torch.
"""
