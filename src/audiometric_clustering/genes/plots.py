"""The report's gene-call figure: the top calls' audiograms against their matched controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from audiometric_clustering.evaluation.plots import audiogram_panels, figure_of, plot_text
from audiometric_clustering.genes.calls import CALLED, N_MUTANTS, Q_VALUE
from audiometric_clustering.genes.phenotypes import PHENOTYPE_LABEL
from audiometric_clustering.impc.schema import CENTRE, FREQUENCIES, GENE, ZYGOSITY

#: The figure's file under the evaluation's plots folder; the report links to it.
PLOT_FILE = "gene_call_audiograms.png"
_Z95 = 1.959963984540054


def gene_call_audiograms(calls: pd.DataFrame, n_lines: int) -> Figure:
    """Per called line (the ``n_lines`` with the smallest q): its mean dB above its matched
    controls at each tone with the 95% interval, over a grey band of +-1.96 matched-control
    SDs around 0, where 95% of single controls lie."""
    top = calls[calls[CALLED].astype(bool)].sort_values(Q_VALUE, kind="stable").head(n_lines)
    if top.empty:
        figure = figure_of(5.0, 2.0)
        figure.text(0.5, 0.5, "no line called", ha="center", va="center")
        return figure
    figure, panels = audiogram_panels(len(top), 2.7)
    positions = np.arange(len(FREQUENCIES))
    for axes, (_, line) in zip(panels, top.iterrows(), strict=False):
        effect = line[[f"effect_{f}_db" for f in FREQUENCIES]].to_numpy(dtype=float)
        low = line[[f"effect_{f}_ci_low_db" for f in FREQUENCIES]].to_numpy(dtype=float)
        high = line[[f"effect_{f}_ci_high_db" for f in FREQUENCIES]].to_numpy(dtype=float)
        band = _Z95 * line[[f"control_sd_{f}_db" for f in FREQUENCIES]].to_numpy(dtype=float)
        axes.fill_between(positions, -band, band, color="0.85", label="controls, 95%")
        axes.axhline(0.0, color="grey", linewidth=0.6)
        axes.errorbar(
            positions,
            effect,
            yerr=np.abs(np.vstack([effect - low, high - effect])),
            marker="o",
            capsize=2,
            color="C3",
            label="line mean, 95% CI",
        )
        label = line.get(PHENOTYPE_LABEL)
        phenotype = f"\n{plot_text(label)}" if isinstance(label, str) and label else ""
        axes.set_title(
            plot_text(f"{line[GENE]} ({line[ZYGOSITY]}, {line[CENTRE]}), n={line[N_MUTANTS]}")
            + f"\nq={line[Q_VALUE]:.2g}{phenotype}",
            fontsize=7,
        )
        axes.set_xticks(positions, list(FREQUENCIES), fontsize=6)
    panels[0].set_ylabel("dB above matched controls")
    panels[0].legend(fontsize=6)
    return figure
