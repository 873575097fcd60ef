"""dhnet: the WHO Global Strategy on Digital Health 2020-2025 as working software."""

__version__ = "0.1.0"
