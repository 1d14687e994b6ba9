"""The causal check's options and their bounds, as plain values (the CLI's parser reads them without
importing the rest of the package)."""

METHODS = ("atp", "exact", "both")
DEFAULT_TOP = 16
MAX_TOP = 256
DEFAULT_RANDOM_SETS = 50
MAX_RANDOM_SETS = 1000
DEFAULT_BATCH = 8
MAX_BATCH = 1024
