"""Categories unseen in training: counted per column and mouse, never fatal."""

from __future__ import annotations

import numpy as np

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.preprocessing import apply_preprocessor, fit_preprocessor
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.inference.categories import (
    describe_unseen,
    unseen_columns_per_mouse,
    unseen_mask,
    unseen_value_counts,
)
from tests.impc.frames import export, mice
from tests.parameters import parameters

PARAMS = parameters("data_processing") | {
    "feature_range_db": [0.0, 100.0],
    "n_pca_components": 2,
    "pca_scale": "harmonised",
    "control_reference": {
        "enabled": True,
        "match_columns": [schema.CENTRE],
        "min_group_controls": 1,
        "concurrent_controls": True,
        "concurrent_controls_on_controls": True,
    },
    "reference_range": {"width_sd": 1.5, "min_controls": 2},
}


def _state() -> dict:
    training = export(mice(4, control=True), mice(4, gene="G1"), mice(4, centre="B", gene="G2"))
    return fit_preprocessor(training, DataProcessingSettings.from_params(PARAMS))


def test_new_centre_and_equipment_are_unseen_but_missing_values_are_not() -> None:
    new = export(
        mice(2, gene="G1"),
        mice(3, centre="NEW", gene="G3", **{schema.EQUIPMENT_MODEL: "RZ9"}),
        mice(1, gene="G4", **{schema.SEX: None}),
    )
    mask = unseen_mask(new, _state())
    assert mask.sum().to_dict() == {
        schema.SEX: 0,
        schema.ZYGOSITY: 0,
        schema.BACKGROUND: 0,
        schema.CENTRE: 3,
        schema.PIPELINE: 3,  # "NEW pipeline"
        schema.EQUIPMENT_MANUFACTURER: 0,
        schema.EQUIPMENT_MODEL: 3,
    }
    assert unseen_value_counts(new, mask) == {
        schema.CENTRE: {"NEW": 3},
        schema.PIPELINE: {"NEW pipeline": 3},
        schema.EQUIPMENT_MODEL: {"RZ9": 3},
    }
    per_mouse = unseen_columns_per_mouse(mask)
    assert per_mouse[:2].tolist() == ["", ""] and per_mouse[-1] == ""
    assert per_mouse[2] == (f"{schema.CENTRE};{schema.PIPELINE};{schema.EQUIPMENT_MODEL}")


def test_unseen_values_are_exactly_the_ones_encoded_as_unknown() -> None:
    state = _state()
    new = export(mice(2, gene="G1"), mice(3, centre="NEW", gene="G3", control=True))
    encoded = apply_preprocessor(new, state)
    mask = unseen_mask(new, state)
    for feature, column in state["categorical_columns"].items():
        assert np.array_equal(encoded[feature].to_numpy() == 0, mask[column].to_numpy()), column


def test_warning_text_names_columns_counts_and_values() -> None:
    text = describe_unseen({schema.CENTRE: {"NEW": 3, "OTHER": 1}}, 10)
    assert "phenotyping_center: 4 mice ('NEW', 'OTHER')" in text and "10 mice" in text
    many = describe_unseen({schema.CENTRE: {f"C{i}": 1 for i in range(7)}}, 7)
    assert "'C4', ..." in many and "'C5'" not in many
