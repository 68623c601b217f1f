"""The command line's options: what `napari-blindspot --help` lists, and how values are checked."""

from __future__ import annotations

import argparse
import math

from .core.config import DEVICES, METHODS, NOISE_MODELS, PRECISIONS

EXIT_USER_ERROR = 2
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, as every other refusal
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


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


def _views(text):
    value = _count(1, "a number of views from 1 to 8")(text)
    if value > 8:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of views from 1 to 8")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="napari-blindspot",
        description="Self-supervised denoising (N2V, N2V2, HQ-SSL) of one noisy image or stack.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def common(p):
        p.add_argument("--series", type=_count(0, "a series number (0, 1, ...)"),
                       help="which image series of a multi-series TIFF (OME) to read")
        p.add_argument("--overwrite", action="store_true",
                       help="replace existing outputs written earlier (a file of the same kind, or our model)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        # SUPPRESS: absent here must not overwrite `napari-blindspot --debug <command>`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def precision(p):
        p.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help="the network's number format (default auto: bfloat16 where the CPU or GPU has it)")

    def views(p):  # --tta N or --no-tta; neither: the default views, one view for a large input
        group = p.add_mutually_exclusive_group()
        group.add_argument("--tta", type=_views, metavar="N", help="average N flipped and turned views (1 to 8; "
                           "default: the method's views, one for inputs over 2 megapixels)")
        group.add_argument("--no-tta", action="store_const", const=1, dest="tta",
                           help="predict one view only (= --tta 1): faster, a little noisier")

    def training_options(p):
        p.add_argument("--method", default="n2v", choices=METHODS)
        p.add_argument("--target", metavar="SECOND", help="N2N: a second recording of the same field, "
                                                         "same shape as INPUT")
        p.add_argument("--frames-are-repeats", action="store_true",
                       help="N2N without --target: neighbouring T (or S) frames are repeated recordings")
        p.add_argument("--axes", help="axes of the input, e.g. YX, ZYX, TCYX (default: from the file's "
                                      "metadata, else guessed)")
        p.add_argument("--noise", default="auto", choices=NOISE_MODELS,
                       help="HQ-SSL noise model")
        p.add_argument("--sigma", type=_number(float, 0, "a positive noise level"),
                       help="known Gaussian noise level, in the input's units")
        length = p.add_mutually_exclusive_group()
        length.add_argument("--time-budget", type=_number(float, 1e-9, "a positive number of seconds"),
                            metavar="SECONDS", help="train for this long (default 60)")
        length.add_argument("--steps", type=_count(1, "a positive whole number of steps"), metavar="N",
                            help="train for N steps")
        p.add_argument("--seed", type=_count(0, f"a whole number from 0 to {MAX_SEED}"), default=0)
        p.add_argument("--until-converged", action="store_true",
                       help="stop when the held-out loss no longer improves (--time-budget, if given, caps it)")
        p.add_argument("--report", metavar="RUN.json", help="write the run's summary (steps, best step, "
                                                            "held-out loss, estimated PSNR gain, noise) as JSON")
        p.add_argument("--device", default="auto", choices=DEVICES)
        precision(p)
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
    views(d)
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
    views(p)
    p.add_argument("--device", default="auto", choices=DEVICES)
    precision(p)
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
