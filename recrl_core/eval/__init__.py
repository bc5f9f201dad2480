"""Offline evaluation: full-catalogue ranking and metrics."""
