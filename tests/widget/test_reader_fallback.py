"""A TIFF whose description or spacing napari cannot use opens as plain pixels with a warning,
and the viewer stays usable (issue 24): a singular scale once broke every later add_image."""

import json

import numpy as np
import pytest
import tifffile

from napari_blindspot.io import MetadataWarning

DEEP = '{"a":' * 50_000 + "1" + "}" * 50_000


def _absurd(path):
    tifffile.imwrite(path, np.zeros((8, 8), "f4"), metadata=None,
                     description=json.dumps({"shape": [8, 8], "napari": {"scale": [1e300, 1e-300]}}))


def _unit(path):
    tifffile.imwrite(path, np.zeros((8, 8), "f4"), metadata=None,
                     description=json.dumps({"shape": [8, 8], "napari": {"units": ["furlong", "no_such_unit"]}}))


def _deep(path):
    tifffile.imwrite(path, np.zeros((8, 8), "f4"), metadata=None, description=DEEP)


def _ome(size):
    return lambda path: tifffile.imwrite(path, np.zeros((4, 8, 8), "f4"), metadata={
        "axes": "ZYX", "PhysicalSizeZ": size, "PhysicalSizeY": 1.0, "PhysicalSizeX": 1.0})


def _imagej_zero(path):
    tifffile.imwrite(path, np.zeros((4, 8, 8), "f4"), imagej=True, metadata={"axes": "ZYX", "spacing": 0})


@pytest.mark.parametrize("make", [_absurd, _unit, _deep, _ome(float("nan")), _ome(0.0), _imagej_zero],
                         ids=["scale 1e300,1e-300", "unknown unit", "nested JSON", "OME Z NaN", "OME Z 0",
                              "ImageJ spacing 0"])
def test_an_unusable_description_opens_as_plain_pixels_and_the_viewer_stays_usable(make_napari_viewer, tmp_path,
                                                                                    make):
    viewer = make_napari_viewer()
    path = str(tmp_path / ("x.ome.tif" if make.__name__ == "<lambda>" else "x.tif"))
    make(path)
    with pytest.warns(MetadataWarning):
        layers = viewer.open(path, plugin="napari-blindspot")
    assert all(np.all(np.asarray(layer.scale) == 1) for layer in layers)
    viewer.add_image(np.ones((4, 4)))  # the viewer is not poisoned
    assert len(viewer.layers) == len(layers) + 1
