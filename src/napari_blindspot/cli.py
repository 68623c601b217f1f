"""Command line: ``napari-blindspot denoise|train|predict|export``. Parses, reports, and nothing else."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-blindspot",
        description="Self-supervised denoising (N2V, N2V2, HQ-SSL) of one noisy image or stack.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def training_options(p):
        p.add_argument("--method", default="n2v", choices=["n2v", "n2v2", "hqssl"])
        p.add_argument("--axes", help="axes of the input, e.g. YX, ZYX, TCYX (default: guessed)")
        p.add_argument("--noise", default="auto", choices=["auto", "gaussian", "poisson", "poisson-gaussian"],
                       help="HQ-SSL noise model")
        p.add_argument("--sigma", type=float, help="known Gaussian noise level, in the input's units")
        length = p.add_mutually_exclusive_group()
        length.add_argument("--time-budget", type=float, metavar="SECONDS", help="train for this long (default 60)")
        length.add_argument("--steps", type=int, metavar="N", help="train for N steps")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
        p.add_argument("--patch-size", type=int, help="training patch side in pixels")
        p.add_argument("--batch-size", type=int)
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
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    d = sub.add_parser("denoise", help="train on INPUT and write the denoised OUTPUT")
    d.add_argument("input")
    d.add_argument("output")
    training_options(d)
    d.add_argument("--save-model", metavar="DIR", help="also save the trained model here")
    d.add_argument("--tile", type=int, help="prediction tile side in pixels")
    d.add_argument("--uncertainty", metavar="PATH", help="HQ-SSL: write the posterior std here")

    t = sub.add_parser("train", help="train on INPUT and save the model to MODEL_DIR")
    t.add_argument("input")
    t.add_argument("model_dir")
    training_options(t)

    p = sub.add_parser("predict", help="denoise INPUT with a saved model")
    p.add_argument("model_dir")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--axes", help="axes of the input (default: the model's)")
    p.add_argument("--tile", type=int, help="prediction tile side in pixels")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--uncertainty", metavar="PATH", help="HQ-SSL: write the posterior std here")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask.distributed cluster, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

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
    e.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _train(args, image):
    from tqdm import tqdm

    from .core.config import TrainConfig
    from .core.training import train
    from .io import read_scale

    scale = _parse_scale(args.scale) if args.scale else read_scale(args.input)
    if scale is not None and not args.scale and len(scale) != len(image.shape):
        scale = None  # metadata for another layout: ignore it rather than fail
    budget = args.time_budget if args.time_budget is not None else (None if args.steps else 60.0)
    config = TrainConfig(method=args.method, axes=args.axes, time_budget_s=budget, steps=args.steps,
                         seed=args.seed, device=args.device, noise=args.noise, sigma=args.sigma,
                         patch_size=args.patch_size, batch_size=args.batch_size, three_d=args.three_d,
                         scale=scale, channels=args.channels, preview_every_s=None)
    run = train(image, config)
    if "Z" in run.config.axes and not args.quiet:
        print(f"Z: {run.three_d_reason}", file=sys.stderr)
    with tqdm(total=run.config.steps or None, desc=f"training {args.method}", unit="step",
              disable=args.quiet, file=sys.stderr, leave=True) as bar:
        for p in run:
            bar.total = p.total
            bar.n = p.step
            bar.set_postfix(loss=f"{p.loss:.4g}", refresh=False)
            bar.refresh()
    if p.noise_params and not args.quiet:
        print(f"learned noise: {_format_noise(p.noise_params)}", file=sys.stderr)
    return run


def _parse_scale(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--scale {text!r} is not a list of numbers: give one spacing per axis, "
                         "e.g. --scale 2,0.5,0.5 for ZYX") from None


def _format_noise(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _predict(model, image, axes, output, tile, uncertainty, quiet, run_on=None):
    """Predict into `output` (and `uncertainty`), atomically. `run_on(outputs, progress)`
    replaces the local prediction (the cluster path)."""
    from tqdm import tqdm

    from .io import atomic_output, check_writable

    if uncertainty:
        if model.spec.method != "hqssl":
            raise ValueError(f"--uncertainty needs an hqssl model, this one is {model.spec.method}")
        check_writable(uncertainty)
    with tqdm(desc="predicting", unit="tile", disable=quiet, file=sys.stderr) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        def run(outputs):
            if run_on is not None:
                run_on(outputs, progress)
            else:
                model.predict(image, axes, tile=tile, out=tuple(outputs), return_uncertainty=len(outputs) == 2,
                              progress=progress)

        with atomic_output(output, image.shape) as out:
            if uncertainty:
                with atomic_output(uncertainty, image.shape) as std:
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


def _run(args) -> None:
    from .io import check_writable, read_image

    if args.command == "export":
        _export(args)
        return
    if args.command == "predict":
        from .core.model import load_model

        model = load_model(args.model_dir, device=args.device)
        check_writable(args.output)
        image = read_image(args.input)
        run_on = None
        if args.scheduler:
            from .distributed import predict_on_cluster

            def run_on(outputs, progress):
                predict_on_cluster(args.model_dir, args.input, outputs, args.axes, args.tile, args.scheduler,
                                   progress=progress)
        _predict(model, image, args.axes, args.output, args.tile, args.uncertainty, args.quiet, run_on)
        return
    output = args.output if args.command == "denoise" else None
    if output:
        check_writable(output)
    if args.command == "denoise" and args.uncertainty and args.method != "hqssl":
        raise ValueError("--uncertainty needs --method hqssl")
    model_dir = args.model_dir if args.command == "train" else args.save_model
    if model_dir and Path(model_dir).is_file():
        raise ValueError(f"{model_dir} is a file: give a folder to save the model in")
    image = read_image(args.input)
    run = _train(args, image)
    if model_dir:
        run.model.save(model_dir)
    if output:
        _predict(run.model, image, run.config.axes, output, args.tile, args.uncertainty, args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, FloatingPointError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RuntimeError as err:
        if args.debug or "out of memory" not in str(err).lower():
            raise
        print("error: out of memory: use a smaller --patch-size, --batch-size or --tile, "
              "or --device cpu", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
