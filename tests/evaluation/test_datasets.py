from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.io.embeddings import LatentEmbeddingsDataset
from audiometric_clustering.io.optional_csv import OptionalCSVDataset


def test_latent_embeddings_round_trip_without_pickle(tmp_path):
    dataset = LatentEmbeddingsDataset(filepath=str(tmp_path / "sub" / "latent.npz"))
    ids = pd.Series(["M1", "M2"], dtype="str").to_numpy(dtype=object)
    dataset.save({"specimen_id": ids, "latent_mean": np.eye(2, 3)})
    assert dataset.exists()
    loaded = dataset.load()
    assert loaded["specimen_id"].tolist() == ["M1", "M2"]
    np.testing.assert_array_equal(loaded["latent_mean"], np.eye(2, 3))
    with np.load(tmp_path / "sub" / "latent.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["latent_mean", "specimen_id"]


def test_optional_csv_loads_empty_frame_when_absent(tmp_path):
    dataset = OptionalCSVDataset(filepath=str(tmp_path / "truth.csv"))
    assert not dataset.exists()
    assert dataset.load().empty
    dataset.save(pd.DataFrame({"a": [1, 2]}))
    assert dataset.load()["a"].tolist() == [1, 2]
