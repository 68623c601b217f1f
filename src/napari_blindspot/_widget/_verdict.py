"""Whether a training run's result can be trusted, said plainly: a final held-out estimate below
the input's quality, or a run of a handful of steps, names its layer for it and warns, and a
budget too short for the network is said as soon as the first step is timed."""

from __future__ import annotations

FEW_STEPS = 50  # fewer steps than this give no trustworthy network (N2V learns over hundreds)


def doubt(final, steps: int, few_steps: int = FEW_STEPS, worse_below_db: float = 0.0) -> tuple[str, str] | None:
    """(tag for the layer's name, message) when a training result should not be taken as one,
    else None. The estimate is the final event's (the kept weights'; None: it could not be told)."""
    gain_db = None if final is None else final.estimated_psnr_gain_db
    if gain_db is not None and gain_db < worse_below_db:
        return "worse than input?", (
            f"This result may be worse than the input: the held-out estimate of its PSNR gain is "
            f"{gain_db:+.1f} dB after {steps} step{'' if steps == 1 else 's'}. Its layer is named "
            "'worse than input?': do not use it as a result. Train for longer, or Train more.")
    if steps < few_steps:
        return "too few steps?", (
            f"Only {steps} training step{' was' if steps == 1 else 's were'} done, too few for a "
            "trustworthy result (its layer is named 'too few steps?'). Train for longer, or Train more.")
    return None


def budget_warning(first, run, few_steps: int = FEW_STEPS) -> str | None:
    """After the `first` step of `run`: the steps its time budget allows at that pace, when too few."""
    if run is None or not run.config.time_budget_s or first.elapsed_s <= 0:
        return None
    first_step_s, budget_s = first.elapsed_s, run.config.time_budget_s
    three_d, cpu = run.three_d, run.device.type == "cpu"
    expected = int(budget_s / first_step_s)
    if expected >= few_steps:
        return None
    why = (" A 3D network on the CPU is slow: choose '2D slices' for Z, use a GPU, or give it far "
           "longer." if three_d and cpu else " Give it longer, or a smaller patch or network under Advanced.")
    allows = (f"allows about {expected} step{'' if expected == 1 else 's'}" if expected > 1
              else "is spent before a second step")
    return (f"The first step took {first_step_s:.1f} s, so the {budget_s:.0f} s budget {allows}: too few "
            f"for a useful result.{why} "
            "Press Stop to change the settings.")


def how_it_ended(final, run, offset: int = 0) -> str:
    """Why a run ended before its budget (until it stops improving), and whether Train more kept
    the weights it started from; steps count the model's whole history (`offset` before this run)."""
    if final is None or run is None or final.best_step is None:
        return ""
    parts = []
    if run.converged_at is not None:
        parts.append(f"stopped: the held-out loss stopped improving at step {offset + final.best_step}")
    if offset and final.best_step == 0:
        parts.append(f"kept the model as it was at step {offset}: this run never beat its held-out loss")
    return " · ".join(parts)
