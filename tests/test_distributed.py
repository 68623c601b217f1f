import numpy as np
import pytest
import zarr

from napari_blindspot.cli import main

distributed = pytest.importorskip("distributed")


def _local_and_on_a_cluster(tmp_path, stack, chunks, tile, *train_options, predict_options=((),)):
    """Train on `stack` (a zarr), then predict it locally and on a 2-worker local cluster, once for
    each of `predict_options`: (local, cluster) pairs, or one pair when predicted once."""
    src = tmp_path / "in.zarr"
    zarr.open_array(str(src), mode="w", shape=stack.shape, chunks=chunks, dtype="f4")[...] = stack
    assert main(["train", str(src), str(tmp_path / "m"), *train_options, "--steps", "3", "--patch-size", "16",
                 "--batch-size", "2", "--quiet"]) == 0
    pairs = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        for i, options in enumerate(predict_options):
            predict = ["predict", str(tmp_path / "m"), str(src), *options]
            assert main([*predict, str(tmp_path / f"local{i}.zarr"), "--tile", str(tile), "--quiet"]) == 0
            assert main([*predict, str(tmp_path / f"cluster{i}.zarr"), "--tile", str(tile), "--scheduler",
                         c.scheduler_address, "--quiet"]) == 0
            pairs.append(tuple(zarr.open(str(tmp_path / f"{name}{i}.zarr"), mode="r")[...]
                               for name in ("local", "cluster")))
    return pairs[0] if len(pairs) == 1 else pairs


def test_prediction_on_a_local_cluster_equals_the_local_result(tmp_path, noisy_image):
    stack = np.stack([noisy_image[1], noisy_image[1].T]).astype(np.float32)
    local, remote = _local_and_on_a_cluster(tmp_path, stack, (1, 32, 32), 40, "--axes", "ZYX", "--2d")
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
    x = np.mgrid[0:48, 0:48][1]
    stack = np.stack([100 + 40 * np.sin(x / 5.0 + t / 3) + rng.normal(0, 10, (48, 48)) for t in range(7)]).astype("f4")
    local, remote = _local_and_on_a_cluster(tmp_path, stack, (1, 24, 24), 32, "--axes", "TYX", "--context-planes", "2")
    assert np.allclose(local, remote, rtol=1e-6, atol=0) and local.std() > 0.01  # not a constant


def test_cluster_workers_predict_in_the_precision_asked_for(tmp_path, noisy_image):
    stack = np.stack([noisy_image[1], noisy_image[1].T]).astype(np.float32)
    (bf16, bf16_remote), (f32, f32_remote) = _local_and_on_a_cluster(
        tmp_path, stack, (1, 32, 32), 40, "--axes", "ZYX", "--2d",
        predict_options=(("--precision", "bfloat16"), ("--precision", "float32")))
    rounding = np.abs(bf16 - f32).max()  # what bfloat16 changes; workers in the other format differ by it
    assert rounding > 0
    assert np.abs(bf16 - bf16_remote).max() < rounding / 4 and np.abs(f32 - f32_remote).max() < rounding / 4
