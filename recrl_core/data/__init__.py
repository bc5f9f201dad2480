"""Datasets: loading, validation, splits, sequences and transitions."""
