"""Whether a training run's result can be trusted, said plainly: a final held-out estimate below
the input's quality, or a run of a handful of steps, names its layer for it and warns, and a
budget too short for the network is said as soon as the first step is timed (a 3D network on the
CPU: at Train, from an estimate)."""

from __future__ import annotations

FEW_STEPS = 50  # fewer steps than this give no trustworthy network (N2V learns over hundreds)


def doubt(final, steps: int, few_steps: int = FEW_STEPS, worse_below_db: float = 0.0) -> tuple[str, str] | None:
    """(tag for the layer's name, message) when a training result should not be taken as one,
    else None. The estimate is the final event's (the kept weights'; None: it could not be told)."""
    gain_db = None if final is None else final.estimated_psnr_gain_db
    if gain_db is not None and gain_db < worse_below_db:
        return "worse?", (
            f"This result may be worse than the input: the held-out estimate of its PSNR gain is "
            f"{gain_db:+.1f} dB after {steps} step{'' if steps == 1 else 's'}. Its layer's name ends in "
            "'worse?': do not use it as a result. Train for longer, or Train more.")
    if steps < few_steps:
        return "few steps?", (
            f"Only {steps} training step{' was' if steps == 1 else 's were'} done, too few for a "
            "trustworthy result (its layer's name ends in 'few steps?'). Train for longer, or Train more.")
    return None


def budget_warning(p, job, few_steps: int = FEW_STEPS) -> str | None:
    """At step 1 or 2 of `job`: the steps its time budget allows at the pace of a step, when too
    few, said once. The first step also pays one-time costs: it alone speaks only when it used
    up the budget; else the second step's time is the pace."""
    run = job.run
    if run is None or not run.config.time_budget_s or p.step > 2 or job.budget_said:
        return None
    if p.step == 1:
        job.first_step_s = p.elapsed_s
        if p.elapsed_s < run.config.time_budget_s:
            return None
    return _too_few(p.elapsed_s if p.step == 1 else p.elapsed_s - job.first_step_s, job, few_steps)


def estimated_budget_warning(step_s: float, job, few_steps: int = FEW_STEPS) -> str | None:
    """Before the first step (a 3D network on the CPU, `_jobs.StepEstimate`): the same, from an
    estimate of a step's time, so a budget too short is said at Train, not a step later."""
    if job.run is None or not job.run.config.time_budget_s or job.budget_said:
        return None
    return _too_few(step_s, job, few_steps, estimated=True)


def _too_few(step_s: float, job, few_steps: int, estimated: bool = False) -> str | None:
    run = job.run
    budget_s, three_d, cpu = run.config.time_budget_s, run.three_d, run.device.type == "cpu"
    expected = int(budget_s / max(step_s, 1e-9))
    if expected >= few_steps:
        return None
    job.budget_said = True
    why = (" A 3D network on the CPU is slow: choose '2D slices' for Z, use a GPU, or give it far "
           "longer." if three_d and cpu else " Give it longer, or a smaller patch or network under Advanced.")
    allows = (f"allows about {expected} step{'' if expected == 1 else 's'}" if expected > 1
              else "is spent before a second step")
    took = f"A step will take about {step_s:.1f} s" if estimated else f"A step took {step_s:.1f} s"
    return (f"{took}, so the {budget_s:.0f} s budget {allows}: too few "
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
