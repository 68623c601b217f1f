"""careamics N2V, the peer, trained with careamics-napari 0.3.0's defaults on each case.

    /work/venvs/careamics/bin/python benchmarks/careamics_n2v.py [--cases moon_g25] [--steps 1000]
        [--out benchmarks/results/careamics.json]

Needs its own venv (careamics 0.3 wants torch<2.10): `bash benchmarks/careamics_env.sh`.
The configuration is the plugin's `get_default_n2v_config()` (careamics_napari/careamics_utils/
n2v_configs.py): patch 64x64, batch 16, 3 dataloader workers, 100 steps per epoch as a cap,
and careamics' N2V defaults (UNet depth 2, 32 filters, batch norm, Adam lr 1e-3 with
ReduceLROnPlateau on val_loss, roi 11, 0.2% masked pixels, flips and 90 degree rotations,
mean/std normalisation, 8 patches held out for validation). A 512x512 image gives only a few
batches per epoch, so epochs are short; the plugin's "30 epochs x 100 steps" is 30 short epochs.
Instead of epochs we stop at exactly `--steps` optimizer steps with Lightning's `max_steps`
(max_epochs -1), and check trainer.global_step. Prediction is the plugin's: whole image,
batch 1. The tensorboard logger is off; checkpoints go to a temporary directory.
Each case runs in a fresh process; results merge into the JSON one case at a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from lightning.pytorch import Callback

sys.path.insert(0, str(Path(__file__).parent))
from _measure import isolated, load, merge_results  # noqa: E402
from images import Case, cases, psnr  # noqa: E402


class _StepClock(Callback):
    """Times every optimizer step, to separate start-up (workers, sanity check) from the rate."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, *args) -> None:
        self.times.append(time.perf_counter())


def train_and_predict(case: Case, steps: int, seed: int) -> dict:
    from careamics import CAREamist
    from careamics.config import create_advanced_n2v_config

    config = create_advanced_n2v_config(  # careamics_napari get_default_n2v_config(), logger off
        experiment_name="careamics_n2v", data_type="array", axes="YX", patch_size=[64, 64],
        batch_size=16, num_epochs=30, num_steps=100, independent_channels=True,
        train_dataloader_params={"num_workers": 3}, val_dataloader_params={"num_workers": 3},
        logger="none", seed=seed,
    )
    config.training_config.trainer_params.update(max_epochs=-1, max_steps=steps)
    with tempfile.TemporaryDirectory() as work_dir:
        clock = _StepClock()
        careamist = CAREamist(config, callbacks=[clock], work_dir=work_dir)
        start_train = time.perf_counter()
        careamist.train(train_data=case.noisy)
        train_s = time.perf_counter() - start_train
        done = careamist.trainer.global_step
        start = time.perf_counter()
        predictions, _ = careamist.predict(case.noisy, data_type="array", tile_size=None, batch_size=1)
        predict_s = time.perf_counter() - start
    estimate = np.squeeze(predictions[0]).astype(np.float32)
    return {
        "steps": done, "epochs": careamist.trainer.current_epoch,
        "psnr_db": round(psnr(case.clean, estimate, case.data_range), 2),
        "psnr_clipped_db": round(psnr(case.clean, np.clip(estimate, case.noisy.min(), case.noisy.max()), case.data_range), 2),
        "output_range": [float(estimate.min()), float(estimate.max())],
        "noisy_range": [float(case.noisy.min()), float(case.noisy.max())],
        "train_s": round(train_s, 1), "steps_per_s": round(done / train_s, 2),
        "first_step_s": round(clock.times[0] - start_train, 1),  # start-up until the first step ends
        "steps_per_s_after_first": round((len(clock.times) - 1) / (clock.times[-1] - clock.times[0]), 2),
        "predict_s": round(predict_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1, help="careamics seed (> 0)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "careamics.json")
    args = parser.parse_args()
    for case in cases(args.cases.split(",") if args.cases else None):
        load_start = load()
        entry = {"case": case.name, "noise": case.noise, "requested_steps": args.steps, "seed": args.seed,
                 "careamics": version("careamics"), "torch": version("torch")}
        entry |= isolated(train_and_predict, case, args.steps, args.seed) | {"load_start": load_start, "load_end": load()}
        merge_results(args.out, case.name, entry)
        print(f"{case.name}: {entry['psnr_db']} dB, {entry['steps']} steps in {entry['train_s']} s "
              f"({entry['steps_per_s']}/s), predict {entry['predict_s']} s, peak RSS {entry['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
