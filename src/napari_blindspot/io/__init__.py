"""Files: reading images with their metadata, writing outputs that never destroy data, the
rules every path obeys, the provenance a result carries, and napari's TIFF reader and writer."""

from .outputs import (FORMATS, atomic_output, check_model_dir, check_outputs, check_space, check_writable,
                      output_bytes, suffix_of, write_image)
from .readers import MetadataWarning, locate, read_axes, read_image, read_scale, unit_in_um

__all__ = ["FORMATS", "MetadataWarning", "atomic_output", "check_model_dir", "check_outputs", "check_space",
           "check_writable", "locate", "output_bytes", "read_axes", "read_image", "read_scale", "suffix_of",
           "unit_in_um", "write_image"]
