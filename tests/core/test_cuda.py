"""The CUDA paths: mixed-precision training, prediction, the blind spot and memory release.

These run only where torch sees a CUDA GPU (CI has none; `benchmarks/gpu.sh` runs them on a
lent GPU machine and docs/benchmarks.md records the outcome).
"""

import gc

import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core.model import load_model
from napari_blindspot.core.config import TrainConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _psnr(clean, x):
    return 10 * np.log10((clean.max() - clean.min()) ** 2 / np.mean((clean - x) ** 2))


def _train(image, **settings):
    config = TrainConfig(axes="YX", time_budget_s=None, preview_every_s=None, seed=0, device="cuda", **settings)
    run = nb.train(image, config)
    events = list(run)
    return run, events


@pytest.mark.parametrize("method", ["n2v", "n2v2", "hqssl"])
def test_mixed_precision_training_on_cuda_improves_psnr(noisy_image, method):
    clean, noisy = noisy_image
    run, events = _train(noisy, method=method, steps=300, patch_size=32, batch_size=16)
    assert run.device.type == "cuda" and next(run.model.net.parameters()).is_cuda
    assert all(np.isfinite(e.loss) for e in events)
    out = run.model.predict(noisy)
    assert out.dtype == np.float32 and out.shape == noisy.shape
    assert _psnr(clean, out) > _psnr(clean, noisy) + 3


def test_cuda_and_cpu_predictions_agree(noisy_image, tmp_path):
    _, noisy = noisy_image
    run, _ = _train(noisy, method="hqssl", steps=20, patch_size=32, batch_size=4, features=8)
    on_gpu, std_gpu = run.model.predict(noisy, return_uncertainty=True)
    run.model.save(tmp_path / "m")
    on_cpu, std_cpu = load_model(tmp_path / "m").predict(noisy, return_uncertainty=True)  # loads onto the CPU
    # cuDNN convolutions may use TF32: agreement to ~1e-3 of the signal, not bit for bit
    assert np.abs(on_gpu - on_cpu).max() < 1e-3 * np.abs(on_cpu).max()
    assert np.abs(std_gpu - std_cpu).max() < 1e-2 * std_cpu.max()


def test_blind_spot_holds_on_cuda():
    """cuDNN picks other convolution algorithms than the CPU: the pixel must still be unseen."""
    from napari_blindspot.core.blindspot import BlindSpotNet

    torch.manual_seed(0)
    net = BlindSpotNet(2, 1, 2, features=8, depth=3).cuda()
    x = torch.randn(1, 1, 32, 32, device="cuda", requires_grad=True)
    out = net(x)
    for p in [(0, 0), (16, 16), (31, 5), (7, 31)]:
        (grad,) = torch.autograd.grad(out[0, 0, p[0], p[1]], x, retain_graph=True)
        grad = grad[0, 0].abs()
        assert grad[p] <= 1e-6 * grad.max(), f"output {p} depends on its own input ({grad[p]:.3g})"
        assert grad[max(p[0] - 1, 0), p[1]] > 0 or grad[min(p[0] + 1, 31), p[1]] > 0


def test_gpu_memory_is_released_after_training(noisy_image):
    _, noisy = noisy_image
    torch.cuda.synchronize()
    gc.collect()
    before = torch.cuda.memory_allocated()
    run, _ = _train(noisy, method="hqssl", steps=10, patch_size=64, batch_size=16)
    weights = sum(p.numel() * p.element_size() for p in run.model.net.parameters())
    # training is over: batches, activations and optimiser state are gone, the model stays
    assert torch.cuda.memory_allocated() - before < 2 * weights + 2**20
    del run
    gc.collect()
    assert torch.cuda.memory_allocated() == before


def test_out_of_memory_on_cuda_is_an_out_of_memory_error(noisy_image):
    """The widget and CLI turn torch's OutOfMemoryError into advice; it must arrive as that type."""
    big = np.random.default_rng(0).normal(size=(2048, 2048)).astype(np.float32)
    free, _ = torch.cuda.mem_get_info()
    batch = int(free // (2048 * 2048 * 4 * 32)) + 16  # far more activations than the card holds
    run = nb.train(big, TrainConfig(axes="YX", steps=1, time_budget_s=None, preview_every_s=None, device="cuda",
                                    method="n2v", patch_size=2048, batch_size=batch))
    with pytest.raises(torch.OutOfMemoryError):
        list(run)
    del run
    gc.collect()
    torch.cuda.empty_cache()
