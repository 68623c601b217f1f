"""Tiled prediction on a dask.distributed cluster.

The client plans the same tile batches as a local run (`core.predict.plan_tiles`); each task
reads its tiles from the input file itself (the cluster shares a filesystem with the client),
predicts them with a model that every worker process loads once, and returns only the inner
parts. The client writes them into the output, so no two writers touch the same chunk and the
result is identical to the single-process path. At most `in_flight` batches are pending at
once: memory stays bounded on the client and the workers whatever the input size.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from itertools import islice

from .core.model import CanonicalWriter
from .core.predict import TileGroup, predict_group, plan_tiles, write_group


@lru_cache(maxsize=4)
def _worker_model(model_dir: str, precision: str = "auto"):
    from .core.model import load_model

    return load_model(model_dir, device="auto", precision=precision)


def _worker_predict(model_dir: str, input_path: str, series, axes: str, tile, group: TileGroup,
                    with_variance: bool, views: int = 1, precision: str = "auto"):
    from .io import read_image

    model = _worker_model(model_dir, precision)
    view, _, _ = model.tiling(read_image(input_path, series), axes, tile)
    return predict_group(view, group, model.batch_predictor(with_variance, views))


HANDSHAKE_TIMEOUT_S = 10.0  # a scheduler answers its identity at once; silence is a wrong address


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Ask `address` who it is, bounded in time: a server that never answers, or answers in another
    protocol (HTTP), is refused instead of hanging or being read as a giant message."""
    import asyncio

    timeout = timeout or HANDSHAKE_TIMEOUT_S
    try:
        from distributed.comm import connect
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'napari-blindspot[distributed]'") from None

    async def identity():
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    hint = "check the address, or leave out --scheduler to run locally"
    try:
        reply = asyncio.run(identity())
    except (OSError, TimeoutError, asyncio.TimeoutError) as err:
        reason = str(err) or f"no answer within {timeout:g} s"
        raise ValueError(f"cannot reach the dask scheduler at {address} ({reason}): {hint}") from None
    except Exception:  # noqa: BLE001 - MemoryError, decoding errors: whatever it is, not a scheduler
        reply = None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ValueError(f"{address} does not answer as a dask scheduler: {hint}")


def predict_on_cluster(model_dir, input_path, outputs: list, axes: str | None, tile, scheduler: str,
                       batch_size: int = 4, in_flight: int | None = None, progress=None,
                       series: int | None = None, tta=None, precision: str = "auto") -> None:
    """Predict `input_path` with the model in `model_dir` on the cluster at `scheduler`.

    `tta` as in `Model.predict`, decided here for the whole input (a large one: one view);
    `precision` as in `load_model`, resolved by each worker for its own device.
    `outputs`: one array-like in the input's layout (two with the uncertainty), e.g. zarr.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'napari-blindspot[distributed]'") from None
    from .core.model import load_model
    from .io import read_image

    model_dir, input_path = os.path.abspath(model_dir), os.path.abspath(input_path)
    model = load_model(model_dir, device="cpu")  # for the plan only
    image = read_image(input_path, series)
    axes = axes or model.spec.axes
    view, size, margin = model.tiling(image, axes, tile)
    groups = plan_tiles(view, size, margin, batch_size)
    views = model.views(tta, view.n_samples * math.prod(view.spatial_shape))
    targets = [CanonicalWriter(o, view) for o in outputs]
    with_variance = len(outputs) == 2
    check_scheduler(scheduler)
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as err:
        raise ValueError(f"cannot reach the dask scheduler at {scheduler} ({err}): "
                         "check the address, or leave out --scheduler to run locally") from None
    with client:
        limit = in_flight or max(2, 2 * sum(client.nthreads().values()))
        queue = iter(groups)
        group_of = {}

        def submit(group: TileGroup):
            future = client.submit(_worker_predict, model_dir, input_path, series, axes, tile, group, with_variance,
                                   views, precision, pure=False)
            group_of[future.key] = group
            return future

        running = as_completed([submit(g) for g in islice(queue, limit)], with_results=True)
        total, done = sum(len(g.tiles) for g in groups), 0
        for future, parts in running:
            group = group_of.pop(future.key)
            write_group(view, group, parts, targets)
            done += len(group.tiles)
            if progress is not None:
                progress(done, total)
            following = next(queue, None)
            if following is not None:
                running.add(submit(following))
