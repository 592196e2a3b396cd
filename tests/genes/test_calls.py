"""Gene calls (each line against its matched controls) and the line_test baseline, on the
project's own synthetic exports with nothing planted, and on small hand-made ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from audiometric_clustering.genes.calls import COLUMNS, call_genes
from audiometric_clustering.genes.line_test import line_test
from audiometric_clustering.genes.scores import line_call_scores, line_patterns
from audiometric_clustering.genes.settings import GeneCallSettings
from audiometric_clustering.impc import schema
from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.synthetic import PATTERN_SHAPES, generate_synthetic_export
from tests.parameters import parameters, synthetic_settings

THRESHOLDS = [schema.THRESHOLD_COLUMNS[f] for f in schema.FREQUENCIES]
MATCH_COLUMNS = parameters("data_processing")["control_reference"]["match_columns"]
#: The defaults, with fewer draws to keep the tests fast (the tail fit carries the small
#: p-values).
FAST = GeneCallSettings.from_params(parameters("evaluation")["gene_calls"] | {"null_draws": 2000})


def null_export(seed: int, n_mice: int = 6000) -> pd.DataFrame:
    """An IMPC-like export (centre baselines, setups, days with cohort offsets, sporadic
    loss, ceilings, grids, missing tones) in which no line carries a planted loss."""
    settings = synthetic_settings()
    planted = settings.planted.model_copy(update={"line_share": 0.0})
    settings = settings.model_copy(update={"planted": planted})
    export, truth = generate_synthetic_export(n_mice, seed=seed, settings=settings)
    assert (truth["planted_pattern"] == "none").all()
    return export


def four_mouse_lines(calls: pd.DataFrame, share: float) -> list[str]:
    """A seeded ``share`` of the tested lines, drawn from the 4-mouse lines with 50 or more
    matched controls."""
    tested = calls["untestable_reason"] == ""
    eligible = calls.loc[tested & (calls["n_mutants"] == 4) & (calls["n_controls"] >= 50)]
    count = max(round(share * tested.sum()), 1)
    return eligible["line_id"].sort_values().sample(n=count, random_state=0).tolist()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_without_a_planted_loss_almost_no_line_is_called(seed):
    calls = call_genes(null_export(seed), MATCH_COLUMNS, FAST)
    _assert_few_calls(calls)


def test_without_dates_the_day_offsets_are_absorbed_by_the_lines_spread():
    """No date_of_experiment: no day correction; what line-mates share (their cohort's
    offset, 3 dB SD here) is estimated from the spread of all lines instead."""
    export = null_export(4).drop(columns=schema.DATE_OF_EXPERIMENT)
    _assert_few_calls(call_genes(export, MATCH_COLUMNS, FAST))


def _assert_few_calls(calls: pd.DataFrame) -> None:
    tested = calls.loc[calls["untestable_reason"] == ""]
    assert len(tested) > 500
    assert tested["called"].mean() <= 0.01
    assert not calls.loc[calls["untestable_reason"] != "", "called"].any()


def test_four_mouse_lines_with_a_20_db_high_frequency_loss_are_called():
    """A screen in which 4% of the lines are 4-mouse lines whose every mouse has lost 20 dB
    at 30 kHz (16 at 24 kHz, 8 at 18 kHz and click, the planted pattern's smallest size):
    about three control SDs for a line of four, as large as two mice with sporadic loss
    make a null line look. Measured on data seeds 6-9: 77-93% of them called (line_test:
    40-62%), null lines 0-0.14%."""
    export = null_export(6)
    lines = four_mouse_lines(call_genes(export, MATCH_COLUMNS, FAST), share=0.04)
    export.loc[build_line_id(export).isin(lines), THRESHOLDS] += 20.0 * np.array(
        PATTERN_SHAPES["high_frequency"]
    )
    calls = call_genes(export, MATCH_COLUMNS, FAST).set_index("line_id")
    deaf = calls.loc[lines]
    assert len(deaf) >= 25 and deaf["called"].mean() >= 0.75
    strongest = deaf.loc[deaf["called"], "strongest_contrast"]
    assert strongest.isin(["24kHz", "30kHz", "high"]).mean() >= 0.9
    within = (deaf["effect_30kHz_ci_low_db"] < 20.0) & (20.0 < deaf["effect_30kHz_ci_high_db"])
    assert within.mean() >= 0.85  # 95% intervals
    others = calls.drop(index=lines)
    assert others.loc[others["untestable_reason"] == "", "called"].mean() <= 0.01


def test_lines_without_matched_controls_or_with_too_few_mutants_are_listed_untested():
    export = null_export(5, n_mice=3000)
    line_ids = build_line_id(export)
    alone, small = four_mouse_lines(call_genes(export, MATCH_COLUMNS, FAST), share=0.1)[:2]
    export.loc[line_ids == alone, schema.EQUIPMENT_MODEL] = "a model no control was tested on"
    export = export.drop(index=export.index[line_ids == small][:2])
    labels = pd.DataFrame({"line_id": [alone], "phenotype": ["a label joined on"]})
    calls = call_genes(export, MATCH_COLUMNS, FAST, line_info=labels).set_index("line_id")
    assert list(calls.columns) == [*(c for c in COLUMNS if c != "line_id"), "phenotype"]
    assert calls.loc[alone, "phenotype"] == "a label joined on"
    assert calls.loc[alone, "untestable_reason"].startswith(
        "no matched controls: its matched group has 0 controls"
    )
    assert calls.loc[small, "untestable_reason"].startswith("too few mutants: 2 with measured")
    for line in (alone, small):
        assert not calls.loc[line, "called"] and np.isnan(calls.loc[line, "p_value"])
    tested = calls.loc[calls["untestable_reason"] == ""]
    assert tested["q_value"].notna().all() and tested["n_controls"].ge(20).all()
    assert tested["q_value"].is_monotonic_increasing  # sorted by q, untestable lines last


def test_settings_come_from_parameters_and_name_a_bad_one():
    defaults = parameters("evaluation")["gene_calls"]
    settings = GeneCallSettings.from_params(defaults | {"fdr": 0.1, "contrasts": ["flat", "high"]})
    assert settings.fdr == 0.1 and settings.contrasts == ["flat", "high"]
    with pytest.raises(ValueError, match=r"evaluation\.gene_calls\.fdr = 1\.5: expected a number"):
        GeneCallSettings.from_params(defaults | {"fdr": 1.5})
    with pytest.raises(ValueError, match=r"unknown parameters \['alpha'\]"):
        GeneCallSettings.from_params(defaults | {"alpha": 0.05})
    with pytest.raises(ValueError, match=r"gene_calls\.contrasts = \['treble'\]: expected a list"):
        GeneCallSettings.from_params(defaults | {"contrasts": ["treble"]})


def test_scores_count_every_line_and_the_false_share_of_calls():
    truth = pd.DataFrame(
        {
            schema.SPECIMEN_ID: ["a", "b", "c", "d", "e"],
            schema.LINE_ID: ["L1", "L1", "L2", "L3", ""],
            "planted_pattern": ["flat_mild", "flat_mild", "none", "profound", "none"],
            "affected": [True, False, False, True, False],
        }
    )
    patterns = line_patterns(truth, truth[[schema.SPECIMEN_ID, schema.LINE_ID]])
    scores = line_call_scores(patterns, called=["L1", "L2"])
    assert scores["recall"] == 0.5 and scores["null_fpr"] == 1.0 and scores["false_share"] == 0.5
    assert scores["recall/flat_mild"] == 1.0 and scores["recall/profound"] == 0.0


# --- line_test, the baseline -----------------------------------------------------------


def hand_made(rng: np.random.Generator, loss_db: float = 40.0) -> pd.DataFrame:
    """One centre: 300 controls and 80 four-mouse lines, thresholds ~ N(30, 5) dB; line
    "Deaf" has ``loss_db`` at 30 kHz only and line "Keen" hears 40 dB better everywhere."""
    genes = ["", *(f"Null{i}" for i in range(78)), "Deaf", "Keen"]
    sizes = [300, *[4] * 80]
    rows = []
    for gene, size in zip(genes, sizes, strict=True):
        thresholds = rng.normal(30.0, 5.0, size=(size, 6))
        thresholds[:, 4] += loss_db * (gene == "Deaf")
        thresholds -= 40.0 * (gene == "Keen")
        for values in thresholds:
            rows.append(
                {
                    schema.SPECIMEN_ID: f"m{len(rows)}",
                    schema.SAMPLE_GROUP: "control" if gene == "" else "experimental",
                    schema.GENE: gene or None,
                    schema.ALLELE: f"{gene}<tm1>" if gene else None,
                    schema.ZYGOSITY: "homozygote",
                    schema.CENTRE: "A",
                    **dict(zip(THRESHOLDS, values, strict=True)),
                }
            )
    return pd.DataFrame(rows)


def test_line_test_calls_a_one_tone_loss_and_not_better_hearing():
    mice = hand_made(np.random.default_rng(0))
    result = line_test(mice).set_index("line_id")
    assert len(result) == 80 and result["n_mutants"].eq(4).all()
    called = set(result.index[result["called"]].str.split("|").str[0])
    assert called == {"Deaf"}  # one-sided: "Keen" hears better and is not a loss
    assert np.allclose(result["q_value"], false_discovery_control(result["p_value"], method="bh"))


def test_line_test_absorbs_a_shift_of_all_lines_and_bonferronis_over_measured_tones():
    mice = hand_made(np.random.default_rng(1))
    mutants = mice[schema.SAMPLE_GROUP] == "experimental"
    shifted = mice.copy()
    shifted.loc[mutants, THRESHOLDS] += 7.0  # every line tested on a louder day
    assert np.allclose(line_test(mice)["p_value"], line_test(shifted)["p_value"])
    without_click = mice.assign(**{THRESHOLDS[5]: np.nan})
    deaf = line_test(mice)["line_id"].str.startswith("Deaf").to_numpy()
    ratio = (
        line_test(mice)["p_value"][deaf].item() / line_test(without_click)["p_value"][deaf].item()
    )
    assert ratio == pytest.approx(6 / 5)  # the same smallest tone p, one tone fewer tested
