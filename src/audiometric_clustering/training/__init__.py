"""Training ContrastiveVAE-DEC: tensors and batching, the stage loop, checkpoints, embedding."""

from audiometric_clustering.training.checkpoints import (
    checkpoint_from_model,
    load_checkpoint,
    model_from_checkpoint,
)
from audiometric_clustering.training.data import MouseTensors, split_tensors
from audiometric_clustering.training.engine import (
    LossWeights,
    Objective,
    StageResult,
    TrainingSettings,
    stage_configuration,
    train_stage,
)
from audiometric_clustering.training.inference import Embedding, embed

__all__ = [
    "Embedding",
    "LossWeights",
    "MouseTensors",
    "Objective",
    "StageResult",
    "TrainingSettings",
    "checkpoint_from_model",
    "embed",
    "load_checkpoint",
    "model_from_checkpoint",
    "split_tensors",
    "stage_configuration",
    "train_stage",
]
