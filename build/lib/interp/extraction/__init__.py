"""Running a lineage over concept sequences: attention reduced as each layer produces it.

`blockwise` (attention output, column sums and pattern blocks without an n × n map), `extract`
(the lean forward on the bridge and the pattern fallback), `plan` (a run planned before any model
loads), `tasks` (one stage × a block of sequences), `executors` (where tasks run; `ray_executor`
plugs into it), `pipeline` (plan, execute, manifest), `settings` (plain records), `bench` (the
benchmark). Extraction ends where the results folder begins: it writes through `interp.store`.

May import: `interp.core`, `interp.concepts`, `interp.models`, `interp.store`.
"""
