"""ContrastiveVAE-DEC: torch modules, configuration and losses."""

from audiometric_clustering.model.config import ModelConfig, model_config_from
from audiometric_clustering.model.network import ContrastiveVAEDEC, ModelOutput

__all__ = ["ContrastiveVAEDEC", "ModelConfig", "ModelOutput", "model_config_from"]
