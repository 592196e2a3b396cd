"""The model's inputs for a set of mice: the model-input table as tensors."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    CATEGORICAL_FEATURES,
    CONTINUOUS_FEATURES,
    IS_CONTROL,
    LINE_ID,
    PCA_FEATURES,
)


@dataclass(frozen=True)
class MouseTensors:
    """The model's inputs for a set of mice, one row per mouse.

    ``line`` holds a code per knockout line (equal codes = same line) and -1 for controls,
    which never count as anyone's line-mate.
    """

    abr: Tensor  # (N, 6) float32, dB
    observed: Tensor  # (N, 6) float32, 1 measured / 0 imputed
    continuous: Tensor  # (N, 2) float32, standardised
    categorical: Tensor  # (N, 7) int64 codes, 0 = unknown
    pca: Tensor  # (N, 2) float32
    line: Tensor  # (N,) int64

    @classmethod
    def from_frame(cls, model_input: pd.DataFrame) -> MouseTensors:
        controls = model_input[IS_CONTROL].to_numpy(dtype=bool)
        line_codes, _ = pd.factorize(model_input[LINE_ID].astype("str"))
        line = np.where(controls | (model_input[LINE_ID].astype("str") == ""), -1, line_codes)

        def columns(names: tuple[str, ...], dtype: type) -> Tensor:
            # a row-major copy: pandas may hand out read-only or column-major arrays
            return torch.from_numpy(np.array(model_input[list(names)].to_numpy(dtype), order="C"))

        return cls(
            abr=columns(ABR_FEATURES, np.float32),
            observed=columns(ABR_OBSERVED, np.float32),
            continuous=columns(CONTINUOUS_FEATURES, np.float32),
            categorical=columns(CATEGORICAL_FEATURES, np.int64),
            pca=columns(PCA_FEATURES, np.float32),
            line=torch.from_numpy(line.astype(np.int64)),
        )

    def __len__(self) -> int:
        return len(self.abr)

    def subset(self, index: np.ndarray | Tensor) -> MouseTensors:
        """Rows ``index`` (positions or a boolean mask) of every tensor."""
        index = torch.as_tensor(index, device=self.abr.device)
        if index.dtype == torch.bool:
            index = index.nonzero().squeeze(1)
        # index_select: a third of the time of advanced indexing for the per-epoch reorder
        return MouseTensors(
            **{f.name: getattr(self, f.name).index_select(0, index) for f in fields(self)}
        )

    def to(self, device: torch.device | str) -> MouseTensors:
        return MouseTensors(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def slice(self, start: int, stop: int) -> MouseTensors:
        """Rows start:stop as views (no copy): the per-step batch of a reordered epoch."""
        return MouseTensors(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})
