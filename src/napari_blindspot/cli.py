"""Command line: ``napari-blindspot denoise|train|predict|export``. Parses, reports, and nothing else."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import math
import signal
import sys
import threading
import warnings

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
# Every signal that ends a process by default and can be caught: each one cleans up like Ctrl+C.
_ENDING_SIGNALS = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                                                      "SIGALRM", "SIGXCPU", "SIGVTALRM", "SIGPROF")
                   if hasattr(signal, name)]
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as every other refusal
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


class Terminated(BaseException):
    """A signal asked us to end: like KeyboardInterrupt, it unwinds so temporaries are removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _number(kind, low=None, what="a number", typical=""):
    """An argparse type: `kind` at least `low` (and finite); its message names the option."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (kind is float and not math.isfinite(value)) or (low is not None and value < low):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}{typical}")
        return value
    return parse


_count = lambda low, what, typical="": _number(int, low, what, typical)  # noqa: E731


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="napari-blindspot",
        description="Self-supervised denoising (N2V, N2V2, HQ-SSL) of one noisy image or stack.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p):
        p.add_argument("--series", type=_count(0, "a series number (0, 1, ...)"),
                       help="which image series of a multi-series TIFF (OME) to read")
        p.add_argument("--overwrite", action="store_true",
                       help="replace existing outputs written earlier (a file of the same kind, or our model)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        # SUPPRESS: absent here must not overwrite `napari-blindspot --debug <command>`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def training_options(p):
        p.add_argument("--method", default="n2v", choices=["n2v", "n2v2", "hqssl"])
        p.add_argument("--axes", help="axes of the input, e.g. YX, ZYX, TCYX (default: from the file's "
                                      "metadata, else guessed)")
        p.add_argument("--noise", default="auto", choices=["auto", "gaussian", "poisson", "poisson-gaussian"],
                       help="HQ-SSL noise model")
        p.add_argument("--sigma", type=_number(float, 0, "a positive noise level"),
                       help="known Gaussian noise level, in the input's units")
        length = p.add_mutually_exclusive_group()
        length.add_argument("--time-budget", type=_number(float, 1e-9, "a positive number of seconds"),
                            metavar="SECONDS", help="train for this long (default 60)")
        length.add_argument("--steps", type=_count(1, "a positive whole number of steps"), metavar="N",
                            help="train for N steps")
        p.add_argument("--seed", type=_count(0, f"a whole number from 0 to {MAX_SEED}"), default=0)
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
        p.add_argument("--patch-size", type=_count(8, "a patch side of at least 8 pixels", " (64 is typical)"),
                       help="training patch side in pixels")
        p.add_argument("--batch-size", type=_count(1, "a positive whole number of patches", " (16 is typical)"))
        p.add_argument("--channels", default="independent", choices=["joint", "independent"],
                       help="axis C: one model per channel (independent, default: no channel leaks into "
                            "another) or one model for all channels (joint: channels inform each other)")
        z_mode = p.add_mutually_exclusive_group()
        z_mode.add_argument("--2d", dest="three_d", action="store_false", default=None,
                            help="train a Z stack slice by slice in 2D")
        z_mode.add_argument("--3d", dest="three_d", action="store_true", default=None,
                            help="train a Z stack in 3D (default: 3D when the Z spacing is at most 3x the "
                                 "pixel size and there are at least 16 planes)")
        p.add_argument("--scale", metavar="Z,Y,X",
                       help="voxel spacing, one value per input axis in --axes order, e.g. 2,0.5,0.5 "
                            "(default: from TIFF ImageJ/OME metadata); decides 3D or 2D")
        common(p)

    tile = dict(type=_count(8, "a tile side of at least 8 pixels", " (256 is typical)"),
                help="prediction tile side in pixels")
    d = sub.add_parser("denoise", help="train on INPUT and write the denoised OUTPUT")
    d.add_argument("input")
    d.add_argument("output")
    training_options(d)
    d.add_argument("--save-model", metavar="DIR", help="also save the trained model here")
    d.add_argument("--tile", **tile)
    d.add_argument("--uncertainty", metavar="PATH", help="HQ-SSL: write the posterior std here")

    t = sub.add_parser("train", help="train on INPUT and save the model to MODEL_DIR")
    t.add_argument("input")
    t.add_argument("model_dir")
    training_options(t)

    p = sub.add_parser("predict", help="denoise INPUT with a saved model")
    p.add_argument("model_dir")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--axes", help="axes of the input (default: from the file's metadata, else the model's)")
    p.add_argument("--tile", **tile)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--uncertainty", metavar="PATH", help="HQ-SSL: write the posterior std here")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask.distributed cluster, e.g. tcp://host:8786")
    common(p)

    e = sub.add_parser("export", help="write a saved model as a bioimage.io model package (needs the bmz extra)")
    e.add_argument("model_dir")
    e.add_argument("output", metavar="OUT.zip")
    e.add_argument("--name", help="model name (default: 'napari-blindspot <METHOD> denoiser')")
    e.add_argument("--author", action="append", help="an author's name; repeat for several "
                   "(default: 'napari-blindspot user')")
    e.add_argument("--license", default="CC-BY-4.0", help="SPDX license identifier (default: CC-BY-4.0)")
    e.add_argument("--sample", metavar="IMAGE", help="an image in the model's axes whose centre becomes the "
                   "package's test input and cover (default: a synthetic image)")
    e.add_argument("--overwrite", action="store_true", help="replace OUT.zip if it exists")
    e.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _input_axes(args, image) -> str | None:
    """--axes, else the axes the file's metadata gives (said on stderr), else None (guessed)."""
    from .io import read_axes

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

    from .core.config import TrainConfig
    from .core.training import train
    from .io import read_scale

    scale = _parse_scale(args.scale) if args.scale else read_scale(args.input, args.series)
    if scale is not None and not args.scale and len(scale) != len(image.shape):
        scale = None  # metadata for another layout: ignore it rather than fail
    budget = args.time_budget if args.time_budget is not None else (None if args.steps else 60.0)
    config = TrainConfig(method=args.method, axes=axes, time_budget_s=budget, steps=args.steps,
                         seed=args.seed, device=args.device, noise=args.noise, sigma=args.sigma,
                         patch_size=args.patch_size, batch_size=args.batch_size, three_d=args.three_d,
                         scale=scale, channels=args.channels, preview_every_s=None)
    run = train(image, config)
    _check_batch_fits(run)
    if "Z" in run.config.axes and not args.quiet:
        print(f"Z: {run.three_d_reason}", file=sys.stderr)
    with tqdm(total=run.config.steps or None, desc=f"training {args.method}", unit="step",
              disable=args.quiet, file=sys.stderr, leave=True) as bar:
        for p in run:
            bar.total = p.total
            bar.n = p.step
            bar.set_postfix(loss=f"{p.loss:.4g}", refresh=False)
            bar.refresh()
    if p.step == 0:
        raise ValueError(f"training made no step in {p.elapsed_s:.2g} s (a busy machine, or a large image): "
                         "give a longer --time-budget or --steps N; nothing was written")
    if p.noise_params and not args.quiet:
        print(f"learned noise: {_format_noise(p.noise_params)}", file=sys.stderr)
    return run


