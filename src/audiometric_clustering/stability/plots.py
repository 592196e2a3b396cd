"""Stability figures as bare ``Figure`` objects (Agg canvas, no pyplot state)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: File name of each figure under the plots folder; the report links to these names.
PLOT_FILES: dict[str, str] = {
    "ari_matrix": "member_ari.png",
    "stability_by_k": "stability_by_k.png",
}
#: ARI columns of the pair table, with their panel titles.
ARI_PANELS = {"ari_all_mice": "all mice", "ari_affected_mice": "affected mice"}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def ari_matrix(pairs: pd.DataFrame) -> Figure:
    """Pairwise ARI between members as heatmaps (all mice; affected mice with a truth), each
    cell written out: a biologist reads which seeds agree and by how much."""
    panels = {column: title for column, title in ARI_PANELS.items() if column in pairs}
    members = list(dict.fromkeys(pairs["member_a"]))
    size = max(3.5, 0.55 * len(members) + 2.0)
    figure = _figure(size * len(panels), size)
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, (column, title) in zip(axes, panels.items(), strict=True):
        matrix = pairs.pivot(index="member_a", columns="member_b", values=column)
        matrix = matrix.loc[members, members].to_numpy(dtype=float)
        image = axis.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
        axis.set_xticks(range(len(members)), members, rotation=90, fontsize=8)
        axis.set_yticks(range(len(members)), members, fontsize=8)
        if len(members) <= 16:
            for (row, col), value in np.ndenumerate(matrix):
                colour = "black" if value > 0.6 else "white"
                axis.text(
                    col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour
                )
        axis.set_title(f"pairwise ARI, {title}")
        figure.colorbar(image, ax=axis, shrink=0.8)
    return figure


def stability_by_k(table: pd.DataFrame, chosen: int) -> Figure:
    """Median pairwise ARI (and mean best-match Jaccard) of the members at each k, the
    chosen k marked."""
    figure = _figure(5.0, 3.6)
    axis = figure.subplots()
    series = {
        "median_pairwise_ari": "median pairwise ARI, all mice",
        "median_pairwise_ari_affected": "median pairwise ARI, affected mice",
        "mean_cluster_jaccard": "mean best-match Jaccard",
    }
    for column, label in series.items():
        if column in table:
            axis.plot(table["n_clusters"], table[column], marker="o", label=label)
    axis.axvline(chosen, color="grey", linestyle="--", label=f"chosen k = {chosen}")
    axis.set_xlabel("clusters (k)")
    axis.set_ylabel("agreement between seeds")
    axis.set_xticks(table["n_clusters"].tolist())
    axis.set_ylim(0.0, 1.05)
    axis.legend(fontsize=8)
    return figure
