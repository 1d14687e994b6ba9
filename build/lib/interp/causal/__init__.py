"""The causal check: do the heads whose attention moved matter to what the model does?

Between two stages of a lineage (a source S and a target T of one architecture and one
tokenizer), on the token ids a results folder already holds, a query head of T is intervened on
(`interventions`: its write replaced by S's, its attention pattern replaced by S's, or its output
replaced by T's mean) and a continuous metric of T's predictions (`metrics`: the log-probability
of the concept tokens, of the tokens after them, or of a given answer) is read with and without
the intervention. Attribution patching (`attribution`) screens every head at the cost of one
forward pass of S and one forward and backward pass of T; exact patching (`exact`) verifies the
heads it ranks, the heads whose attention moved most, and random head sets matched by layer.
`study` plans and runs it over a results folder; `store` keeps what it computes beside the
attention statistics; `statistics` reads it back (intervals, random-set baselines, the rank
correlation between attention shift and causal effect) without torch.

May import: `interp` modules below the views (store, results, concepts, models, extraction).
Torch is imported only by `forward`, `attribution`, `exact` and `study`.
"""
