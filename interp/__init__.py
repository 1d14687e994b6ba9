"""Attention to legal concepts across a training lineage (base → continued pretraining → instruction tuning)."""
