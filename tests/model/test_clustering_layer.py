"""The clustering layer with a normal cluster anchored on the controls."""

from __future__ import annotations

import pytest
import torch

from audiometric_clustering.model.clustering_layer import ClusteringLayer


def controls_and_phenotypes(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """4,000 controls spread unevenly in 3 latent dimensions around (1, -2, 0.5), and two
    phenotype centres far out along the first and second axes."""
    generator = torch.Generator().manual_seed(seed)
    controls = torch.randn(4000, 3, generator=generator) * torch.tensor([3.0, 0.5, 1.0])
    controls += torch.tensor([1.0, -2.0, 0.5])
    centres = torch.tensor([[25.0, -2.0, 0.5], [1.0, 3.0, 0.5]])
    return controls, centres


def anchored_layer(share: float = 0.05) -> tuple[ClusteringLayer, torch.Tensor]:
    controls, centres = controls_and_phenotypes()
    layer = ClusteringLayer(n_clusters=3, latent_dim=3, alpha=1.0, normal_cluster=True)
    with torch.no_grad():
        layer.centres.copy_(centres)
    layer.anchor(controls, share)
    return layer, controls


@pytest.mark.parametrize("share", [0.02, 0.05, 0.2])
def test_the_normal_cluster_leaves_the_set_share_of_controls_to_phenotypes(share) -> None:
    layer, controls = anchored_layer(share)
    outside = (layer.log_assignment(controls).argmax(1) != 0).float().mean()
    assert outside == pytest.approx(share, abs=0.002)


def test_the_anchor_is_the_controls_median_and_spread() -> None:
    layer, controls = anchored_layer()
    torch.testing.assert_close(layer.normal_centre, controls.median(0).values)
    white = (controls - layer.normal_centre) @ layer.whitening
    # whitened, the controls vary alike in every direction, with unit variance
    torch.testing.assert_close(torch.cov(white.T), torch.eye(3), atol=2e-3, rtol=0)
    torch.testing.assert_close(layer.cluster_centres()[0], layer.normal_centre)
    torch.testing.assert_close(layer.cluster_centres()[1:], layer.centres.detach())


def test_anchored_assignment_matches_formula() -> None:
    """Student's t (alpha = 1) on Mahalanobis distances, the normal cluster's logit biased."""
    layer, controls = anchored_layer()
    points = torch.tensor([[1.0, -2.0, 0.5], [24.0, -2.0, 0.5], [1.0, 2.5, 0.0], [3.0, -1.5, 0.5]])
    precision = layer.whitening.double() @ layer.whitening.double().T
    median = controls.double().median(0).values

    def squared_mahalanobis(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        difference = a.double() - b.double()
        return torch.einsum("...i,ij,...j->...", difference, precision, difference)

    normal = -torch.log1p(squared_mahalanobis(points, median)) + layer.normal_bias.double()
    phenotypes = [-torch.log1p(squared_mahalanobis(points, centre)) for centre in layer.centres]
    expected = torch.stack([normal, *phenotypes], dim=1).softmax(1)
    assignment = layer.log_assignment(points).exp().double()
    torch.testing.assert_close(assignment, expected, rtol=1e-4, atol=1e-6)
    assert layer.log_assignment(points).argmax(1).tolist() == [0, 1, 2, 0]


def test_anchoring_refuses_too_few_controls() -> None:
    layer = ClusteringLayer(n_clusters=3, latent_dim=3, alpha=1.0, normal_cluster=True)
    with pytest.raises(ValueError, match="more controls than dimensions \\(3\\), got 3"):
        layer.anchor(torch.randn(3, 3), 0.05)
    plain = ClusteringLayer(n_clusters=3, latent_dim=3, alpha=1.0, normal_cluster=False)
    assert plain.centres.shape == (3, 3) and plain.cluster_centres() is plain.centres
    with pytest.raises(ValueError, match="normal cluster"):
        plain.anchor(torch.randn(100, 3), 0.05)
