"""Gene calls: each knockout line tested against its matched controls, at a stated FDR.

The unit of discovery is the line (allele x zygosity x centre, ``line_id``), as in IMPC's
own screens, not a cluster. For every line:

1. each mouse's thresholds become dB above its matched controls (same centre, background,
   pipeline and equipment), less its day's shift, in units of those controls' spread, and
   are summarised by one-sided audiogram contrasts: flat, low, mid and high by default, any
   single tone on request (``evidence``);
2. per contrast, the line's Huber location of its mice (one mouse with sporadic loss moves
   it little, a loss most mice share counts in full), less the empirical null centre (the
   median over the lines of its matched group: most lines are null, and this absorbs what
   all mutants share, such as a higher rate of sporadic loss), is standardised twice
   (``statistics``): by sqrt(1/n + v_day r^2), the controls' spread (v_day: the
   variance of the day shift's error, which line-mates share; r: the contrast's response to
   1 dB at every tone), and by the same with the line's own spread moderated towards the
   controls' (``prior_df``), which a loss that every mouse shares passes and two mice with
   sporadic loss do not;
3. for each standardisation the largest contrast is a statistic whose p-value comes from
   pseudo-lines of the centre's controls (``null``): that carries the multiplicity
   over contrasts (no Bonferroni over tones) and the heavy upper tail of real thresholds;
   the line's p-value is twice the smaller of the two (Bonferroni over the two);
4. Benjamini-Hochberg over the tested lines (``scipy.stats.false_discovery_control``);
   ``called`` is q <= ``fdr``.

Assumptions: most lines in each matched group are null (the null centre is their median);
a line's mice were tested on one or a few days whose controls share their offset; mice are
independent given their line and day; mutants of a null line look like their centre's
controls apart from a common shift, up to a rate of sporadic loss not far above the
controls' own; a hearing loss raises thresholds (the test is one-sided). The effect per
tone is the line's mean dB above its matched controls, day-corrected, with a normal 95%
interval from the controls' spread and the day error. Lines that cannot be tested (no
matched group with enough controls, too few mutants) are listed with the reason and never
called.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from audiometric_clustering.genes.evidence import mouse_evidence
from audiometric_clustering.genes.settings import GeneCallSettings
from audiometric_clustering.genes.statistics import (
    matched_control_counts,
    test_lines,
    tone_effects,
)
from audiometric_clustering.impc.lines import build_line_id, is_control
from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    FREQUENCIES,
    GENE,
    LINE_ID,
    SAMPLE_GROUP,
    ZYGOSITY,
)
from audiometric_clustering.impc.validation import THRESHOLDS

N_MUTANTS, N_CONTROLS = "n_mutants", "n_controls"
STRONGEST_CONTRAST, STATISTIC = "strongest_contrast", "statistic"
P_VALUE, Q_VALUE, CALLED, UNTESTABLE = "p_value", "q_value", "called", "untestable_reason"
EFFECT_COLUMNS = tuple(
    f"effect_{f}_{part}" for f in FREQUENCIES for part in ("db", "ci_low_db", "ci_high_db")
)
CONTROL_SD_COLUMNS = tuple(f"control_sd_{f}_db" for f in FREQUENCIES)
COLUMNS = (
    LINE_ID, GENE, ALLELE, ZYGOSITY, CENTRE, N_MUTANTS, N_CONTROLS, *EFFECT_COLUMNS,
    STRONGEST_CONTRAST, STATISTIC, P_VALUE, Q_VALUE, CALLED, UNTESTABLE, *CONTROL_SD_COLUMNS,
)  # fmt: skip


def _check_columns(mice: pd.DataFrame, match_columns: Sequence[str]) -> None:
    needed = [SAMPLE_GROUP, GENE, ALLELE, ZYGOSITY, CENTRE, *THRESHOLDS, *match_columns]
    missing = [c for c in dict.fromkeys(needed) if c not in mice.columns]
    if missing:
        raise ValueError(
            f"gene calls need the validated export's columns {missing}; the mice table has "
            f"{list(mice.columns)}"
        )


def _untestable_reasons(mutants: pd.DataFrame, settings: GeneCallSettings) -> pd.Series:
    """Per line, why it cannot be tested ("" when it can)."""
    lines = mutants.groupby(LINE_ID, sort=True)
    matched, usable = lines["matched"].any(), lines["usable"].sum()
    group_controls = lines["matched_controls"].max()
    no_controls = (
        "no matched controls: its matched group has "
        + group_controls.astype(int).astype(str)
        + f" controls, fewer than min_matched_controls = {settings.min_matched_controls}"
    )
    too_few = (
        "too few mutants: "
        + usable.astype(int).astype(str)
        + " with measured thresholds and matched controls, fewer than min_mutants = "
        + str(settings.min_mutants)
    )
    return no_controls.where(~matched, too_few.where(usable < settings.min_mutants, ""))


def call_genes(
    mice: pd.DataFrame,
    match_columns: Sequence[str],
    settings: GeneCallSettings,
    line_info: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per knockout line of ``mice``: tested lines by q-value, then the untestable
    ones with their reason (never called).

    ``mice`` is the validated export (``validated_abr``): it keeps the raw thresholds with
    missing ones missing (the model-input table imputes and clips them), every match column,
    ``date_of_experiment`` when the export has one (without it there is no day correction
    and the day's share of a line's variance is estimated from the lines), and the lines
    that data_processing leaves out of modelling for size, which are listed here as
    untestable. ``match_columns``: data_processing's ``control_reference.match_columns``.
    ``line_info``, with a ``line_id`` column (e.g. each line's phenotype label and cluster),
    is joined on.
    """
    _check_columns(mice, match_columns)
    frame = mice.reset_index(drop=True)
    controls = is_control(frame).to_numpy(dtype=bool)
    line_ids = build_line_id(frame)
    thresholds = frame[list(THRESHOLDS)].to_numpy(dtype="float64")
    evidence = mouse_evidence(
        thresholds,
        frame,
        controls,
        line_ids.fillna("").to_numpy(dtype=object),
        match_columns,
        settings.contrasts,
        settings.day_correction,
    )
    matched = evidence.matched_controls >= settings.min_matched_controls
    mutants = pd.DataFrame(
        {
            LINE_ID: line_ids,
            "matched": matched,
            "matched_controls": evidence.matched_controls,
            "usable": matched & np.isfinite(thresholds).any(axis=1),
        }
    ).loc[~controls & line_ids.notna().to_numpy()]
    reasons = _untestable_reasons(mutants, settings)
    tested = reasons.index[reasons == ""]
    rows = mutants.index[mutants[LINE_ID].isin(tested) & mutants["usable"]].to_numpy()
    codes = pd.Index(tested).get_indexer(line_ids.to_numpy()[rows])
    results = test_lines(
        evidence,
        rows,
        codes,
        len(tested),
        controls & matched,
        frame[CENTRE].astype("str").to_numpy(),
        huber_k=settings.huber_k,
        prior_df=settings.prior_df,
        min_group_lines=settings.min_group_lines,
        draws=settings.null_draws,
        seed=settings.seed,
    )
    p_values = results["p_value"].to_numpy()
    q_values = np.full(len(tested), np.nan)
    if np.isfinite(p_values).any():
        finite = np.isfinite(p_values)
        q_values[finite] = false_discovery_control(p_values[finite], method="bh")
    names = np.array([*settings.contrasts, ""], dtype=object)
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    LINE_ID: tested,
                    N_MUTANTS: np.bincount(codes, minlength=len(tested)),
                    N_CONTROLS: matched_control_counts(evidence, rows, codes),
                    STRONGEST_CONTRAST: names[results["strongest"].to_numpy()],
                    STATISTIC: results["statistic"].to_numpy(),
                    P_VALUE: p_values,
                    Q_VALUE: q_values,
                    CALLED: q_values <= settings.fdr,
                    UNTESTABLE: np.where(
                        np.isfinite(p_values), "", "no contrast measured in 2 or more mice"
                    ),
                }
            ).join(tone_effects(evidence, rows, codes, results["day_var"].to_numpy())),
            pd.DataFrame(
                {
                    LINE_ID: reasons.index[reasons != ""],
                    N_MUTANTS: mutants.groupby(LINE_ID).size()[reasons != ""].to_numpy(),
                    N_CONTROLS: mutants.groupby(LINE_ID)["matched_controls"]
                    .max()[reasons != ""]
                    .to_numpy(),
                    CALLED: False,
                    UNTESTABLE: reasons[reasons != ""].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )
    identity = (
        frame.loc[mutants.index, [GENE, ALLELE, ZYGOSITY, CENTRE]]
        .groupby(mutants[LINE_ID].to_numpy())
        .first()
    )
    table = table.join(identity, on=LINE_ID).reindex(columns=list(COLUMNS))
    table = table.sort_values(
        [UNTESTABLE, Q_VALUE, P_VALUE, LINE_ID], na_position="last", kind="stable"
    )
    if line_info is not None:
        table = table.merge(line_info, on=LINE_ID, how="left")
    return table.reset_index(drop=True)
