"""Imports every method module so that each registers itself (see ``registry``)."""

from dhnet.surveillance import cusum, ears, farrington, glr, outliers, thresholds

__all__ = ["cusum", "ears", "farrington", "glr", "outliers", "thresholds"]
