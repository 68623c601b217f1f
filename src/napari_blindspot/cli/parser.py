"""The command line's options: what `napari-blindspot --help` lists, and how values are checked."""

from __future__ import annotations

import argparse
import math
from ..core.config import DEVICES, OPTIONS, Option, TrainConfig, field_type

EXIT_USER_ERROR = 2


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as every other refusal
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def _number(kind, low=None, high=None, what="a number"):
    """An argparse type: `kind` in [low, high] (and finite); its message names the option."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if (value is None or (kind is float and not math.isfinite(value)) or (low is not None and value < low)
                or (high is not None and value > high)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return parse


def _what(kind, option: Option) -> str:
    whole = "whole number" if kind is int else "number"
    if option.low is None:
        return f"a {whole}"
    if option.high is not None:
        return f"a {whole} from {option.low:g} to {option.high:g}"
    return f"a positive {whole}" if option.low is not None and option.low <= 1 else f"a {whole} of at least {option.low:g}"


def _add(p, name: str, option: Option) -> None:
    """One TrainConfig field as an option; absent means TrainConfig's default (dest None)."""
    kind, help_ = field_type(name), option.help
    if kind is bool:
        p.add_argument(option.cli, dest=name, action="store_true", default=None, help=help_)
    elif option.choices or kind is str:
        p.add_argument(option.cli, dest=name, choices=option.choices, default=None, help=help_)
    else:
        p.add_argument(option.cli, dest=name, type=_number(kind, option.low, option.high, _what(kind, option)),
                       metavar="N" if kind is int else "X", default=None, help=help_)


_BY_HAND = {"time_budget_s", "steps", "three_d", "scale"}  # laid out below: one group, two flags, a list


def training_options(p) -> None:
    """Every TrainConfig field the table offers on the command line (core/config.py, OPTIONS)."""
    for name, option in OPTIONS.items():
        if option.cli and name not in _BY_HAND:
            _add(p, name, option)
    length = p.add_mutually_exclusive_group()
    for name, metavar in (("time_budget_s", "SECONDS"), ("steps", "N")):
        option = OPTIONS[name]
        length.add_argument(option.cli, dest=name, metavar=metavar, help=option.help, default=None,
                            type=_number(field_type(name), option.low, None, _what(field_type(name), option)))
    z_mode = p.add_mutually_exclusive_group()
    z_mode.add_argument("--2d", dest="three_d", action="store_false", default=None,
                        help="train a Z stack slice by slice in 2D")
    z_mode.add_argument("--3d", dest="three_d", action="store_true", default=None,
                        help="train a Z stack in 3D (default: 3D when the Z spacing is at most 3x the "
                             "pixel size and there are at least 16 planes)")
    p.add_argument("--scale", metavar="Z,Y,X", help=OPTIONS["scale"].help + ", e.g. 2,0.5,0.5 for ZYX")
    p.add_argument("--target", metavar="SECOND", type=_path, help="N2N: a second recording of the same field, "
                                                     "same shape as INPUT")
    p.add_argument("--report", metavar="RUN.json", type=_path, help="write the run's summary (steps, best step, "
                                                        "held-out loss, estimated PSNR gain, noise) as JSON")


def config_from_args(args, axes: str | None, scale) -> TrainConfig:
    """The TrainConfig the options ask for; what is not given keeps TrainConfig's default."""
    given = {name: getattr(args, name) for name, option in OPTIONS.items()
             if option.cli and getattr(args, name, None) is not None}
    if args.time_budget_s is None and (args.steps or args.until_converged):
        given["time_budget_s"] = None  # steps alone, or until it stops improving, uncapped
    return TrainConfig(**{**given, "axes": axes, "scale": scale, "preview_every_s": None})


def _path(text: str) -> str:
    """An argparse type for paths: an empty one (`--report ""`) is a mistake, not "none"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give a file or folder name")
    return text


def _views(text):
    """--tta N: a number of views from 1 to 8."""
    return _number(int, 1, 8, "a number of views from 1 to 8")(text)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="napari-blindspot",
        description="Self-supervised denoising (N2V, N2V2, HQ-SSL) of one noisy image or stack.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def common(p):
        p.add_argument("--series", type=_number(int, 0, what="a series number (0, 1, ...)"),
                       help="which image series of a multi-series TIFF (OME) to read")
        p.add_argument("--overwrite", action="store_true",
                       help="replace existing outputs written earlier (a file of the same kind, or our model)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        # SUPPRESS: absent here must not overwrite `napari-blindspot --debug <command>`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def views(p):  # --tta N or --no-tta; neither: the default views, one view for a large input
        group = p.add_mutually_exclusive_group()
        group.add_argument("--tta", type=_views, metavar="N", help="average N flipped and turned views (1 to 8; "
                           "default: the method's views, one for inputs over 2 megapixels)")
        group.add_argument("--no-tta", action="store_const", const=1, dest="tta",
                           help="predict one view only (= --tta 1): faster, a little noisier")

    tile = dict(type=_number(int, 8, what="a tile side of at least 8 pixels (256 is typical)"),
                help="prediction tile side in pixels")
    d = sub.add_parser("denoise", help="train on INPUT and write the denoised OUTPUT")
    d.add_argument("input", type=_path)
    d.add_argument("output", type=_path)
    training_options(d)
    common(d)
    d.add_argument("--save-model", metavar="DIR", type=_path, help="also save the trained model here")
    d.add_argument("--tile", **tile)
    views(d)
    d.add_argument("--uncertainty", metavar="PATH", type=_path, help="HQ-SSL: write the uncertainty here (each pixel's typical error)")

    t = sub.add_parser("train", help="train on INPUT and save the model to MODEL_DIR")
    t.add_argument("input", type=_path)
    t.add_argument("model_dir", type=_path)
    training_options(t)
    common(t)

    p = sub.add_parser("predict", help="denoise INPUT with a saved model")
    p.add_argument("model_dir", type=_path)
    p.add_argument("input", type=_path)
    p.add_argument("output", type=_path)
    p.add_argument("--axes", help="axes of the input (default: from the file's metadata, else the model's)")
    p.add_argument("--tile", **tile)
    views(p)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default="auto", choices=OPTIONS["precision"].choices,
                   help=OPTIONS["precision"].help)
    p.add_argument("--uncertainty", metavar="PATH", type=_path, help="HQ-SSL: write the uncertainty here (each pixel's typical error)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask.distributed cluster, e.g. tcp://host:8786")
    common(p)

    e = sub.add_parser("export", help="write a saved model as a bioimage.io model package (needs the bmz extra)")
    e.add_argument("model_dir", type=_path)
    e.add_argument("output", metavar="OUT.zip", type=_path)
    e.add_argument("--name", help="model name (default: 'napari-blindspot <METHOD> denoiser')")
    e.add_argument("--author", action="append", help="an author's name; repeat for several "
                   "(default: 'napari-blindspot user')")
    e.add_argument("--license", default="CC-BY-4.0", help="SPDX license identifier (default: CC-BY-4.0)")
    e.add_argument("--sample", metavar="IMAGE", type=_path, help="an image in the model's axes whose centre becomes the "
                   "package's test input and cover (default: a synthetic image)")
    e.add_argument("--overwrite", action="store_true", help="replace OUT.zip if it exists")
    e.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser
