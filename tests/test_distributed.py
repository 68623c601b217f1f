import numpy as np
import pytest
import zarr

from napari_blindspot.cli import main

distributed = pytest.importorskip("distributed")


def test_prediction_on_a_local_cluster_equals_the_local_result(tmp_path, noisy_image):
    stack = np.stack([noisy_image[1], noisy_image[1].T]).astype(np.float32)
    src = tmp_path / "in.zarr"
    zarr.open_array(str(src), mode="w", shape=stack.shape, chunks=(1, 32, 32), dtype="f4")[...] = stack
    assert main(["train", str(src), str(tmp_path / "m"), "--axes", "ZYX", "--2d", "--steps", "3",
                 "--patch-size", "16", "--batch-size", "2", "--quiet"]) == 0
    assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "local.zarr"), "--tile", "40",
                 "--quiet"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "cluster.zarr"), "--tile", "40",
                     "--scheduler", c.scheduler_address, "--quiet"]) == 0
    local = zarr.open(str(tmp_path / "local.zarr"), mode="r")[...]
    remote = zarr.open(str(tmp_path / "cluster.zarr"), mode="r")[...]
    # same tiles, same batches; workers run torch with 1 thread, so sums may round differently
    assert np.allclose(local, remote, rtol=1e-6, atol=0)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, noisy_image, capsys):
    np.save(tmp_path / "in.npy", noisy_image[1])
    assert main(["train", str(tmp_path / "in.npy"), str(tmp_path / "m"), "--steps", "2", "--patch-size", "16",
                 "--quiet"]) == 0
    code = main(["predict", str(tmp_path / "m"), str(tmp_path / "in.npy"), str(tmp_path / "o.npy"),
                 "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert code == 2 and "cannot reach the dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


def test_a_model_with_neighbour_planes_predicts_on_a_cluster_as_locally(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:48]
    stack = np.stack([100 + 40 * np.sin(x / 5.0 + t / 3) + rng.normal(0, 10, (48, 48)) for t in range(7)]).astype("f4")
    src = tmp_path / "in.zarr"
    zarr.open_array(str(src), mode="w", shape=stack.shape, chunks=(1, 24, 24), dtype="f4")[...] = stack
    assert main(["train", str(src), str(tmp_path / "m"), "--axes", "TYX", "--steps", "3", "--patch-size", "16",
                 "--batch-size", "2", "--context-planes", "2", "--quiet"]) == 0
    assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "local.zarr"), "--tile", "32",
                 "--quiet"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "cluster.zarr"), "--tile", "32",
                     "--scheduler", c.scheduler_address, "--quiet"]) == 0
    local = zarr.open(str(tmp_path / "local.zarr"), mode="r")[...]
    remote = zarr.open(str(tmp_path / "cluster.zarr"), mode="r")[...]
    assert np.allclose(local, remote, rtol=1e-6, atol=0) and local.std() > 0.01  # not a constant
