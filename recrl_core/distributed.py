"""Data parallelism through Hugging Face ``accelerate``: which process am I, my shard, gather, average.

The same code runs in one process (``python``, a notebook) and in many
(``accelerate launch --num_processes N``; ``--cpu`` for gloo on a CPU, NCCL on GPUs; several nodes
from an ``accelerate config`` file). Under one process every function here is the identity and
``accelerate`` is never imported. What the book splits:

- **LLM passes over states** (LEA's environment pass): contiguous blocks of fixed batches per
  process (:func:`shard`), each batch with its own random stream, gathered in order
  (:func:`gather`): the merged arrays, and so the cache file, equal a single process's bit for bit.
- **Training** (the SQN family): every process draws the same global batch with the same seed,
  keeps its block of rows (:func:`shard_rows`), and averages gradients before the step
  (:func:`average_gradients`) — the gradient of the global batch's mean loss, as DDP computes it.
- **LLM fine-tuning** (our PPO): every process samples replies for its block of the round's
  prompts; advantages are whitened with statistics summed over processes (:func:`all_sum`), and
  each minibatch's token-mean loss is split so that the averaged gradient is the gradient of the
  global minibatch's token mean.
- **trl's trainers** split themselves through their own ``Accelerator``; ``llm.trl_route`` divides
  trl's per-process sizes by :func:`launch_size` so a round keeps its size.
- **Grids** of seeds × configs: each process runs its block of jobs :func:`alone` and writes one
  result file per job (``train.grids.run_grid``); any process count gives the same table.

Spec: spec-scaling-out.
Taught in: sec-scaling-out
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class World:
    """This process's index among ``size`` cooperating processes."""
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The launch this process belongs to: ``accelerate launch`` / ``torchrun`` set ``WORLD_SIZE``.

    Joins the process group once: NCCL on GPUs, gloo where there is no GPU (or ``--cpu``). On a CPU,
    launch with ``accelerate launch --multi_gpu --num_processes N`` (torchrun underneath):
    accelerate's ``--cpu`` alone starts a single process unless MPI is installed.
    """
    size = launch_size()
    if size <= 1 or _ALONE:
        return World()
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    cpu = parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    if state.num_processes != size:
        raise RuntimeError(f"WORLD_SIZE is {size} but accelerate joined {state.num_processes} process(es) "
                           f"({state.distributed_type}); launch with `accelerate launch --multi_gpu "
                           f"--num_processes {size} ...` (on a CPU too) or `torchrun --nproc_per_node {size} ...`")
    return World(state.process_index, state.num_processes)


def launch_size() -> int:
    """How many processes this launch has, without joining them (``WORLD_SIZE``; 1 when launched alone)."""
    return 1 if _ALONE else int(os.environ.get("WORLD_SIZE", "1"))


_ALONE: list[bool] = []          # non-empty inside alone(): world() is a single process


@contextmanager
def alone() -> Iterator[None]:
    """Inside the block this process works as if launched alone (a grid's job is one whole run)."""
    _ALONE.append(True)
    try:
        yield
    finally:
        _ALONE.pop()


def shard(n: int, w: World) -> range:
    """The contiguous block of ``range(n)`` of process ``w.rank``; block sizes differ by at most one."""
    q, r = divmod(n, w.size)
    start = w.rank * q + min(w.rank, r)
    return range(start, start + q + (w.rank < r))


def shard_rows(batch: dict, w: World) -> dict:
    """Process ``w.rank``'s rows of a global batch of tensors (B must divide by the process count)."""
    if w.size == 1:
        return batch
    n = len(next(iter(batch.values())))
    if n % w.size:
        raise ValueError(f"a global batch of {n} rows cannot be split evenly over {w.size} processes: "
                         "choose a batch size that is a multiple of the process count")
    rows = shard(n, w)
    return {k: v[rows.start:rows.stop] for k, v in batch.items()}


def gather(obj: Any, w: World) -> list:
    """``[obj of process 0, obj of process 1, ...]`` on every process (picklable objects)."""
    if w.size == 1:
        return [obj]
    from accelerate.utils import gather_object

    return gather_object([obj])


def barrier(w: World) -> None:
    """Wait until every process reaches this line (e.g. until the main process wrote a cache file)."""
    if w.size > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def average_gradients(parameters, w: World) -> None:
    """Replace each ``.grad`` by its mean over processes (all-reduce), as DDP does after ``backward``.

    A trainable parameter without a gradient here counts as a zero gradient (a process that
    held no rows of a minibatch), so every process joins every all-reduce.
    """
    if w.size == 1:
        return
    import torch
    from accelerate.utils import reduce

    for p in parameters:
        if p.requires_grad:
            p.grad = reduce(p.grad if p.grad is not None else torch.zeros_like(p), reduction="mean")


def all_sum(t, w: World):
    """The sum of tensor ``t`` over processes (``t`` itself under one process)."""
    if w.size == 1:
        return t
    from accelerate.utils import reduce

    return reduce(t, reduction="sum")


def mean_scalars(values: dict[str, float], w: World) -> dict[str, float]:
    """Logged numbers averaged over processes (each process logs the mean over its rows)."""
    if w.size == 1:
        return values
    import torch
    from accelerate.utils import reduce

    keys = sorted(values)
    means = reduce(torch.tensor([values[k] for k in keys], dtype=torch.float64), reduction="mean")
    return dict(zip(keys, means.tolist()))
