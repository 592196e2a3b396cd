"""The report's lead section: scores that can show a clustering of centres for what it is.

Line purity and silhouette reward a clustering by centre (a line is one centre, and centres
differ more than phenotypes), so they cannot reveal the failure they would be read against.
These can: dependence of the clusters on the centre, null lines enriched in any cluster,
controls in hearing-loss clusters, and what the planted truth says, method by method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import MODEL
from audiometric_clustering.evaluation.comparison import METHOD
from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.evaluation.invariance import NUISANCES
from audiometric_clustering.evaluation.markdown import markdown_table

CONTROLS_IN_HEARING_LOSS = "controls_in_hearing_loss_clusters"

#: The headline scores in the order shown, with their column titles.
HEADLINE: dict[str, str] = {
    "nmi_centre": "NMI centre",
    "cramers_v_centre": "Cramér's V centre",
    "line_false_positive_rate_any_cluster": "null-line FPR, any cluster",
    "line_false_positive_rate": "null-line FPR, hearing-loss clusters",
    "ari_affected": "ARI affected",
    "line_recall": "planted-line recall",
    CONTROLS_IN_HEARING_LOSS: "controls in hearing-loss clusters",
}

#: Scores on which the model should beat every baseline, and whether lower is better.
VERDICT_LOWER_IS_BETTER: dict[str, bool] = {
    "line_false_positive_rate_any_cluster": True,
    "nmi_centre": True,
    "line_recall": False,
    "ari_affected": False,
}

SPORADIC = "controls_with_sporadic_loss"
RECALL_PREFIX = "line_recall/"
CONTROLS_PREFIX = "controls_in_cluster/"


def model_versus_baselines(comparison: pd.DataFrame) -> str:
    """One sentence per verdict score: does the model beat every baseline, with numbers.

    Said plainly so a weaker model is never hidden in a table; scores without values (no
    ground truth) are left out.
    """
    scores = comparison.set_index(METHOD)
    sentences = []
    for metric, lower in VERDICT_LOWER_IS_BETTER.items():
        if metric not in scores or scores[metric].isna().all():
            continue
        model, baselines = scores.loc[MODEL, metric], scores[metric].drop(MODEL)
        best = baselines.idxmin() if lower else baselines.idxmax()
        bar = baselines[best]
        direction = " (lower is better)" if lower else ""
        if (model < bar) if lower else (model > bar):
            verdict = f"beats every baseline (best baseline `{best}`: {bar:.3f})."
        elif model == bar:
            verdict = f"ties with `{best}` ({bar:.3f})."
        else:
            verdict = f"does NOT beat `{best}` ({bar:.3f})."
        sentences.append(f"On `{metric}`{direction} the model ({model:.3f}) {verdict}")
    return " ".join(sentences)


def headline_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per method, the headline scores it has, titled for reading."""
    present = [metric for metric in HEADLINE if metric in comparison]
    return comparison[[METHOD, *present]].rename(columns=HEADLINE)


def nuisance_table(comparison: pd.DataFrame, score: str) -> pd.DataFrame:
    """One row per method, one column per nuisance, for ``score`` ``nmi`` or ``cramers_v``."""
    columns = {f"{score}_{name}": name for name in NUISANCES if f"{score}_{name}" in comparison}
    return comparison[[METHOD, *columns]].rename(columns=columns)


def controls_table(comparison: pd.DataFrame, cluster_tables: pd.DataFrame) -> pd.DataFrame:
    """Share of all controls in each cluster per method, hearing-loss clusters marked "HL"."""
    clusters = sorted(
        c.removeprefix(CONTROLS_PREFIX) for c in comparison if c.startswith(CONTROLS_PREFIX)
    )
    rows = []
    for record in comparison.to_dict(orient="records"):
        method = record[METHOD]
        table = cluster_tables[cluster_tables[METHOD] == method]
        hearing_loss = set(table.loc[table["hearing_loss"].astype(bool), CLUSTER].astype(int))
        row = {
            METHOD: method,
            "hearing-loss clusters": record.get(CONTROLS_IN_HEARING_LOSS, np.nan),
        }
        for cluster in clusters:
            share = record[f"{CONTROLS_PREFIX}{cluster}"]
            mark = " HL" if int(cluster) in hearing_loss else ""
            row[cluster] = "" if np.isnan(share) else f"{share:.3f}{mark}"
        rows.append(row)
    return pd.DataFrame(rows)


def recall_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Planted-line recall per pattern, one row per method."""
    columns = {c: c.removeprefix(RECALL_PREFIX) for c in comparison if c.startswith(RECALL_PREFIX)}
    return comparison[[METHOD, *columns]].rename(columns=columns)


def honest_section(comparison: pd.DataFrame, cluster_tables: pd.DataFrame) -> str:
    """The report's "Honest scores" section, Markdown.

    ``comparison`` is the method comparison (one row per method), ``cluster_tables`` every
    method's cluster labels with their ``hearing_loss`` flag.
    """
    parts = [
        "## Honest scores\n\n"
        "Can these clusters be phenotypes, or do they follow where the mice were tested? "
        "NMI and Cramér's V of clusters against centre: 0 when the clusters carry no "
        "information about the centre, 1 when they are the centres. Null-line FPR: the share "
        "of tested knockout lines without a planted effect that are enriched (q < FDR, "
        "against their own centre's mice) in any cluster, the headline, or in a hearing-loss "
        "cluster only; a null line enriched anywhere was grouped by its setup or cohort, not "
        "its genotype. ARI among affected mice and planted-line recall need the synthetic "
        "truth. Controls in hearing-loss clusters: the share of all controls there, which "
        "should not exceed the share of controls with sporadic loss. `gmm_line_shrunk` is "
        "the bar the model must beat.\n\n" + markdown_table(headline_table(comparison))
    ]
    if SPORADIC in comparison and comparison[SPORADIC].notna().any():
        parts.append(
            f"Controls with sporadic loss in the truth: {comparison[SPORADIC].iloc[0]:.3f} "
            "of all controls."
        )
    if MODEL in set(comparison[METHOD]):
        parts.append(model_versus_baselines(comparison))
    for score, title in (("nmi", "NMI"), ("cramers_v", "Cramér's V")):
        table = nuisance_table(comparison, score)
        if table.shape[1] > 1:
            parts.append(
                f"### {title} of clusters against each nuisance\n\n" + markdown_table(table)
            )
    if any(c.startswith(CONTROLS_PREFIX) for c in comparison):
        parts.append(
            "### Where the controls fall\n\nShare of all controls in each cluster; HL marks "
            "a hearing-loss cluster.\n\n"
            + markdown_table(controls_table(comparison, cluster_tables))
        )
    recall = recall_table(comparison)
    if recall.shape[1] > 1:
        parts.append("### Planted-line recall per pattern\n\n" + markdown_table(recall))
    return "\n\n".join(parts)
