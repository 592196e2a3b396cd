"""Evaluation figures, built as bare ``Figure`` objects (Agg canvas, no pyplot state).

Figures are sized modestly and scatter plots subsample, so 60,000 mice plot in a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from audiometric_clustering.evaluation.characterisation import ABOVE_CONTROLS, RAW
from audiometric_clustering.evaluation.enrichment import CLUSTER, Q_VALUE
from audiometric_clustering.impc.schema import CENTRE, FREQUENCIES, GENE, LINE_ID, ZYGOSITY

#: File name of each figure under the plots folder; the report links to these names.
PLOT_FILES: dict[str, str] = {
    "training_curves": "training_curves.png",
    "latent_projection": "latent_projection.png",
    "cluster_audiograms": "cluster_audiograms.png",
    "enrichment_heatmap": "enrichment_heatmap.png",
    "centre_composition": "centre_composition.png",
}

_MAX_SCATTER_POINTS = 10_000
#: 20 distinct colours: 12 clusters and 11 IMPC centres each get their own.
_PALETTE = colormaps["tab20"]


def plot_text(value: object) -> str:
    """Text from the data (gene symbols, centres, labels) as literal text in a figure: a
    ``$`` would start mathtext, and a symbol like ``$\\foo$`` failed the whole plot."""
    return str(value).replace("$", r"\$")


def figure_of(width: float, height: float) -> Figure:
    """A bare figure of ``width`` x ``height`` inches on its own Agg canvas (no pyplot)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def audiogram_panels(n_panels: int, panel_height: float) -> tuple[Figure, np.ndarray]:
    """A figure with one audiogram panel per item, up to four to a row, sharing both axes,
    and its panels in reading order (the unused ones hidden)."""
    n_columns = min(4, max(n_panels, 1))
    n_rows = max(1, -(-n_panels // n_columns))
    figure = figure_of(3.2 * n_columns, panel_height * n_rows)
    grid = figure.subplots(n_rows, n_columns, squeeze=False, sharex=True, sharey=True)
    for axes in grid.ravel()[n_panels:]:
        axes.set_visible(False)
    return figure, grid.ravel()


def training_curves(histories: dict[str, dict[str, list[float]]]) -> Figure:
    """Per training stage: the loss series in one panel, any other per-epoch series below.

    Losses and monitors (learning rate, clusters used, ...) live on different scales; one
    shared axis would flatten one or the other.
    """
    stages = {stage: _series(history) for stage, history in histories.items()}
    stages = {stage: series for stage, series in stages.items() if series}
    if not stages:
        figure = figure_of(5.0, 3.6)
        figure.text(0.5, 0.5, "no training history", ha="center", va="center")
        return figure
    has_others = any(any("loss" not in name for name in s) for s in stages.values())
    n_rows = 2 if has_others else 1
    figure = figure_of(5.0 * len(stages), 3.4 * n_rows)
    grid = figure.subplots(n_rows, len(stages), squeeze=False)
    for column, (stage, series) in enumerate(stages.items()):
        losses = {name: values for name, values in series.items() if "loss" in name}
        panels = [(grid[0, column], losses, f"{stage}: losses")]
        if has_others:
            others = {name: values for name, values in series.items() if "loss" not in name}
            panels.append((grid[1, column], others, f"{stage}: other metrics"))
        for axes, chosen, title in panels:
            for name, values in sorted(chosen.items()):
                axes.plot(np.arange(1, values.size + 1), values, label=name, linewidth=1.2)
            axes.set(title=title, xlabel="epoch")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            if chosen:
                axes.legend(fontsize=7)
    return figure


def _series(history: dict[str, list[float]] | None) -> dict[str, np.ndarray]:
    """The history's non-empty one-dimensional numeric series."""
    series = {}
    for name, values in (history or {}).items():
        array = np.asarray(values)
        if array.ndim == 1 and array.size and np.issubdtype(array.dtype, np.number):
            series[name] = array.astype(float)
    return series


def pca_2d(latent: np.ndarray) -> np.ndarray:
    """First two principal components of the latent means (centred SVD)."""
    centred = latent - latent.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ components[:2].T
    return np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))


def latent_projection(
    latent: np.ndarray, labels: np.ndarray, centres: np.ndarray, seed: int
) -> Figure:
    """PCA of the latent means, coloured by cluster and, beside it, by centre.

    A clustering that merely rediscovers centres shows the same picture twice.
    """
    points = pca_2d(latent)
    rng = np.random.default_rng(seed)
    shown = rng.permutation(len(points))[:_MAX_SCATTER_POINTS]
    figure = figure_of(11.0, 4.8)
    by_cluster, by_centre = figure.subplots(1, 2)
    for axes, groups, title in (
        (by_cluster, np.asarray(labels), "cluster"),
        (by_centre, np.asarray(centres).astype(str), "centre"),
    ):
        for index, value in enumerate(np.unique(groups)):
            mask = groups[shown] == value
            colour = _PALETTE(index % _PALETTE.N)
            axes.scatter(
                *points[shown][mask].T, s=3, alpha=0.5, color=colour, label=plot_text(value)
            )
        axes.set(title=f"latent PCA by {title}", xlabel="PC 1", ylabel="PC 2")
        axes.legend(fontsize=6, markerscale=3, ncols=2)
    return figure