# One training step holds about this many float32 values per input pixel and network feature
# (activations and their gradients over the UNet's levels); HQ-SSL runs four rotations at once.
_VALUES_PER_PIXEL_FEATURE = 8


def _check_batch_fits(run) -> None:
    """Refuse a batch whose one training step cannot fit in memory, before it is attempted."""
    import torch

    settings = run.settings
    pixels = settings.batch * math.prod(settings.patch) * run.view.channels
    rotations = 4 if run.config.method == "hqssl" else 1
    need = pixels * settings.network.get("features", 32) * _VALUES_PER_PIXEL_FEATURE * rotations * 4
    if run.device.type == "cuda":
        free = torch.cuda.mem_get_info(run.device)[0]
    else:
        free = _available_memory()
    if free is not None and need > free:
        raise ValueError(f"--batch-size {settings.batch} with {'x'.join(map(str, settings.patch))} patches needs "
                         f"about {need / 1e9:.1f} GB per training step, {free / 1e9:.1f} GB are free: use a "
                         "smaller --batch-size or --patch-size")


def _available_memory() -> int | None:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/meminfo") as f:
            line = next(line for line in f if line.startswith("MemAvailable:"))
        return int(line.split()[1]) * 1024
    return None


def _parse_scale(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--scale {text!r} is not a list of numbers: give one spacing per axis, "
                         "e.g. --scale 2,0.5,0.5 for ZYX") from None


def _format_noise(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _predict(model, image, axes, args, run_on=None):
    """Predict into OUTPUT (and --uncertainty), atomically. `run_on(outputs, progress)`
    replaces the local prediction (the cluster path)."""
    from tqdm import tqdm

    from .io import atomic_output

    uncertainty = args.uncertainty
    if uncertainty and model.spec.method != "hqssl":
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
                              progress=progress)

        with atomic_output(args.output, image.shape, overwrite=args.overwrite) as out:
            if uncertainty:
                with atomic_output(uncertainty, image.shape, overwrite=args.overwrite) as std:
                    run([out, std])
            else:
                run([out])


