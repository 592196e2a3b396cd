"""Kedro project settings.

kedro-mlflow registers its hooks itself (plugin entry point); its configuration is
conf/base/mlflow.yml, which uses the two resolvers below.
"""

import os
import socket
from datetime import datetime

from kedro.config import OmegaConfigLoader

from audiometric_clustering.hooks import (
    DaskScratchHook,
    InferenceModelHook,
    InterruptedRunHook,
    ParameterCheckHook,
    StageTimingHook,
)
from audiometric_clustering.run_folder_hook import RunFolderHook

_RUN_FOLDERS = RunFolderHook()
# Checked first, then the run's folder: a bad parameter leaves no folder behind (pluggy
# calls the later-registered of two `tryfirst` hooks first).
HOOKS = (
    _RUN_FOLDERS,
    ParameterCheckHook(_RUN_FOLDERS),
    StageTimingHook(),
    InferenceModelHook(_RUN_FOLDERS),
    InterruptedRunHook(),
    DaskScratchHook(),
)


def _run_name() -> str:
    """MLflow run name: a sortable timestamp and the host, as the training guide lays out."""
    return f"{datetime.now():%Y%m%d-%H%M%S}_{socket.gethostname()}"


def _environment_variable(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment (e.g. conf/seed_guide) states only the parameters it changes
    "merge_strategy": {"parameters": "soft"},
    "custom_resolvers": {"run_name": _run_name, "env": _environment_variable},
}
