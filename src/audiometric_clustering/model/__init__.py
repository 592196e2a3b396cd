"""ContrastiveVAE-DEC: its inputs, torch modules, configuration and training objective."""

from audiometric_clustering.model.config import ModelConfig, model_config_from
from audiometric_clustering.model.inputs import MouseTensors
from audiometric_clustering.model.network import ContrastiveVAEDEC, ModelOutput

__all__ = ["ContrastiveVAEDEC", "ModelConfig", "ModelOutput", "MouseTensors", "model_config_from"]