def _export(args) -> None:
    try:
        from .bmz import export_model, require_bioimageio

        require_bioimageio()
    except ImportError as err:
        raise ValueError(str(err)) from None
    from .io import read_image

    sample = read_image(args.sample) if args.sample else None
    path = export_model(args.model_dir, args.output, name=args.name, authors=args.author or ["napari-blindspot user"],
                        license=args.license, sample=sample, overwrite=args.overwrite)
    print(f"wrote {path} (check it with: bioimageio test {path})", file=sys.stderr)


def _check_paths(args) -> None:
    """Everything about the paths that can be refused, refused before any work."""
    from .io import check_outputs, locate

    output = getattr(args, "output", None)
    model_dir = args.model_dir if args.command == "train" else getattr(args, "save_model", None)
    inputs = {"INPUT": locate(args.input)[0]}
    if args.command == "predict":
        inputs["MODEL"] = args.model_dir
    check_outputs({"OUTPUT": output, "--uncertainty": getattr(args, "uncertainty", None)}, inputs,
                  {"MODEL_DIR" if args.command == "train" else "--save-model": model_dir}, args.overwrite)


def _run(args) -> None:
    from .io import check_space, output_bytes, read_image

    if args.command == "export":
        _export(args)
        return
    if args.command == "denoise" and args.uncertainty and args.method != "hqssl":
        raise ValueError("--uncertainty needs --method hqssl")
    _check_paths(args)
    if args.command == "predict":
        from .core.model import load_model

        if args.scheduler:
            from .distributed import check_scheduler

            check_scheduler(args.scheduler)
        model = load_model(args.model_dir, device=args.device)
        image = read_image(args.input, args.series)
        check_space({p: output_bytes(image.shape) for p in (args.output, args.uncertainty) if p})
        axes = _input_axes(args, image)
        run_on = None
        if args.scheduler:
            from .distributed import predict_on_cluster

            def run_on(outputs, progress):
                predict_on_cluster(args.model_dir, args.input, outputs, axes, args.tile, args.scheduler,
                                   progress=progress, series=args.series)
        _predict(model, image, axes, args, run_on)
        return
    image = read_image(args.input, args.series)
    output = args.output if args.command == "denoise" else None
    if output:
        check_space({p: output_bytes(image.shape) for p in (output, args.uncertainty) if p})
    run = _train(args, image, _input_axes(args, image))
    model_dir = args.model_dir if args.command == "train" else args.save_model
    if model_dir:
        run.model.save(model_dir, overwrite=args.overwrite)
    if output:
        _predict(run.model, image, run.config.axes, args)


def _no_space(err: BaseException) -> str | None:
    """The 'no space left' line for a full disk, however the library reports it (OSError, SafetensorError)."""
    advice = "free some space or write elsewhere; nothing was written"
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        if str(err.strerror).startswith("no space left"):  # check_space's own words
            return err.strerror
        return f"no space left on device while writing {err.filename or 'the output'}: {advice}"
    if "No space left on device" in str(err):
        return f"no space left on device while saving the model: {advice}"
    return None


def _out_of_memory(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, MemoryError) or "out of memory" in text or "can't allocate memory" in text


@contextlib.contextmanager
def _signals_end_cleanly():
    """SIGTERM, SIGHUP and the like raise `Terminated` (only the main thread can install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in _ENDING_SIGNALS}
    if hasattr(signal, "SIGXFSZ"):  # a file size limit: an OSError on write, not a killed process
        previous[signal.SIGXFSZ] = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _quiet_after_error() -> None:
    """Our error line is the last word: no asyncio or 'exception ignored' noise from libraries at exit."""
    logging.getLogger("asyncio").disabled = True
    sys.unraisablehook = lambda unraisable: None


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or a refused option (its one line is printed)
        return done.code
    show = warnings.showwarning
    warnings.showwarning = _one_line_warnings
    try:
        with _signals_end_cleanly():
            _run(args)
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as err:
        print(f"interrupted by {signal.Signals(err.signum).name}: no output written", file=sys.stderr)
        return 128 + err.signum
    except Exception as err:  # noqa: BLE001 - every failure is one line; --debug shows the traceback
        if args.debug:
            raise
        message = _no_space(err)
        if message is None and _out_of_memory(err):
            message = ("out of memory: use a smaller --patch-size, --batch-size or --tile, or --device cpu; "
                       "nothing was written")
        if message is None and isinstance(err, (ValueError, TypeError, OSError, FloatingPointError)):
            message = str(err)
        if message is None:
            raise
        _quiet_after_error()
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        warnings.showwarning = show
    return 0


if __name__ == "__main__":
    sys.exit(main())
