import pandas as pd

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.lines import build_line_id, in_kept_line, is_control
from tests.impc.frames import export, mice


def test_controls_are_found_by_sample_group_not_zygosity():
    frame = export(
        mice(1, control=True, zygosity="homozygote"),
        mice(1, control=True, biological_sample_group=" Control "),
        mice(1, zygosity="wildtype"),
    )
    assert is_control(frame).tolist() == [True, True, False]


def test_line_id_joins_gene_allele_zygosity_centre_and_is_empty_for_controls():
    frame = export(mice(1, gene="Gsk3a", centre="HMGU"), mice(1, control=True))
    assert build_line_id(frame).tolist() == ["Gsk3a|Gsk3a<tm1>|homozygote|HMGU", ""]


def test_line_id_is_missing_when_a_mutant_lacks_its_allele():
    frame = export(mice(1, allele_symbol=None))
    assert build_line_id(frame).isna().all()


def test_kept_lines_need_the_minimum_number_of_mice():
    line_id = pd.Series(["a", "a", "a", "b", "b", "", None])
    assert in_kept_line(line_id, 3).tolist() == [True, True, True, False, False, False, False]
    assert schema.LINE_ID == build_line_id(export(mice(1))).name
