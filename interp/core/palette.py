"""The colours and default size every figure and every export share, in a module without plotly (the CLI reads them).

Stage i of a run has colour i of Okabe & Ito's colour-blind-safe palette (Okabe & Ito 2008,
"Color Universal Design") on screen and on paper; the concept's own colour is fixed.
"""

STAGE_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CONCEPT_COLOUR = "#d62728"
# A figure without a size of its own is laid out at this size (plotly's default is 700 × 500).
DEFAULT_FIGURE_SIZE = (700, 500)
