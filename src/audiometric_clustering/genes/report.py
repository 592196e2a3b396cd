"""The evaluation report's "Genes" section: what was tested, what was called, and how the
calls compare with ``line_test`` and the clusterings' enrichment.

Every text from the data (gene and allele symbols, centres, labels) goes through
``markdown_table``, which shows it as plain text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.markdown import markdown_table
from audiometric_clustering.genes.calls import (
    CALLED,
    N_CONTROLS,
    N_MUTANTS,
    Q_VALUE,
    STRONGEST_CONTRAST,
    UNTESTABLE,
)
from audiometric_clustering.genes.comparison import (
    CALLED_LINES,
    KIND,
    METHOD,
    TESTED,
)
from audiometric_clustering.genes.phenotypes import CLUSTER_Q, PHENOTYPE_CLUSTER, PHENOTYPE_LABEL
from audiometric_clustering.genes.settings import GeneCallSettings
from audiometric_clustering.impc.schema import ALLELE, CENTRE, FREQUENCIES, GENE, ZYGOSITY

#: Scores of the comparison shown in the report, in order (recall per pattern follows).
SCORES = {"recall": "recall", "null_fpr": "null-line FPR", "false_share": "false share"}
EFFECTS = "dB above controls (" + ", ".join(FREQUENCIES) + ")"


def untestable_counts(calls: pd.DataFrame) -> dict[str, int]:
    """Untestable lines per kind of reason (the text before its colon)."""
    reasons = calls[UNTESTABLE].fillna("").astype(str)
    kinds = reasons[reasons != ""].str.split(":").str[0]
    return {str(kind): int(count) for kind, count in kinds.value_counts().sort_index().items()}


def calls_table(calls: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The ``limit`` called lines with the smallest q, as the report shows them."""
    called = calls[calls[CALLED].astype(bool)].sort_values(Q_VALUE, kind="stable").head(limit)
    effects = called[[f"effect_{f}_db" for f in FREQUENCIES]].to_numpy(dtype=float)
    shown = {
        "gene": called[GENE],
        "allele": called[ALLELE],
        "zygosity": called[ZYGOSITY],
        "centre": called[CENTRE],
        "mice": called[N_MUTANTS],
        "controls": called[N_CONTROLS],
        "strongest contrast": called[STRONGEST_CONTRAST],
        EFFECTS: [
            " / ".join("–" if np.isnan(v) else str(round(v)) for v in row) for row in effects
        ],
        "q": called[Q_VALUE],
    }
    if PHENOTYPE_LABEL in called:
        shown |= {
            "phenotype": called[PHENOTYPE_LABEL].fillna("not modelled"),
            "cluster": called[PHENOTYPE_CLUSTER],
            "cluster q": called[CLUSTER_Q],
        }
    return pd.DataFrame(shown).astype({"mice": float, "controls": float})


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Every method's counts and, when scored against a truth file, its scores."""
    columns = {METHOD: "method", KIND: "kind", TESTED: "tested", CALLED_LINES: "called"}
    columns |= {key: title for key, title in SCORES.items() if key in comparison}
    patterns = [c for c in comparison.columns if c.startswith("recall/")]
    columns |= {c: c.replace("recall/", "recall, ") for c in patterns}
    return comparison[list(columns)].rename(columns=columns)


def genes_section(
    calls: pd.DataFrame,
    comparison: pd.DataFrame,
    settings: GeneCallSettings,
    figure_file: str,
) -> str:
    """The "Genes" section: counts, the calls by q, the figure, the comparison."""
    tested = int((calls[UNTESTABLE].fillna("") == "").sum())
    called = int(calls[CALLED].astype(bool).sum())
    untestable = untestable_counts(calls)
    why = "; ".join(f"{kind}: {count}" for kind, count in untestable.items())
    parts = [
        "## Genes\n\n"
        "Each knockout line is tested against its matched controls (same centre, background, "
        "pipeline and equipment), each mouse corrected for the day it was tested, with a null "
        "drawn from those controls; no clustering is involved (`docs/gene_calls.md`). Every "
        "line, with its reason when untestable, is in `07_model_output/gene_calls.csv`.\n\n"
        + markdown_table(
            pd.DataFrame(
                {
                    "lines": ["tested", f"called at q <= {settings.fdr:g}", "untestable"],
                    "count": [tested, called, sum(untestable.values())],
                    "why": ["", "Benjamini-Hochberg over the tested lines", why],
                }
            )
        )
    ]
    if called:
        shown = min(called, settings.report_lines)
        parts.append(
            f"### Calls by q\n\nThe {shown} of {called} calls with the smallest q. The effect "
            "is the line's mean dB above its matched controls at each tone (day-corrected); "
            "the phenotype is the model's cluster the line's mice lean to together (largest "
            "mean soft assignment), with the line's enrichment q in that cluster as the "
            "clustering's own evidence.\n\n" + markdown_table(calls_table(calls, shown))
        )
        parts.append(
            "### Audiograms of the top calls\n\nPer line, its mean dB above its matched "
            "controls at each tone with the 95% interval, against the middle 95% of single "
            f"matched controls around 0 (grey).\n\n![gene call audiograms](plots/{figure_file})"
        )
    else:
        parts.append(f"No line is called at q <= {settings.fdr:g}.")
    scored = "scored_lines" in comparison
    parts.append(
        "### Gene calls, line_test and the clusterings\n\n"
        + (
            "Against the truth file, over the same modelled lines for every method (a line a "
            "method could not test counts as not found); a clustering calls a line enriched "
            "in a hearing-loss cluster. False share: the share of calls that are null lines.\n\n"
            if scored
            else "No truth file for these data: counts only.\n\n"
        )
        + markdown_table(comparison_table(comparison))
    )
    return "\n\n".join(parts)
