"""Command line: ``napari-blindspot denoise|train|predict|export``. Parses, reports, and nothing else."""

from __future__ import annotations

import signal
import sys
import warnings
from pathlib import Path

from . import faults, report as report_
from ..core import methods
from .parser import EXIT_USER_ERROR, build_parser

EXIT_INTERRUPTED = 130
GUESS_NOTES = {"TYX": ": the first axis as frames, --axes ZYX for a volume",  # what a guess assumed
               "CYX": ": the first axis as channels, --axes TYX for frames"}


def _input_axes(args, image) -> str | None:
    """--axes, else the axes the file's metadata gives (said on stderr), else None (guessed)."""
    from ..io import read_axes

    if args.axes:
        return args.axes
    axes = read_axes(args.input, args.series)
    if axes and len(axes) == len(image.shape):
        if not args.quiet:
            print(f"axes: {axes} (from the file's metadata; --axes to change)", file=sys.stderr)
        return axes
    return None


def _train(args, image, axes):
    from tqdm import tqdm

    from .parser import config_from_args
    from ..core.training import train
    from ..io import read_image, read_scale

    scale = _parse_scale(args.scale) if args.scale else read_scale(args.input, args.series)
    if scale is not None and not args.scale and len(scale) != len(image.shape):
        scale = None  # metadata for another layout: ignore it rather than fail
    config = config_from_args(args, axes, scale)
    run = train(image, config, target=read_image(args.target, args.series) if args.target else None)
    faults.check_batch_fits(run)
    if axes is None and not args.quiet:
        assumed = GUESS_NOTES.get(run.config.axes, "")
        print(f"axes: {run.config.axes} (guessed from the shape {tuple(image.shape)}{assumed}; --axes to change)",
              file=sys.stderr)
    if "Z" in run.config.axes and not args.quiet:
        print(f"Z: {run.three_d_reason}", file=sys.stderr)
    if ("T" in run.config.axes or "Z" in run.config.axes) and not args.quiet:  # warnings too: they say why
        print(f"neighbour planes: {run.context.reason}", file=sys.stderr)
    with tqdm(total=run.config.steps or None, desc=f"training {run.config.method}", unit="step",
              disable=args.quiet, file=sys.stderr, leave=True) as bar:
        for p in run:
            bar.total = p.total or None  # 0: until converged, end unknown
            bar.n = p.step
            bar.set_postfix(loss=f"{p.loss:.4g}", refresh=False)
            bar.refresh()
    if p.step == 0:
        raise ValueError(f"training made no step in {p.elapsed_s:.2g} s (a busy machine, or a large image): "
                         "give a longer --time-budget or --steps N; nothing was written")
    if p.noise_params and not args.quiet:
        print(f"learned noise: {_format_noise(p.noise_params)}", file=sys.stderr)
    if p.estimated_psnr_gain_db is not None and not args.quiet:
        print(f"estimated PSNR gain over the input: {p.estimated_psnr_gain_db:+.1f} dB (held-out pixels; "
              f"best step {p.best_step} of {p.step})", file=sys.stderr)
    return run, p


def _parse_scale(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--scale {text!r} is not a list of numbers: give one spacing per axis, "
                         "e.g. --scale 2,0.5,0.5 for ZYX") from None


