"""The Qt-free core: torch and numpy only. Never imports Qt or napari."""
