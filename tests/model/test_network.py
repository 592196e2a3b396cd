"""The ContrastiveVAE-DEC modules: shapes, ranges, attention maths, configuration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    PCA_FEATURES,
)
from audiometric_clustering.model import (
    ContrastiveVAEDEC,
    ModelConfig,
    MouseTensors,
    model_config_from,
)
from audiometric_clustering.model.attention import FrequencyAttention, _TokenAttention
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.model.inputs import line_means
from tests.parameters import parameters
from tests.training.synthetic_frame import make_model_input

CARDINALITIES = [3, 3, 4, 5, 5, 4, 6]


def _inputs(n: int = 32, seed: int = 0) -> MouseTensors:
    generator = torch.Generator().manual_seed(seed)
    return MouseTensors(
        abr=torch.rand(n, 6, generator=generator) * 100,
        observed=(torch.rand(n, 6, generator=generator) > 0.2).float(),
        continuous=torch.randn(n, 2, generator=generator),
        categorical=torch.stack(
            [torch.randint(0, c, (n,), generator=generator) for c in CARDINALITIES], dim=1
        ),
        pca=torch.randn(n, 2, generator=generator) * 30,
        line=torch.full((n,), -1),
        line_abr=torch.rand(n, 6, generator=generator) * 100,
        line_pca=torch.randn(n, 2, generator=generator) * 30,
    )


def _config(**changes) -> ModelConfig:
    """The default sizes of conf/base/parameters_model.yml, with ``changes``."""
    settings = ModelSettings.from_params(parameters("model") | changes)
    return ModelConfig(categorical_cardinalities=CARDINALITIES, **settings.model_dump())


@pytest.fixture
def model() -> ContrastiveVAEDEC:
    torch.manual_seed(0)
    return ContrastiveVAEDEC(_config())


def test_forward_shapes_and_ranges(model: ContrastiveVAEDEC) -> None:
    out = model(_inputs(), sample=True, assign=True)
    assert out.mean.shape == out.log_variance.shape == out.latent.shape == (32, 10)
    assert out.abr.shape == (32, 6)
    assert ((out.abr >= 0) & (out.abr <= 100)).all()
    assert out.continuous.shape == (32, 2) and out.pca.shape == (32, 2)
    assert out.categorical_logits.shape == (32, 7, max(CARDINALITIES))
    assignment = out.log_assignment.exp()
    assert assignment.shape == (32, len(model.clustering.cluster_centres()))
    torch.testing.assert_close(assignment.sum(1), torch.ones(32))


def test_absent_category_slots_get_no_probability(model: ContrastiveVAEDEC) -> None:
    probabilities = model(_inputs()).categorical_logits.softmax(-1)
    for column, cardinality in enumerate(CARDINALITIES):
        assert probabilities[:, column, cardinality:].sum() < 1e-6
        torch.testing.assert_close(probabilities[:, column, :cardinality].sum(-1), torch.ones(32))


def test_sampling_only_when_asked(model: ContrastiveVAEDEC) -> None:
    inputs = _inputs()
    deterministic = model(inputs, sample=False)
    sampled = model(inputs, sample=True)
    assert torch.equal(deterministic.latent, deterministic.mean)
    assert not torch.allclose(sampled.latent, sampled.mean)
    torch.testing.assert_close(sampled.mean, deterministic.mean)


def test_student_t_assignment_matches_formula() -> None:
    torch.manual_seed(0)
    model = ContrastiveVAEDEC(_config(normal_cluster=False, n_clusters=12))
    latent = torch.randn(5, 10)
    distances = torch.cdist(latent, model.clustering.centres.detach()) ** 2
    kernel = 1.0 / (1.0 + distances)  # alpha = 1
    expected = kernel / kernel.sum(1, keepdim=True)
    torch.testing.assert_close(model.clustering.log_assignment(latent).exp(), expected)


def test_token_attention_equals_standard_attention() -> None:
    """The batch-last attention is ordinary scaled dot-product attention, with its gradient."""
    generator = torch.Generator().manual_seed(1)
    query, key, value = (
        torch.randn(2, 4, 6, 5, generator=generator, dtype=torch.float64) for _ in range(3)
    )
    ours = _TokenAttention.apply(query, key, value)
    as_standard = [t.permute(3, 0, 2, 1) for t in (query, key, value)]  # (B, H, T, d)
    reference = F.scaled_dot_product_attention(*as_standard).permute(1, 3, 2, 0)
    torch.testing.assert_close(ours, reference)
    small = tuple(t[:, :2, :3, :2].clone().requires_grad_() for t in (query, key, value))
    assert torch.autograd.gradcheck(_TokenAttention.apply, small)


def test_frequency_attention_mixes_information_across_frequencies() -> None:
    torch.manual_seed(0)
    block = FrequencyAttention(n_frequencies=6, token_dim=8, heads=2)
    level, observed = torch.rand(6, 4), torch.ones(6, 4)
    changed = level.clone()
    changed[5] += 0.5  # only the click threshold differs
    difference = (block(changed, observed) - block(level, observed)).abs()
    assert difference.shape == (8, 6, 4)
    assert difference[:, :5].sum() > 0  # the other frequencies' tokens see the change


SEED_GUIDE = {"encoder_metadata": True, "decoder_covariates": []}


@pytest.mark.parametrize("changes", [{}, SEED_GUIDE], ids=["default", "seed_guide"])
def test_gradients_reach_every_parameter(changes: dict) -> None:
    torch.manual_seed(0)
    model = ContrastiveVAEDEC(_config(**changes))
    out = model(_inputs(), assign=True)
    loss = sum(t.float().square().mean() for t in out if t is not None)
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_out_of_range_codes_are_refused(model: ContrastiveVAEDEC) -> None:
    categorical = _inputs().categorical
    categorical[3, 0] = CARDINALITIES[0]  # one past the first column's vocabulary
    with pytest.raises(ValueError, match="out of range"):
        model.check_categorical_codes(categorical)


def test_pca_scaling_standardises(model: ContrastiveVAEDEC) -> None:
    pca = torch.randn(200, 2) * torch.tensor([40.0, 5.0]) + torch.tensor([10.0, -3.0])
    model.set_pca_scaling(pca)
    standardised = model.standardise_pca(pca)
    torch.testing.assert_close(standardised.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(standardised.std(0), torch.ones(2))
    assert "pca_mean" in model.state_dict()


def test_config_from_parameters_and_vocabularies() -> None:
    vocabularies = {
        feature: [f"v{i}" for i in range(size - 1)]
        for feature, size in zip(CATEGORICAL_FEATURES, CARDINALITIES, strict=True)
    }
    sizes = ModelSettings.from_params(parameters("model") | {"n_clusters": 5, "latent_dim": 3})
    config = model_config_from(sizes, {"vocabularies": vocabularies})
    assert config.categorical_cardinalities == CARDINALITIES
    assert (config.n_clusters, config.latent_dim, config.n_frequencies) == (5, 3, 6)
    assert ModelConfig.from_dict(config.to_dict()) == config
    by_export_name = {
        export: vocabularies[feature]
        for export, feature in zip(CATEGORICAL_METADATA, CATEGORICAL_FEATURES, strict=True)
    }
    assert model_config_from(sizes, {"vocabularies": by_export_name}) == config
    with pytest.raises(KeyError, match="cat_sex"):
        model_config_from(sizes, {"vocabularies": {}})
    with pytest.raises(
        ValueError,
        match=r"unknown parameters \['n_cluster'\], missing parameters \['n_clusters'\]",
    ):
        values = {**parameters("model"), "n_cluster": 5}
        del values["n_clusters"]
        model_config_from(ModelSettings.from_params(values), {"vocabularies": vocabularies})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"attention_heads": 3},
            "model.frequency_token_dim = 8: expected divisible by attention_heads",
        ),
        ({"n_clusters": 0}, "model.n_clusters = 0: expected an integer >= 2"),
        (
            {"n_clusters": None, "normal_cluster": False},
            "model.n_clusters = None: expected an integer >= 2: cluster_init chooses the "
            "count only with normal_cluster: true",
        ),
        ({"normal_control_share": 0.5}, "model.normal_control_share = 0.5: expected a number"),
        ({"assignment_line_pooling": 1.5}, "model.assignment_line_pooling = 1.5: expected"),
        ({"latent_dim": 0}, "model.latent_dim = 0: expected an integer >= 1"),
        ({"hidden_dims": []}, "model.hidden_dims = \\[\\]: expected a non-empty list"),
        ({"dropout": 1.0}, "model.dropout = 1.0: expected a number in"),
    ],
)
def test_config_refuses_bad_sizes_naming_the_key(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**changes)


def test_the_latent_sees_only_what_the_configuration_allows() -> None:
    """By default the encoder never reads the metadata (a centre cannot enter the latent
    through it) and the decoder is conditioned on the nuisance covariates; the seed guide's
    design encodes the metadata and has no covariates."""
    torch.manual_seed(0)
    default, guide = ContrastiveVAEDEC(_config()), ContrastiveVAEDEC(_config(**SEED_GUIDE))
    inputs = _inputs()
    other_centre = MouseTensors(**{**vars(inputs), "categorical": inputs.categorical.clone()})
    other_centre.categorical[:, 3] = (inputs.categorical[:, 3] + 1) % CARDINALITIES[3]
    for model, latent_moves in ((default, False), (guide, True)):
        mean, _ = model.encode(inputs)
        moved, _ = model.encode(other_centre)
        assert (not torch.equal(mean, moved)) == latent_moves
    same_latent = torch.zeros(len(inputs), 10)
    decoded = default.decode(same_latent, inputs.categorical)[0]
    assert not torch.equal(decoded, default.decode(same_latent, other_centre.categorical)[0])
    with pytest.raises(ValueError, match="decoder_covariates"):
        _config(decoder_covariates=["centre"])


def test_line_means_use_measured_thresholds_of_the_line_only() -> None:
    abr = np.array([[10.0, 50.0], [30.0, 70.0], [90.0, 5.0], [40.0, 40.0]])
    observed = np.array([[1, 1], [1, 0], [1, 1], [1, 1]], dtype=bool)
    line = np.array([0, 0, -1, 1])
    means = line_means(abr, observed, line)
    np.testing.assert_allclose(means[:2], [[20.0, 50.0], [20.0, 50.0]])  # 70 was imputed
    np.testing.assert_allclose(means[2:], abr[2:])  # a control, and a line of one, keep their own
    assert means.dtype == np.float32 and means.flags.c_contiguous


def test_line_shrinkage_reads_a_mutant_partly_as_its_line() -> None:
    inputs = _inputs()
    torch.manual_seed(0)
    shrunk = ContrastiveVAEDEC(_config(line_shrinkage=1.0))
    as_line = MouseTensors(**{**vars(inputs), "abr": inputs.line_abr})
    torch.testing.assert_close(shrunk.encode(inputs)[0], shrunk.encode(as_line)[0])
    torch.manual_seed(0)
    own = ContrastiveVAEDEC(_config(line_shrinkage=0.0))
    assert not torch.allclose(own.encode(inputs)[0], own.encode(as_line)[0])


def test_the_clusters_read_a_mutant_partly_as_its_line() -> None:
    """``assignment_line_pooling`` moves the latent the clusters read towards the encoding of
    the line's mean audiogram and PCA scores; a control (its own line) does not move."""
    inputs = _inputs()
    as_line = inputs.as_line()
    assert torch.equal(as_line.abr, inputs.line_abr) and torch.equal(as_line.pca, inputs.line_pca)
    torch.manual_seed(0)
    model = ContrastiveVAEDEC(_config(assignment_line_pooling=0.5))
    mean, line_mean = model.encode(inputs)[0], model.encode(as_line)[0]
    torch.testing.assert_close(model.assignment_latent(inputs, mean), (mean + line_mean) / 2)
    torch.testing.assert_close(
        model.log_assignment(inputs, mean),
        model.clustering.log_assignment((mean + line_mean) / 2),
    )
    control = MouseTensors(**{**vars(inputs), "line_abr": inputs.abr, "line_pca": inputs.pca})
    own = model.encode(control)[0]
    torch.testing.assert_close(model.assignment_latent(control, own), own)
    alone = ContrastiveVAEDEC(_config(assignment_line_pooling=0.0))
    assert model.assignment_latent(inputs, mean) is not mean
    assert alone.assignment_latent(inputs, mean) is mean


def test_line_pca_is_the_mean_of_the_line() -> None:
    frame = make_model_input(200, seed=0)
    tensors = MouseTensors.from_frame(frame, "beyond_range")
    line = tensors.line.numpy()
    pca = frame[list(PCA_FEATURES)].to_numpy()
    for code in np.unique(line[line >= 0]):
        members = line == code
        line_pca = tensors.line_pca[members].numpy()
        np.testing.assert_allclose(line_pca, np.broadcast_to(pca[members].mean(0), line_pca.shape))
    controls = line < 0
    np.testing.assert_allclose(tensors.line_pca[controls].numpy(), pca[controls], rtol=1e-6)