def cluster_audiograms(summary: pd.DataFrame, labels: pd.DataFrame) -> Figure:
    """Per cluster: median and interquartile band of raw thresholds and of the elevation
    above controls (dB; 0 = a typical control).

    ``summary`` is ``characterisation.threshold_summary``, ``labels`` its ``cluster_labels``.
    """
    clusters = labels.loc[labels["n_mice"] > 0, CLUSTER].tolist()
    figure, panels = audiogram_panels(len(clusters), 2.6)
    positions = np.arange(len(FREQUENCIES))
    indexed = summary.set_index([CLUSTER, "scale", "frequency"]).sort_index()
    for axes, cluster in zip(panels, clusters, strict=False):
        raw = indexed.loc[(cluster, RAW)].reindex(list(FREQUENCIES))
        elevation = indexed.loc[(cluster, ABOVE_CONTROLS)].reindex(list(FREQUENCIES))
        axes.fill_between(positions, raw["q1"], raw["q3"], alpha=0.3, label="raw IQR")
        axes.plot(positions, raw["median"], marker="o", label="raw median")
        axes.fill_between(positions, elevation["q1"], elevation["q3"], alpha=0.2, color="C1")
        axes.plot(
            positions, elevation["median"], linestyle="--", color="C1", label="above controls"
        )
        axes.axhline(0.0, color="grey", linewidth=0.6)
        row = labels.set_index(CLUSTER).loc[cluster]
        axes.set_title(f"C{cluster}: {plot_text(row['label'])} (n={row['n_mice']})", fontsize=8)
        axes.set_xticks(positions, list(FREQUENCIES), fontsize=7)
    panels[0].set_ylabel("dB")
    panels[0].legend(fontsize=6)
    return figure


def enrichment_heatmap(enrichment: pd.DataFrame, n_clusters: int, top_lines: int) -> Figure:
    """-log10(q) for the ``top_lines`` lines with the smallest q, across all clusters."""
    best = enrichment.groupby(LINE_ID)[Q_VALUE].min().nsmallest(top_lines).index
    top = enrichment[enrichment[LINE_ID].isin(best)]
    matrix = (
        top.pivot(index=LINE_ID, columns=CLUSTER, values=Q_VALUE)
        .reindex(index=best, columns=range(n_clusters))
        .fillna(1.0)
    )
    names = top.drop_duplicates(LINE_ID).set_index(LINE_ID).reindex(best)
    row_names = [
        plot_text(f"{g} ({z}, {c})")
        for g, z, c in zip(names[GENE], names[ZYGOSITY], names[CENTRE], strict=True)
    ]
    figure = figure_of(max(4.5, 2.5 + 0.45 * n_clusters), 1.5 + 0.22 * max(len(best), 1))
    axes = figure.subplots()
    strength = -np.log10(np.clip(matrix.to_numpy(), 1e-300, 1.0))
    image = axes.imshow(
        strength, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(2.0, float(strength.max()))
    )
    axes.set_xticks(range(n_clusters), [f"C{j}" for j in range(n_clusters)], fontsize=7)
    axes.set_yticks(range(len(row_names)), row_names, fontsize=6)
    axes.set_title(f"enrichment of the top {len(best)} lines")
    figure.colorbar(image, ax=axes, label="-log10 q")
    return figure


def centre_composition(labels: np.ndarray, centres: np.ndarray, n_clusters: int) -> Figure:
    """Share of each centre within each cluster, beside the centres' share of all mice."""
    table = pd.crosstab(np.asarray(labels), np.asarray(centres).astype(str))
    table = table.reindex(index=range(n_clusters), fill_value=0)
    overall = table.sum(axis=0)
    shares = pd.concat([table, overall.to_frame("all").T])
    shares = shares.div(shares.sum(axis=1).replace(0, 1), axis=0)
    figure = figure_of(1.5 + 0.5 * (n_clusters + 1), 4.0)
    axes = figure.subplots()
    bottom = np.zeros(len(shares))
    names = [f"C{j}" for j in range(n_clusters)] + ["all"]
    for index, centre in enumerate(shares.columns):
        colour = _PALETTE(index % _PALETTE.N)
        axes.bar(names, shares[centre], bottom=bottom, color=colour, label=plot_text(centre))
        bottom += shares[centre].to_numpy()
    axes.set(title="centre composition of clusters", ylabel="share of mice")
    axes.legend(fontsize=6, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    return figure
