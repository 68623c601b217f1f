"""napari side of napari-blindspot: the training dock widget (Qt + napari, on top of `core`)."""

from ._dock import DenoiseWidget

__all__ = ["DenoiseWidget"]
