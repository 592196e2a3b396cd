from audiometric_clustering.impc import schema
from audiometric_clustering.impc.cohort import build_cohort
from audiometric_clustering.impc.validation import validate_export


def _cohort(frame, seed=42, fraction=0.2):
    clean, _ = validate_export(frame, n_clusters=12, min_line_size=3)
    return build_cohort(clean, min_line_size=3, validation_fraction=fraction, seed=seed)


def test_split_keeps_every_line_whole_and_holds_out_the_requested_share(synthetic_export):
    cohort, summary = _cohort(synthetic_export)
    mutants = cohort.loc[~cohort[schema.IS_CONTROL]]
    assert mutants.groupby(schema.LINE_ID)[schema.SPLIT].nunique().eq(1).all()
    lines = summary["split"]["train"]["lines"] + summary["split"]["validation"]["lines"]
    assert summary["split"]["validation"]["lines"] == round(0.2 * lines)
    controls = summary["split"]["train"]["controls"] + summary["split"]["validation"]["controls"]
    assert summary["split"]["validation"]["controls"] == round(0.2 * controls)


def test_split_depends_on_the_seed_not_on_row_order(synthetic_export):
    cohort, _ = _cohort(synthetic_export)
    shuffled, _ = _cohort(synthetic_export.sample(frac=1.0, random_state=3))
    by_id = cohort.set_index(schema.SPECIMEN_ID)[schema.SPLIT]
    assert (
        shuffled.set_index(schema.SPECIMEN_ID)[schema.SPLIT].sort_index().equals(by_id.sort_index())
    )
    other, _ = _cohort(synthetic_export, seed=43)
    assert (
        not other.set_index(schema.SPECIMEN_ID)[schema.SPLIT]
        .sort_index()
        .equals(by_id.sort_index())
    )


def test_small_lines_are_dropped_and_counted(real_sample):
    from audiometric_clustering.impc.readers import read_export

    cohort, summary = _cohort(read_export(real_sample), fraction=0.1)
    assert summary["controls"] == 248
    assert summary["line_size_histogram"] == {1: 665, 2: 42, 3: 1}
    assert summary["lines_kept"] == 1 and summary["mutants"] == 3
    assert summary["mutants_dropped_by_line_size"] == 749
    assert len(cohort) == 251
