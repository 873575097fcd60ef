"""Imports every method module so that each registers itself (see ``registry``).

``registry.get`` imports only the module of the method asked for (``registry.MODULES``); import this
module to load them all.
"""

from dhnet.surveillance import cusum, ears, farrington, glr, outliers, thresholds

__all__ = ["cusum", "ears", "farrington", "glr", "outliers", "thresholds"]
