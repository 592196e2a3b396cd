"""Where and how a stage runs: device, seeds, thread count, mixed precision."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device = {name!r}: expected auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device = {name!r}, but this machine has no CUDA GPU (use auto or cpu)")
    return device


def seed_everything(seed: int) -> None:
    """Seed python, numpy's global state and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def thread_count(n_threads: int) -> Iterator[None]:
    """Run with ``n_threads`` intra-op and BLAS threads (0 keeps the libraries' choice).

    Small matrices gain little from threads, and a busy second core makes two threads
    several times slower than one, so the count is a deliberate parameter.
    """
    if n_threads <= 0:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(n_threads):  # numpy's BLAS as well (k-means, passes)
            yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN autotuning on CUDA only (shapes repeat every epoch, so tuning pays off)."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda" or previous
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def autocast(device: torch.device, mixed_precision: bool) -> contextlib.AbstractContextManager:
    """fp16 autocast on CUDA when asked for; a no-op on the CPU."""
    if mixed_precision and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()
