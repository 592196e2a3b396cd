"""The clustering layer: Student's-t soft assignment to cluster centres (as in DEC), with an
optional normal-hearing cluster anchored on the controls.

Plain, it has K free centres. Anchored (``model.normal_cluster``), cluster 0 is normal
hearing, described by the controls rather than learned: its centre is the controls' median
latent position and its metric their latent covariance. Clusters 1..K-1 are phenotypes with
free centres. Every distance is measured in the controls' whitened coordinates (a Mahalanobis
distance), so a departure counts by how unusual it would be for a control, and the normal
cluster's logit carries a bias calibrated so that a set share of the controls lie outside it.
Most mice hear normally; without the anchor DEC and k-means spend most centres cutting that
majority along whatever it varies with (centre baselines, cohorts).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Added to the controls' covariance (relative to its mean variance) before it is inverted:
#: keeps a dimension that the controls barely use from dominating every distance.
COVARIANCE_RIDGE = 1e-4


def control_whitening(points: Tensor) -> tuple[Tensor, Tensor]:
    """The median of ``points`` (N, d) and a matrix W that whitens their spread, float64:
    ``(x - median) @ W`` has unit covariance over the points.

    Tried and not kept: the spread of all but the furthest controls (those with a loss of
    their own), which made flat losses stand out more but lowered ARI over affected mice on
    data seeds 1-3 from 0.69 to 0.58 on average (docs/nuisance.md).
    """
    points = points.double()
    if len(points) <= points.shape[1]:
        raise ValueError(
            f"the normal cluster needs more controls than dimensions ({points.shape[1]}), "
            f"got {len(points)}"
        )
    covariance = torch.cov(points.T)
    ridge = COVARIANCE_RIDGE * covariance.diagonal().mean().clamp_min(1e-12)
    covariance += ridge * torch.eye(len(covariance), dtype=points.dtype, device=points.device)
    return points.median(0).values, torch.linalg.cholesky(torch.linalg.inv(covariance))


def student_t_logits(latent: Tensor, centres: Tensor, alpha: float) -> Tensor:
    """log of the unnormalised Student's-t kernel (1 + |z - mu|^2 / alpha)^(-(alpha + 1) / 2)."""
    # |z - mu|^2 = |z|^2 + |mu|^2 - 2 z.mu as one matrix product: the broadcast (B, K, d)
    # difference is several times slower on a CPU for d = 10
    norms = latent.square().sum(1, keepdim=True) + centres.square().sum(1)
    squared_distance = torch.addmm(norms, latent, centres.T, alpha=-2.0).clamp_min(0.0)
    return torch.log1p(squared_distance / alpha).mul(-0.5 * (alpha + 1.0))


class ClusteringLayer(nn.Module):
    """Cluster centres in latent space with Student's-t soft assignment (see the module).

    The heavy-tailed kernel q_ij ~ (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2) keeps
    far-away points from dominating the centres, which a Gaussian kernel would not.
    """

    def __init__(self, n_clusters: int, latent_dim: int, alpha: float, normal_cluster: bool):
        super().__init__()
        self.alpha = alpha
        self.normal_cluster = normal_cluster
        self.centres = nn.Parameter(torch.randn(n_clusters - int(normal_cluster), latent_dim))
        if normal_cluster:
            self.register_buffer("normal_centre", torch.zeros(latent_dim))
            self.register_buffer("whitening", torch.eye(latent_dim))
            self.register_buffer("normal_bias", torch.zeros(()))

    def logits(self, latent: Tensor) -> Tensor:
        """Unnormalised log q: (B, K); anchored, column 0 is normal hearing."""
        if not self.normal_cluster:
            return student_t_logits(latent, self.centres, self.alpha)
        white = (latent - self.normal_centre) @ self.whitening
        centres = (self.centres - self.normal_centre) @ self.whitening
        normal = torch.log1p(white.square().sum(1, keepdim=True) / self.alpha)
        normal = normal.mul(-0.5 * (self.alpha + 1.0)) + self.normal_bias
        return torch.cat([normal, student_t_logits(white, centres, self.alpha)], dim=1)

    def log_assignment(self, latent: Tensor) -> Tensor:
        """log q: (B, K), each row a log-probability vector over the clusters."""
        return torch.log_softmax(self.logits(latent), dim=1)

    def cluster_centres(self) -> Tensor:
        """Every cluster's centre in latent coordinates, (K, d): anchored, the controls'
        median first."""
        if not self.normal_cluster:
            return self.centres
        return torch.cat([self.normal_centre.unsqueeze(0), self.centres], dim=0)

    @torch.no_grad()
    def anchor(self, control_latent: Tensor, control_share: float) -> None:
        """Describe normal hearing by these controls' latent positions (their median and
        spread), then calibrate."""
        if not self.normal_cluster:
            raise ValueError("anchor() needs a clustering layer with a normal cluster")
        centre, whitening = control_whitening(control_latent)
        self.normal_centre.copy_(centre)
        self.whitening.copy_(whitening)
        self.calibrate(control_latent, control_share)

    @torch.no_grad()
    def calibrate(self, control_latent: Tensor, control_share: float) -> None:
        """Set the normal cluster's bias so that ``control_share`` of these controls are
        closer to some phenotype than to normal hearing (their hard cluster is not 0)."""
        self.normal_bias.zero_()
        logits = self.logits(control_latent.to(self.centres.dtype)).double()
        margin = logits[:, 1:].amax(1) - logits[:, 0]
        self.normal_bias.copy_(torch.quantile(margin, 1.0 - control_share))
