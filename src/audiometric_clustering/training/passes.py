"""Forward passes over whole sets of mice, in large batches and without autograd: the
embedding of every mouse, the soft assignment behind the DEC target, the validation loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.objective import Batch, Objective
from audiometric_clustering.training.batching import EpochBatches

#: Keys of an embeddings file (``latent_embeddings``, ``inference_embeddings``: npz).
SPECIMENS = "specimen_id"
LATENT = "latent_mean"
SOFT_ASSIGNMENT = "soft_assignment"
RECONSTRUCTION = "abr_reconstruction"
ABR_SCALE = "abr_scale"  # the scale of the reconstruction (model.abr_scale)


@dataclass(frozen=True)
class Embedding:
    """Per mouse: latent mean (N, latent), soft assignment (N, K; rows sum to 1), ABR
    reconstruction from the latent mean (N, 6; dB)."""

    latent_mean: np.ndarray
    soft_assignment: np.ndarray
    abr_reconstruction: np.ndarray


def _device_of(model: ContrastiveVAEDEC) -> torch.device:
    return next(model.parameters()).device


def embed(model: ContrastiveVAEDEC, tensors: MouseTensors, batch_size: int = 8192) -> Embedding:
    """Latent means, cluster probabilities and reconstructed audiograms of every mouse.

    Deterministic (no sampling): the mean is the mouse's position in latent space.
    """
    model.check_categorical_codes(tensors.categorical)
    device, was_training = _device_of(model), model.training
    parts: list[tuple[Tensor, Tensor, Tensor]] = []
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(tensors), batch_size):
                batch = tensors.slice(start, start + batch_size).to(device)
                mean, _ = model.encode(batch)
                assignment = model.log_assignment(batch, mean).exp()
                abr = model.decode(mean, batch.categorical)[0]
                parts.append((mean.float(), assignment.float(), abr.float()))
    finally:
        model.train(was_training)
    if not parts:
        config = model.config
        empty = np.zeros
        return Embedding(
            empty((0, config.latent_dim), np.float32),
            empty((0, config.n_clusters), np.float32),
            empty((0, config.n_frequencies), np.float32),
        )
    latent, assignment, abr = (
        torch.cat(column).cpu().numpy() for column in zip(*parts, strict=True)
    )
    return Embedding(latent, assignment, abr)


def assignment_latents(
    model: ContrastiveVAEDEC, tensors: MouseTensors, batch_size: int = 8192
) -> np.ndarray:
    """Where the clusters read each mouse (``model.assignment_latent``), (N, latent), float64."""
    device, was_training = _device_of(model), model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [
                model.assignment_latent(batch, model.encode(batch)[0]).double().cpu()
                for batch in (
                    tensors.slice(start, start + batch_size).to(device)
                    for start in range(0, len(tensors), batch_size)
                )
            ]
    finally:
        model.train(was_training)
    if not parts:
        return np.zeros((0, model.config.latent_dim))
    return torch.cat(parts).numpy()


def soft_assignment(model: ContrastiveVAEDEC, tensors: MouseTensors, batch_size: int) -> Tensor:
    """q for every mouse (N, K) on the model's device: the full-data pass behind DEC's target.

    ``tensors`` must already be on the model's device. Encoder and clustering layer only.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [
                model.log_assignment(batch, model.encode(batch)[0]).float()
                for batch in (
                    tensors.slice(start, start + batch_size)
                    for start in range(0, len(tensors), batch_size)
                )
            ]
    finally:
        model.train(was_training)
    return torch.cat(parts).exp() if parts else torch.zeros(0, model.config.n_clusters)


def mean_loss_terms(
    model: ContrastiveVAEDEC, objective: Objective, batches: EpochBatches, target: Tensor | None
) -> Tensor:
    """The objective's terms averaged over these mice, with the latent mean instead of a
    sample (deterministic, so epochs compare without sampling noise); ``target`` is the DEC
    target of ``batches.data`` in its order."""
    sums = torch.zeros(len(objective.terms), device=batches.order.device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start, stop in batches.plan.batches():
                inputs = batches.data.slice(start, stop)
                output = model(inputs, sample=False, assign=objective.uses_clusters)
                batch = Batch(
                    model,
                    inputs,
                    output,
                    batches.group[start:stop],
                    batches.n_positives[start:stop],
                    None if target is None else target[start:stop],
                )
                sums += objective(batch) * (stop - start)
    finally:
        model.train(was_training)
    return sums / max(len(batches.data), 1)
