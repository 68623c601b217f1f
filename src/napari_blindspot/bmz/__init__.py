"""Export to the BioImage Model Zoo (bioimage.io): a model package whose weights compute our
prediction, with its README and cover (needs the `bmz` extra)."""

from .export import DEFAULT_NAME, INSTALL_HINT, Denoiser, export_model, require_bioimageio

__all__ = ["DEFAULT_NAME", "INSTALL_HINT", "Denoiser", "export_model", "require_bioimageio"]
