"""Command line: ``napari-blindspot denoise|train|predict|export``."""

from .main import EXIT_INTERRUPTED, main

__all__ = ["EXIT_INTERRUPTED", "main"]
