"""Line embeddings, cluster distributions and the nearest training lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    SPLIT,
    ZYGOSITY,
)
from audiometric_clustering.inference.similarity import (
    DOMINANT_CLUSTER,
    DOMINANT_LABEL,
    DOMINANT_SHARE,
    N_FITS_NO_CLUSTER,
    N_MICE,
    line_embeddings,
    nearest_lines,
    new_line_summary,
)

LABELS = {0: "normal", 1: "severe flat", 2: "mild high-frequency"}


def _mice(genes: list[str], split: str | None = None) -> pd.DataFrame:
    """One row per entry; "" is a control."""
    frame = pd.DataFrame(
        {
            LINE_ID: [f"{g}|{g}<tm1>|homozygote|X" if g else "" for g in genes],
            GENE: [g or None for g in genes],
            ALLELE: [f"{g}<tm1>" if g else None for g in genes],
            ZYGOSITY: "homozygote",
            CENTRE: "X",
            IS_CONTROL: [g == "" for g in genes],
        }
    )
    if split is not None:
        frame[SPLIT] = split
    return frame


def test_line_embeddings_average_each_lines_mice_and_count_clusters() -> None:
    mice = _mice(["B", "", "A", "B", "A", "B"], split="train")
    latent = np.array([[1.0, 0.0], [9.0, 9.0], [0.0, 2.0], [3.0, 0.0], [0.0, 4.0], [5.0, 3.0]])
    clusters = np.array([1, 0, 0, 1, 2, 0])
    lines = line_embeddings(mice, latent, clusters, n_clusters=3)
    assert lines[GENE].tolist() == ["A", "B"]  # sorted by line id; the control is left out
    assert lines[N_MICE].tolist() == [2, 3]
    assert lines[["n_cluster_0", "n_cluster_1", "n_cluster_2"]].to_numpy().tolist() == [
        [1, 0, 1],
        [1, 2, 0],
    ]
    assert lines[DOMINANT_CLUSTER].tolist() == [0, 1]
    assert lines[["latent_1", "latent_2"]].to_numpy() == pytest.approx(np.array([[0, 3], [3, 1]]))
    assert lines[SPLIT].tolist() == ["train", "train"]


def test_line_embeddings_of_controls_only_is_empty() -> None:
    lines = line_embeddings(_mice(["", ""]), np.zeros((2, 3)), np.zeros(2, int), n_clusters=2)
    assert len(lines) == 0 and "latent_3" in lines.columns


def test_nearest_lines_are_sorted_and_capped_at_the_reference_size() -> None:
    reference = np.array([[0.0, 0.0], [5.0, 0.0], [1.0, 0.0]])
    index, distance = nearest_lines(np.array([[4.0, 0.0]]), reference, k=5)
    assert index.tolist() == [[1, 2, 0]]
    assert distance.tolist() == [[1.0, 3.0, 4.0]]


def _training_lines() -> pd.DataFrame:
    mice = _mice(["Near", "Near", "Mid", "Mid", "Far"])
    latent = np.array([[0.0, 0.0], [0.0, 0.2], [2.0, 0.0], [2.0, 0.0], [9.0, 9.0]])
    return line_embeddings(mice, latent, np.array([0, 0, 1, 1, 2]), n_clusters=3)


def test_new_line_summary_lists_distribution_label_and_similar_lines() -> None:
    new = _mice(["New", "New", "New", "Tiny", ""])
    latent = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.0], [9.0, 9.0], [1.0, 1.0]])
    lines = line_embeddings(new, latent, np.array([1, 1, 0, 2, 0]), n_clusters=3)
    misfits = pd.Series({new[LINE_ID][0]: 1})
    summary = new_line_summary(
        lines, _training_lines(), LABELS, misfits, min_line_size=3, n_similar=2
    )
    assert summary[GENE].tolist() == ["New"]  # "Tiny" has one mouse
    row = summary.iloc[0]
    assert row[N_MICE] == 3 and row[N_FITS_NO_CLUSTER] == 1
    assert (row["n_cluster_0"], row["n_cluster_1"], row["n_cluster_2"]) == (1, 2, 0)
    assert row[DOMINANT_CLUSTER] == 1 and row[DOMINANT_LABEL] == "severe flat"
    assert row[DOMINANT_SHARE] == pytest.approx(2 / 3)
    assert (row["similar_1_gene_symbol"], row["similar_2_gene_symbol"]) == ("Near", "Mid")
    assert row["similar_1_distance"] == pytest.approx(np.hypot(0.1, 0.1))
    assert row["similar_2_cluster"] == 1
    assert not any(c.startswith("latent_") for c in summary.columns)


def test_fewer_training_lines_than_requested_leaves_the_rest_empty() -> None:
    new = _mice(["New"] * 3)
    lines = line_embeddings(new, np.zeros((3, 2)), np.zeros(3, int), n_clusters=3)
    summary = new_line_summary(
        lines, _training_lines(), LABELS, pd.Series(dtype=int), min_line_size=3, n_similar=4
    )
    assert summary["similar_3_gene_symbol"].tolist() == ["Far"]
    assert summary["similar_4_gene_symbol"].isna().all()
    assert summary["similar_4_distance"].isna().all()
    assert summary[N_FITS_NO_CLUSTER].tolist() == [0]
