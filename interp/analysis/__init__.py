"""What a results folder means: shares, shifts and their statistics, read without a model.

`results` (every quantity of a run defined once, under a `Selection`), `measures` (raw or
norm-weighted attention), `exclusions` (exclusion presets and the first-position rule),
`shift_statistics` (shares, shifts, moments, entropy, intervals, control spans), `bootstrap` (the one
procedure for a mean with its interval and p-value), `across_sequences` (hierarchical bootstrap, BH,
sign consistency, contrasts), `concept_types`, `trajectory`,
`tables` (the report's tables). Analysis begins where extraction ends.

May import: `interp.core`, `interp.concepts`, `interp.store`. Never torch.
"""
