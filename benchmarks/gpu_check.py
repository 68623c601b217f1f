"""Why HQ-SSL degrades on a GPU: gradients on CUDA against the CPU, and training traces per variant.

    python3 benchmarks/gpu_check.py            # on a machine with a CUDA GPU (benchmarks/gpu.sh check2)

1. Gradients: one HQ-SSL loss on the same weights and batch, on the CPU (float32) and on
   CUDA (float32 with TF32 on and off, channels-last and contiguous); relative error of the
   parameter gradients against the CPU's.
2. Traces: HQ-SSL with the GPU defaults on camera_g25 for 300 steps, printing every 50 steps
   the training loss, the PSNR of the prior mean mu and of the posterior mean on the centre
   256x256, and the median prior and noise variances; once per variant (default, TF32 off,
   contiguous memory, cuDNN off).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import napari_blindspot as nb  # noqa: E402
from images import cases, psnr  # noqa: E402
from napari_blindspot.core import model as model_module  # noqa: E402
from napari_blindspot.core.blindspot import BlindSpotNet
from napari_blindspot.core.methods.hqssl import prior as split_prior  # noqa: E402
from napari_blindspot.core.noise import make_noise_model  # noqa: E402


def gradients(device: str, tf32: bool, channels_last: bool, net_cpu, noise_cpu, x_cpu):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = BlindSpotNet(2, 1, 2, features=net_cpu.unet.enc[0][0].out_channels,
                       decoder_features=net_cpu.unet.dec[0][0].out_channels, depth=net_cpu.depth)
    net.load_state_dict(net_cpu.state_dict())
    net = net.to(device, memory_format=fmt)
    noise = make_noise_model("auto", 1).to(device)
    noise.load_state_dict(noise_cpu.state_dict())
    x = x_cpu.to(device).contiguous(memory_format=fmt)
    mu, var = split_prior(net(x), 1)
    noise.loss(x, mu, var).backward()
    return torch.cat([p.grad.flatten().double().cpu() for p in net.parameters()])


def compare_gradients() -> None:
    torch.manual_seed(0)
    x = torch.from_numpy(cases(["camera_g25"])[0].noisy[:128, :128].copy())
    x = ((x - x.mean()) / x.std()).reshape(1, 1, 128, 128).repeat(4, 1, 1, 1)
    for features, decoder, depth in [(48, 96, 5), (16, 96, 3)]:
        net = BlindSpotNet(2, 1, 2, features=features, decoder_features=decoder, depth=depth)
        noise = make_noise_model("auto", 1)
        ref = gradients("cpu", False, True, net, noise, x)
        for tf32 in (True, False):
            for channels_last in (True, False):
                g = gradients("cuda", tf32, channels_last, net, noise, x)
                err = float((g - ref).norm() / ref.norm())
                print(f"grad {features}/{decoder}/d{depth} tf32={tf32!s:5} channels_last={channels_last!s:5} "
                      f"rel err {err:.2e}", flush=True)
    torch.backends.cudnn.allow_tf32 = True


def trace(label: str, steps: int = 300) -> None:
    case = cases(["camera_g25"])[0]
    crop, clean = case.noisy[128:384, 128:384], case.clean[128:384, 128:384]
    run = nb.train(case.noisy, nb.TrainConfig(method="hqssl", axes="YX", time_budget_s=None, steps=steps,
                                              preview_every_s=None, device="cuda"))
    line = []
    for event in run:
        if event.step % 50 or event.done:
            continue
        model = run.model
        norm = model.spec.normalisation
        z = torch.from_numpy(norm.apply(crop[None, None], channel_axis=1)).to(model.device)
        with torch.no_grad():
            model.net.eval()
            mu, prior_var = split_prior(model.net(z), 1)
            model.net.train()
            noise_var = model.noise.variance(mu.double())
        mu_raw = norm.undo(mu.float().cpu().numpy(), channel_axis=1)[0, 0]
        post = model.predict(crop)
        line.append(f"{event.step}: loss {event.loss:.3f} mu {psnr(clean, mu_raw, 255):.2f} post "
                    f"{psnr(clean, post, 255):.2f} pv {prior_var.median().item():.3g} nv {noise_var.median().item():.3g}")
    print(f"trace {label}:\n  " + "\n  ".join(line), flush=True)


def main() -> None:
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    compare_gradients()
    trace("default")
    torch.backends.cudnn.allow_tf32 = False
    trace("tf32 off")
    torch.backends.cudnn.allow_tf32 = True
    model_module.Model.memory_format = property(lambda self: torch.contiguous_format)
    trace("contiguous memory")
    torch.backends.cudnn.enabled = False
    trace("contiguous, cudnn off")


if __name__ == "__main__":
    main()
