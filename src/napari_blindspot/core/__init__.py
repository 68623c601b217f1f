"""The Qt-free core: torch and numpy (+ dask, safetensors). Never imports Qt, napari or our front ends."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-blindspot")  # pyproject.toml's, the one place it is written
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "unknown"