def _format_noise(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _predict(model, image, axes, args, run_on=None, second=None):
    """Predict into OUTPUT (and --uncertainty), atomically. `run_on(outputs, progress)`
    replaces the local prediction (the cluster path); with `second` (N2N's --target), OUTPUT is
    the mean of both denoised recordings."""
    from tqdm import tqdm

    from ..io import atomic_output

    uncertainty = args.uncertainty
    if uncertainty and not model.algorithm.has_uncertainty:
        raise ValueError(f"--uncertainty needs an hqssl model, this one is {model.spec.method}")
    with tqdm(desc="predicting", unit="tile", disable=args.quiet, file=sys.stderr) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        def run(outputs):
            if run_on is not None:
                run_on(outputs, progress)
            else:
                model.predict(image, axes, tile=args.tile, out=tuple(outputs), return_uncertainty=len(outputs) == 2,
                              progress=progress, second=second, tta=args.tta)

        made = _provenance(model, axes, args, image.ndim)
        with atomic_output(args.output, image.shape, overwrite=args.overwrite, metadata=made("result")) as out:
            if uncertainty:
                with atomic_output(uncertainty, image.shape, overwrite=args.overwrite,
                                   metadata=made("uncertainty")) as std:
                    run([out, std])
            else:
                run([out])


def _provenance(model, axes: str, args, ndim: int):
    """The record a TIFF output carries (docs/getting-started.md, "Provenance"), by kind of output."""
    from ..io.provenance import record, tiff_metadata

    folder = args.model_dir if args.command == "predict" else getattr(args, "save_model", None)
    made = record(model, axes, Path(args.input).resolve(), Path(folder).resolve() if folder else None)
    return lambda kind: tiff_metadata(ndim, {"kind": kind, **made})


def _export(args) -> None:
    try:
        from ..bmz import export_model, require_bioimageio

        require_bioimageio()
    except ImportError as err:
        raise ValueError(str(err)) from None
    from ..io.paths import check_no_overlap
    from ..io import locate, read_image

    inputs = {"MODEL_DIR": args.model_dir, **({"--sample": locate(args.sample)[0]} if args.sample else {})}
    check_no_overlap(inputs, {"OUT.zip": args.output})
    sample = read_image(args.sample) if args.sample else None
    path = export_model(args.model_dir, args.output, name=args.name, authors=args.author or ["napari-blindspot user"],
                        license=args.license, sample=sample, overwrite=args.overwrite)
    print(f"wrote {path} (check it with: bioimageio test {path})", file=sys.stderr)


def _check_paths(args) -> None:
    """Everything about the paths that can be refused, refused before any work: one overlap check
    over every pair of them (io.paths.check_no_overlap), then each kind's own rules."""
    from ..io import check_outputs, locate

    output = getattr(args, "output", None)
    model_dir = args.model_dir if args.command == "train" else getattr(args, "save_model", None)
    inputs = {"INPUT": locate(args.input)[0]}
    if getattr(args, "target", None):
        inputs["--target"] = locate(args.target)[0]
        if _same_input(args.input, args.target):
            raise ValueError(f"--target {args.target}: the second recording is the same as the first (INPUT); "
                             "N2N needs a second, independent recording of the same field")
    if args.command == "predict":
        inputs["MODEL"] = args.model_dir
    report = getattr(args, "report", None)
    check_outputs({"OUTPUT": output, "--uncertainty": getattr(args, "uncertainty", None)}, inputs,
                  {"MODEL_DIR" if args.command == "train" else "--save-model": model_dir}, args.overwrite,
                  reports={"--report": report})
    if report:
        report_.check(report, args.overwrite)


def _same_input(a, b) -> bool:
    from ..io.paths import same_or_nested

    return Path(a).resolve() == Path(b).resolve() or (same_or_nested(a, b) and Path(a).is_file())


def _run(args) -> None:
    from ..core.config import TrainConfig
    from ..io import check_space, output_bytes, read_image

    if args.command == "export":
        _export(args)
        return
    chosen = methods.get(getattr(args, "method", None) or TrainConfig.method)
    if args.command == "denoise" and args.uncertainty and not chosen.has_uncertainty:
        raise ValueError("--uncertainty needs --method hqssl")
    _check_paths(args)
    if args.command == "predict":
        from ..core.model import load_model

        if args.scheduler:
            from ..distributed import check_scheduler

            check_scheduler(args.scheduler)
        model = load_model(args.model_dir, device=args.device, precision=args.precision)
        image = read_image(args.input, args.series)
        check_space({p: output_bytes(image.shape) for p in (args.output, args.uncertainty) if p})
        axes = _input_axes(args, image)
        run_on = None
        if args.scheduler:
            from ..distributed import predict_on_cluster

            def run_on(outputs, progress):
                predict_on_cluster(args.model_dir, args.input, outputs, axes, args.tile, args.scheduler,
                                   progress=progress, series=args.series, tta=args.tta,
                                   precision=args.precision)
        _predict(model, image, axes, args, run_on)
        return
    image = read_image(args.input, args.series)
    output = args.output if args.command == "denoise" else None
    if output:
        check_space({p: output_bytes(image.shape) for p in (output, args.uncertainty) if p})
    run, final = _train(args, image, _input_axes(args, image))
    model_dir = args.model_dir if args.command == "train" else args.save_model
    if model_dir:
        run.model.save(model_dir, overwrite=args.overwrite)
    if output:
        _predict(run.model, image, run.config.axes, args, second=run.second)
    if args.report:
        report_.write(args.report, run, final)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a refused option (its one line is printed)
        return done.code
    show = warnings.showwarning
    warnings.showwarning = faults.one_line_warnings
    try:
        with faults.signals_end_cleanly():
            _run(args)
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except faults.Terminated as err:
        print(f"interrupted by {signal.Signals(err.signum).name}: no output written", file=sys.stderr)
        return 128 + err.signum
    except Exception as err:  # noqa: BLE001 - every failure is one line; --debug shows the traceback
        if args.debug:
            raise
        message = faults.no_space(err)
        if message is None and faults.out_of_memory(err):
            message = ("out of memory: use a smaller --patch-size, --batch-size or --tile, or --device cpu; "
                       "nothing was written")
        if message is None and isinstance(err, (ValueError, TypeError, OSError, FloatingPointError)):
            message = str(err)
        if message is None:
            raise
        faults.quiet_after_error()
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        warnings.showwarning = show
    return 0

