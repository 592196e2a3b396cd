import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.lines import build_line_id
from audiometric_clustering.impc.synthetic import (
    CENTRES,
    NO_PATTERN,
    PATTERN_SHAPES,
    TRUTH_COLUMNS,
    SyntheticSettings,
    generate_synthetic_export,
)
from audiometric_clustering.impc.validation import validate_export
from tests.parameters import parameters, synthetic_settings

THRESHOLDS = [schema.THRESHOLD_COLUMNS[f] for f in schema.FREQUENCIES]
TONES = THRESHOLDS[:5]
PROFILE = {p.name: p for p in CENTRES}
N_MICE = 12000


def _joined(pair: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    export, truth = pair
    return export.merge(truth.drop(columns=schema.LINE_ID), on=schema.SPECIMEN_ID)


@pytest.fixture(scope="module")
def settings() -> SyntheticSettings:
    return synthetic_settings()


@pytest.fixture(scope="module")
def messy() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The project's default data."""
    return generate_synthetic_export(N_MICE, seed=11, settings=synthetic_settings())


@pytest.fixture(scope="module")
def clean(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same mice with every nuisance effect off."""
    return generate_synthetic_export(N_MICE, seed=11, settings=settings.clean())


@pytest.fixture(scope="module")
def heavy(settings) -> SyntheticSettings:
    """Default nuisance, but 30% of lines planted: enough loss to reach every ceiling."""
    return _changed(settings, "planted", line_share=0.3)


def _changed(settings: SyntheticSettings, section: str, **changes) -> SyntheticSettings:
    """``settings`` with ``changes`` in one of its sections (``planted``, ``recording``)."""
    changed = getattr(settings, section).model_copy(update=changes)
    return settings.model_copy(update={section: changed})


def _control_residuals(data: pd.DataFrame) -> pd.DataFrame:
    controls = data.loc[data["is_control"] & data["sporadic_loss"].eq("none")]
    means = controls.groupby(schema.CENTRE)[TONES].transform("mean")
    return controls[TONES] - means


# --- determinism, layout, settings -------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(settings):
    first = generate_synthetic_export(800, seed=5, settings=settings)
    again = generate_synthetic_export(800, seed=5, settings=settings)
    other = generate_synthetic_export(800, seed=6, settings=settings)
    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not first[0][THRESHOLDS].equals(other[0][THRESHOLDS])


def test_export_has_the_real_columns_and_the_truth_its_own(messy):
    export, truth = messy
    assert set(export.columns) == {*schema.METADATA_COLUMNS, *THRESHOLDS}
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(export) == len(truth) == N_MICE and export[schema.SPECIMEN_ID].is_unique
    assert truth[schema.SPECIMEN_ID].tolist() == export[schema.SPECIMEN_ID].tolist()
    assert truth[schema.LINE_ID].tolist() == build_line_id(export).tolist()
    assert truth["is_control"].tolist() == export[schema.SAMPLE_GROUP].eq("control").tolist()
    assert truth["affected"].dtype == bool
    clean, summary = validate_export(export, n_clusters=12, min_line_size=3)
    assert len(clean) == N_MICE and summary["out_of_range_cleared"] == {}


def test_settings_come_from_the_yaml_and_name_a_bad_key_and_value(settings):
    effects = parameters("synthetic")
    assert SyntheticSettings.from_params(effects) == settings
    bad = {**effects, "sporadic_loss": {**effects["sporadic_loss"], "control_share": 1.5}}
    with pytest.raises(ValueError, match=r"synthetic\.sporadic_loss\.control_share = 1\.5"):
        SyntheticSettings.from_params(bad)
    typo = {**effects, "recording": {**effects["recording"], "ceilings": True}}
    with pytest.raises(
        ValueError, match=r"synthetic\.recording: unknown parameters \['ceilings'\]"
    ):
        SyntheticSettings.from_params(typo)
    missing = {k: v for k, v in effects.items() if k != "cohorts"}
    with pytest.raises(ValueError, match=r"synthetic: missing parameters \['cohorts'\]"):
        SyntheticSettings.from_params(missing)
    patterns = {**effects["planted"]["patterns"], "tinnitus": {"weight": 1, "size_db": [1, 2]}}
    unknown = {**effects, "planted": {**effects["planted"], "patterns": patterns}}
    unknown_pattern = r"synthetic\.planted\.patterns: unknown patterns \['tinnitus'\]"
    with pytest.raises(ValueError, match=unknown_pattern):
        SyntheticSettings.from_params(unknown)


def test_switching_one_effect_off_changes_only_that_effect(messy, settings):
    export, truth = generate_synthetic_export(
        N_MICE, seed=11, settings=_changed(settings, "recording", missing_values=False)
    )
    pd.testing.assert_frame_equal(truth, messy[1])
    measured = messy[0][THRESHOLDS].notna()
    pd.testing.assert_frame_equal(export[THRESHOLDS][measured], messy[0][THRESHOLDS])
    assert export[THRESHOLDS].notna().all().all()


# --- population: centres, lines, cohorts --------------------------------------------------


def test_centres_controls_and_lines_look_like_the_real_export(messy):
    export, truth = messy
    shares = export[schema.CENTRE].value_counts(normalize=True)
    total = sum(c.export_mice for c in CENTRES)
    for centre in CENTRES:
        assert shares[centre.name] == pytest.approx(centre.export_mice / total, abs=0.002)
    controls = truth["is_control"]
    assert controls.mean() == pytest.approx(0.25, abs=0.01)
    assert export.loc[controls, schema.ZYGOSITY].eq("homozygote").any()  # as in reality
    sizes = truth.loc[~controls, schema.LINE_ID].value_counts()
    assert sizes.between(3, 16).all()
    assert sizes.median() == 4 and sizes.mean() == pytest.approx(6, abs=0.7)
    assert sizes[sizes.index.str.endswith("|JAX")].median() == 8


def test_a_line_is_one_cohort_and_cohorts_share_an_offset(messy, clean):
    data = _joined(messy)
    mutants = data.loc[~data["is_control"]]
    per_line = mutants.groupby(build_line_id(mutants))
    assert per_line["cohort_id"].nunique().eq(1).all()
    assert per_line[schema.DATE_OF_EXPERIMENT].nunique().eq(1).all()
    cohorts = data.groupby("cohort_id")
    assert cohorts[schema.CENTRE].nunique().eq(1).all()
    assert cohorts["cohort_offset_db"].nunique().eq(1).all()
    assert cohorts["is_control"].any().mean() > 0.8  # controls are tested in cohorts too
    offsets = cohorts["cohort_offset_db"].first()
    assert offsets.std() == pytest.approx(3.0, abs=0.4)
    residual = _control_residuals(data).mean(axis=1)
    offset = data.loc[residual.index, "cohort_offset_db"]
    assert np.polyfit(offset, residual, 1)[0] == pytest.approx(1.0, abs=0.15)
    assert clean[1]["cohort_offset_db"].eq(0).all()


# --- control baselines --------------------------------------------------------------------


def test_control_baselines_differ_by_centre_correlate_and_skew(messy):
    data = _joined(messy)
    controls = data.loc[data["is_control"]]
    means = controls.groupby(schema.CENTRE)[TONES].mean()
    for name in ("JAX", "CCP-IMG", "HMGU", "UC Davis", "WTSI", "ICS"):
        setups = PROFILE[name].setups  # some settings of a centre sit a few dB apart
        expected = np.array(PROFILE[name].mean_db[:5]) + sum(s.share * s.offset_db for s in setups)
        assert np.abs(means.loc[name].to_numpy() - expected).max() < 2.5, name
    assert means.loc["JAX", TONES[1]] - means.loc["ICS", TONES[1]] >= 25  # ~46 vs ~16 dB
    big = controls[schema.CENTRE].value_counts().index[:6]
    sds = controls.loc[controls[schema.CENTRE].isin(big)].groupby(schema.CENTRE)[TONES].std()
    assert sds.min().min() >= 4.5 and sds.max().max() <= 12.5  # 5-12 dB, give or take sampling
    residuals = _control_residuals(data)
    assert residuals.corr().loc[TONES[0], TONES[1]] > 0.35
    assert 0.3 < residuals.skew().mean() < 1.2


def test_clean_baselines_are_one_for_all_centres_uncorrelated_and_symmetric(clean):
    data = _joined(clean)
    controls = data.loc[data["is_control"]]
    big = controls[schema.CENTRE].value_counts().index[:6]
    means = controls.loc[controls[schema.CENTRE].isin(big)].groupby(schema.CENTRE)[TONES].mean()
    assert (means.max() - means.min()).max() < 3
    residuals = _control_residuals(data)
    assert residuals.corr().loc[TONES[0], TONES[1]] == pytest.approx(0, abs=0.06)
    assert residuals.skew().abs().max() < 0.2


# --- recording: ceilings, grids, continuous values, missing values -----------------------


def test_no_response_is_recorded_at_each_centres_ceiling(heavy):
    export, truth = generate_synthetic_export(6000, seed=3, settings=heavy)
    ceilings = {"HMGU": 90, "CCP-IMG": 90, "WTSI": 95, "JAX": 100, "ICS": 100}
    highest = export.groupby(schema.CENTRE)[THRESHOLDS].max().max(axis=1)
    for centre, ceiling in ceilings.items():
        assert highest[centre] == ceiling, centre
    assert (export[THRESHOLDS].to_numpy() <= truth[["ceiling_db"]].to_numpy()).all(
        where=export[THRESHOLDS].notna().to_numpy()
    )
    off = generate_synthetic_export(
        6000, seed=3, settings=_changed(heavy, "recording", centre_ceilings=False)
    )
    highest = off[0].groupby(schema.CENTRE)[THRESHOLDS].max().max(axis=1)
    assert highest[["HMGU", "CCP-IMG", "WTSI"]].gt(95).all() and highest.max() == 100
    assert off[1]["ceiling_db"].eq(100).all()


def _non_grid(values: pd.DataFrame) -> pd.DataFrame:
    return (values % 5 != 0) & values.notna()


def test_one_centre_is_off_the_5_db_grid_by_a_calibration_constant(messy, clean):
    export, truth = messy
    rbrc = export.loc[export[schema.CENTRE].eq("RBRC"), THRESHOLDS]
    offsets = np.array(PROFILE["RBRC"].grid_offset_db)
    in_range = rbrc.gt(-10) & rbrc.lt(100)  # the floor and the ceiling are not on the grid
    remainder = ((rbrc - offsets) % 5).round(6)
    assert remainder.where(in_range).isin([0.0, 5.0]).sum().sum() == in_range.sum().sum() > 0
    assert _non_grid(rbrc).mean().min() > 0.9
    others = ~export[schema.CENTRE].isin(["RBRC", "ICS"])
    assert not _non_grid(export.loc[others, THRESHOLDS]).any().any()
    assert not _non_grid(clean[0][THRESHOLDS]).any().any()
    assert set(clean[1]["recording"]) == {"grid"}


def test_some_mice_of_another_centre_have_continuous_values(messy):
    data = _joined(messy)
    ics = data.loc[data[schema.CENTRE].eq("ICS")]
    continuous = ics["recording"].eq("continuous")
    assert 0.02 < continuous.mean() < 0.15  # ~7%: whole cohorts, so it varies
    off_grid = _non_grid(ics[THRESHOLDS]).any(axis=1)
    assert not off_grid[~continuous].any() and off_grid[continuous].mean() > 0.9
    values = ics.loc[continuous, THRESHOLDS]
    assert ((values * 10).round(6) % 1 == 0).where(values.notna(), True).all().all()
    # the first cohorts of the centre, as in the real export
    dates = ics[schema.DATE_OF_EXPERIMENT]
    assert dates[continuous].max() < dates[~continuous].min()


def test_missing_values_follow_each_centre(messy, clean):
    export, _ = messy
    missing = export[THRESHOLDS].isna().groupby(export[schema.CENTRE]).mean()
    click, khz30 = schema.THRESHOLD_COLUMNS["click"], schema.THRESHOLD_COLUMNS["30kHz"]
    assert missing.loc[["ICS", "JAX"], click].eq(1.0).all()
    assert missing.loc["CCP-IMG", khz30] == pytest.approx(0.14, abs=0.03)
    assert missing.loc["KMPC", khz30] == pytest.approx(0.10, abs=0.06)
    assert missing.loc["HMGU", khz30] == pytest.approx(0.07, abs=0.025)
    sporadic = missing.drop(["ICS", "JAX", "KMPC", "HMGU", "CCP-IMG"])
    assert sporadic.max().max() < 0.03 and sporadic.sum().sum() > 0
    assert clean[0][THRESHOLDS].notna().all().all()


# --- sporadic loss ------------------------------------------------------------------------


def test_sporadic_loss_hits_a_few_controls_and_mutants_and_is_not_inherited(messy, clean):
    data = _joined(messy)
    hit = data["sporadic_loss"].ne("none")
    assert hit[data["is_control"]].mean() == pytest.approx(0.03, abs=0.01)
    assert hit[~data["is_control"]].mean() == pytest.approx(0.045, abs=0.008)
    assert set(data.loc[hit, "sporadic_loss"]) == {"flat", "tonal"}
    assert data.loc[hit, "sporadic_shift_db"].between(10, 30).all()
    assert data.loc[~hit, "sporadic_shift_db"].eq(0).all()
    assert not data.loc[data["is_control"], "affected"].any()
    # visible as a shift against the centre's controls: flat everywhere, tonal mostly high
    controls = data.loc[data["is_control"]]
    baseline = controls.loc[controls["sporadic_loss"].eq("none")].groupby(schema.CENTRE)[TONES]
    shift = controls[TONES].to_numpy() - baseline.median().loc[controls[schema.CENTRE]].to_numpy()
    flat = np.nanmean(shift[controls["sporadic_loss"].eq("flat").to_numpy()], axis=0)
    tonal = np.nanmean(shift[controls["sporadic_loss"].eq("tonal").to_numpy()], axis=0)
    assert flat.min() > 10 and tonal[3:].mean() > tonal[:2].mean() + 5
    assert clean[1]["sporadic_loss"].eq("none").all()


# --- planted phenotypes -------------------------------------------------------------------


def _lines(truth: pd.DataFrame) -> pd.DataFrame:
    mutants = truth.loc[~truth["is_control"]]
    return mutants.groupby(schema.LINE_ID).agg(
        pattern=("planted_pattern", "first"),
        gene_pattern=("gene_pattern", "first"),
        size_db=("line_effect_db", "first"),
        penetrance=("line_penetrance", "first"),
        affected=("affected", "mean"),
    )


def test_about_4_percent_of_lines_carry_patterns_with_partial_penetrance(messy):
    truth = messy[1]
    lines = _lines(truth)
    planted = lines["pattern"] != NO_PATTERN
    assert planted.mean() == pytest.approx(0.04, abs=0.004)
    assert lines.loc[planted, "penetrance"].between(0.6, 1.0).all()
    assert lines.loc[planted, "affected"].min() > 0
    assert lines.loc[planted, "affected"].mean() == pytest.approx(0.83, abs=0.07)
    assert not truth.loc[truth["planted_pattern"].eq(NO_PATTERN), "affected"].any()
    assert lines.loc[~planted, ["size_db", "penetrance"]].eq(0).all().all()


def test_effect_sizes_vary_by_line_within_each_patterns_range_and_by_mouse(heavy):
    truth = generate_synthetic_export(6000, seed=3, settings=heavy)[1]
    lines = _lines(truth)
    planted = lines.loc[lines["pattern"] != NO_PATTERN]
    assert set(planted["pattern"]) == set(PATTERN_SHAPES)
    assert planted["pattern"].value_counts().idxmax() == "high_frequency"
    ranges = np.array([heavy.planted.patterns[p].size_db for p in planted["pattern"]])
    place = (planted["size_db"] - ranges[:, 0]) / (ranges[:, 1] - ranges[:, 0])
    assert place.between(0, 1).all() and place.std() == pytest.approx(0.29, abs=0.05)  # uniform
    affected = truth.loc[truth["affected"]]
    ratio = affected["mouse_effect_db"] / affected["line_effect_db"]
    assert ratio.std() == pytest.approx(0.15, abs=0.03)  # each mouse spreads around its line


def test_without_variation_every_line_of_a_pattern_has_the_same_size(settings):
    fixed = _changed(settings, "planted", sizes_vary_by_line=False, mouse_spread=0.0)
    truth = generate_synthetic_export(4000, seed=2, settings=fixed)[1]
    lines = _lines(truth)
    planted = lines.loc[lines["pattern"] != NO_PATTERN]
    for pattern, rows in planted.groupby("pattern"):
        assert rows["size_db"].eq(np.mean(settings.planted.patterns[pattern].size_db)).all()
    affected = truth.loc[truth["affected"]]
    assert affected["mouse_effect_db"].eq(affected["line_effect_db"]).all()


def _gene_has_homozygote(truth: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per line: its zygosity, and whether its gene has a homozygote line."""
    parts = _lines(truth).index.to_series().str.split("|", expand=True)
    gene, zygosity = parts[0], parts[2]
    return zygosity, gene.map(zygosity.eq("homozygote").groupby(gene).any())


def test_recessive_heterozygote_lines_carry_none_when_the_gene_has_a_homozygote_line(heavy):
    truth = generate_synthetic_export(6000, seed=3, settings=heavy)[1]
    lines = _lines(truth)
    zygosity, has_homozygote = _gene_has_homozygote(truth)
    gene_planted = lines["gene_pattern"] != NO_PATTERN
    silent = gene_planted & zygosity.eq("heterozygote") & has_homozygote
    assert silent.sum() >= 5
    assert lines.loc[silent, "pattern"].eq(NO_PATTERN).all()
    assert lines.loc[silent, "size_db"].eq(0).all()
    expressed = lines.loc[gene_planted & ~silent]
    assert expressed["pattern"].eq(expressed["gene_pattern"]).all()
    dominant = _changed(heavy, "planted", recessive=False)
    lines = _lines(generate_synthetic_export(6000, seed=3, settings=dominant)[1])
    assert lines["pattern"].eq(lines["gene_pattern"]).all()


def test_planted_patterns_shift_the_expected_frequencies(clean):
    data = _joined(clean)
    controls = data.loc[data["is_control"]]
    baseline = controls.groupby(schema.CENTRE)[THRESHOLDS].median()
    shift = data[THRESHOLDS].to_numpy() - baseline.loc[data[schema.CENTRE]].to_numpy()
    mean_shift = {
        pattern: np.nanmean(shift[(data["planted_pattern"].eq(pattern) & data["affected"])], 0)
        for pattern in ("high_frequency", "low_frequency", "profound")
    }
    assert mean_shift["high_frequency"][4] - mean_shift["high_frequency"][0] >= 30
    assert mean_shift["low_frequency"][0] - mean_shift["low_frequency"][4] >= 20
    assert mean_shift["profound"].min() >= 40
    unaffected = (data["planted_pattern"] == NO_PATTERN).to_numpy()
    assert np.abs(np.nanmean(shift[unaffected], axis=0)).max() <= 3
