"""ContrastiveVAE-DEC as plain torch modules.

Encoder: ABR thresholds as frequency tokens -> frequency attention -> ABR embedding (16);
PCA scores (and, in the training guide's design, the metadata's embeddings) -> a second
branch (24); both (40) -> hidden layers -> mean and log-variance of the latent. The decoder
takes the latent (and the nuisance covariates, when configured), mirrors the encoder back
to 40 dims and splits into ABR, metadata and PCA heads. A Student's-t layer soft-assigns
the latent means (blended, with ``assignment_line_pooling``, with the latent mean of the
mouse's line) to the cluster centres (model/clustering_layer.py).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from audiometric_clustering.model.attention import FrequencyAttention
from audiometric_clustering.model.clustering_layer import ClusteringLayer
from audiometric_clustering.model.config import ModelConfig
from audiometric_clustering.model.inputs import MouseTensors

#: Logit given to category slots a column does not have (its vocabulary is shorter than the
#: longest one); large and finite so that softmax gives them zero without inf arithmetic.
_ABSENT_CATEGORY_LOGIT = -1.0e4


def _mlp(widths: list[int], dropout: float) -> nn.Sequential:
    """Linear + ReLU per step; dropout only when asked for (a p=0 dropout still costs time)."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class CategoricalEmbedding(nn.Module):
    """Learned embeddings of some categorical columns, concatenated.

    The columns share one table (each column offset into its own rows), so the lookup is a
    single gather instead of one per column.
    """

    def __init__(self, cardinalities: list[int], columns: list[int], embedding_dim: int) -> None:
        super().__init__()
        sizes = [cardinalities[column] for column in columns]
        self.width = len(columns) * embedding_dim
        self.table = nn.Embedding(sum(sizes), embedding_dim)
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.long), persistent=False)
        offsets = torch.tensor([0, *sizes[:-1]], dtype=torch.long).cumsum(0)[: len(sizes)]
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, categorical: Tensor) -> Tensor:
        codes = categorical.index_select(1, self.columns)
        # index_select: same lookup as the module call, with a backward twice as fast on CPU
        rows = (codes + self.offsets).reshape(-1)
        return self.table.weight.index_select(0, rows).view(len(categorical), self.width)


class MetadataEncoder(nn.Module):
    """The encoder's second branch: the PCA scores and, with ``encoder_metadata``, embeddings
    of the categorical metadata and the continuous ones (age, weight)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.categories = None
        width = config.n_pca
        if config.encoder_metadata:
            columns = list(range(len(config.categorical_cardinalities)))
            self.categories = CategoricalEmbedding(
                config.categorical_cardinalities, columns, config.categorical_embedding_dim
            )
            width += self.categories.width + config.n_continuous
        self.project = nn.Sequential(nn.Linear(width, config.metadata_embedding_dim), nn.ReLU())

    def forward(self, categorical: Tensor, continuous: Tensor, pca: Tensor) -> Tensor:
        if self.categories is None:
            return self.project(pca)
        return self.project(torch.cat([self.categories(categorical), continuous, pca], dim=1))


class ModelOutput(NamedTuple):
    """One forward pass. ``abr`` is in dB; ``pca`` is standardised (see ``standardise_pca``)."""

    mean: Tensor
    log_variance: Tensor
    latent: Tensor
    abr: Tensor
    continuous: Tensor
    categorical_logits: Tensor  # (B, n_categorical, max cardinality)
    pca: Tensor
    log_assignment: Tensor | None


class ContrastiveVAEDEC(nn.Module):
    """VAE with frequency-attention ABR encoder, metadata embeddings and a DEC clustering layer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n_freq, token_dim = config.n_frequencies, config.frequency_token_dim
        joint_width = config.abr_embedding_dim + config.metadata_embedding_dim
        self.frequency_attention = FrequencyAttention(n_freq, token_dim, config.attention_heads)
        self.abr_encoder = nn.Linear(n_freq * token_dim, config.abr_embedding_dim)
        self.metadata_encoder = MetadataEncoder(config)
        self.encoder = _mlp([joint_width, *config.hidden_dims], config.dropout)
        self.to_latent = nn.Linear(config.hidden_dims[-1], 2 * config.latent_dim)
        # Nuisance covariates condition the decoder (as scVI conditions on batch), so the
        # latent need not carry what only they explain (a centre's baseline or ceiling).
        self.covariates, covariate_width = None, 0
        if config.decoder_covariates:
            self.covariates = CategoricalEmbedding(
                config.categorical_cardinalities,
                config.covariate_columns,
                config.categorical_embedding_dim,
            )
            covariate_width = self.covariates.width
        self.decoder = _mlp(
            [config.latent_dim + covariate_width, *reversed(config.hidden_dims), joint_width],
            config.dropout,
        )
        n_categorical = len(config.categorical_cardinalities)
        self.max_cardinality = max(config.categorical_cardinalities, default=1)
        self.abr_head = nn.Linear(config.abr_embedding_dim + covariate_width, n_freq)
        # The metadata head: continuous values, then one logit row per categorical column.
        self.metadata_head = nn.Linear(
            config.metadata_embedding_dim,
            config.n_continuous + n_categorical * self.max_cardinality,
        )
        self.pca_head = nn.Linear(config.metadata_embedding_dim, config.n_pca)
        # n_clusters None: cluster_init chooses the count and rebuilds the layer; until then
        # it holds the normal cluster and one phenotype centre
        self.clustering = ClusteringLayer(
            config.n_clusters or 2, config.latent_dim, config.student_t_alpha, config.normal_cluster
        )
        self.abr_low, abr_high = config.abr_range_db
        self.abr_span = abr_high - self.abr_low
        absent = torch.zeros(n_categorical, self.max_cardinality)
        for column, cardinality in enumerate(config.categorical_cardinalities):
            absent[column, cardinality:] = _ABSENT_CATEGORY_LOGIT
        self.register_buffer("absent_category_bias", absent, persistent=False)
        # Input scaling of the PCA features, fitted on the training mice (set_pca_scaling).
        self.register_buffer("pca_mean", torch.zeros(config.n_pca))
        self.register_buffer("pca_scale", torch.ones(config.n_pca))

    def set_pca_scaling(self, pca: Tensor) -> None:
        """Standardise PCA inputs and targets with these mice's mean and spread.

        The PCA scores come in the units of the features they summarise (tens of dB); without
        scaling they would dwarf the other inputs and the PCA reconstruction term.
        """
        self.pca_mean.copy_(pca.mean(0))
        self.pca_scale.copy_(pca.std(0).clamp_min(1e-6))

    def standardise_pca(self, pca: Tensor) -> Tensor:
        return (pca - self.pca_mean) / self.pca_scale

    def check_categorical_codes(self, categorical: Tensor) -> None:
        """Codes beyond a column's vocabulary would silently read another column's embeddings."""
        limits = torch.tensor(self.config.categorical_cardinalities, device=categorical.device)
        if categorical.numel() and (
            bool((categorical < 0).any()) or bool((categorical >= limits).any())
        ):
            highest = categorical.amax(0).tolist()
            raise ValueError(
                f"categorical codes out of range: per-column maxima {highest}, cardinalities "
                f"{self.config.categorical_cardinalities} (codes must be 0..cardinality-1)"
            )

    def encode(self, inputs: MouseTensors) -> tuple[Tensor, Tensor]:
        """Latent mean and log-variance of these mice."""
        abr = inputs.abr
        if self.config.line_shrinkage:  # a mouse read partly as its line's audiogram
            abr = torch.lerp(abr, inputs.line_abr, self.config.line_shrinkage)
        level = ((abr - self.abr_low) / self.abr_span).T.contiguous()
        observed = inputs.observed if self.config.encoder_observed else torch.ones_like(level.T)
        tokens = self.frequency_attention(level, observed.T.contiguous())
        abr_embedding = torch.addmm(
            self.abr_encoder.bias.unsqueeze(1),
            self.abr_encoder.weight,
            tokens.view(-1, tokens.shape[-1]),
        ).T.relu()
        metadata_embedding = self.metadata_encoder(
            inputs.categorical, inputs.continuous, self.standardise_pca(inputs.pca)
        )
        hidden = self.encoder(torch.cat([abr_embedding, metadata_embedding], dim=1))
        mean, log_variance = self.to_latent(hidden).chunk(2, dim=1)
        # Clamped so exp() stays finite in fp16 and the KL cannot explode early in training.
        return mean, log_variance.clamp(-10.0, 10.0)

    def assignment_latent(self, inputs: MouseTensors, mean: Tensor) -> Tensor:
        """Where the clusters read a mouse: its latent mean moved ``assignment_line_pooling``
        of the way to the latent mean of its line's mean audiogram (a control stays put).

        A line's mice share the knockout, so their mean is the phenotype with a fraction of
        each mouse's noise; the encoder's own ``line_shrinkage`` blends only the thresholds,
        while this blends everything the latent holds. Costs one more encoder pass.
        """
        pooling = self.config.assignment_line_pooling
        if not pooling:
            return mean
        line_mean, _ = self.encode(inputs.as_line())
        return torch.lerp(mean, line_mean, pooling)

    def log_assignment(self, inputs: MouseTensors, mean: Tensor) -> Tensor:
        """log q (B, K) of these mice, whose latent means are ``mean``."""
        return self.clustering.log_assignment(self.assignment_latent(inputs, mean))

    def decode(self, latent: Tensor, categorical: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """ABR in dB (inside ``abr_range_db``), continuous, categorical logits, standardised
        PCA; ``categorical`` gives the decoder its covariates."""
        covariates = None if self.covariates is None else self.covariates(categorical)
        hidden = self.decoder(latent if covariates is None else torch.cat([latent, covariates], 1))
        abr_hidden, metadata_hidden = hidden.split(
            [self.config.abr_embedding_dim, self.config.metadata_embedding_dim], dim=1
        )
        if covariates is not None:
            abr_hidden = torch.cat([abr_hidden, covariates], dim=1)
        abr = torch.sigmoid(self.abr_head(abr_hidden)) * self.abr_span + self.abr_low
        continuous, logits = self.metadata_head(metadata_hidden).tensor_split(
            [self.config.n_continuous], dim=1
        )
        logits = logits.view(len(latent), -1, self.max_cardinality) + self.absent_category_bias
        return abr, continuous, logits, self.pca_head(metadata_hidden)

    def forward(
        self, inputs: MouseTensors, *, sample: bool = True, assign: bool = False
    ) -> ModelOutput:
        """Encode, sample (reparameterisation trick) or take the mean, decode, optionally assign."""
        mean, log_variance = self.encode(inputs)
        latent = (
            torch.addcmul(mean, torch.randn_like(mean), torch.exp(0.5 * log_variance))
            if sample
            else mean
        )
        abr_hat, continuous_hat, logits, pca_hat = self.decode(latent, inputs.categorical)
        # Clusters assign the latent mean: the deterministic position that the full-data
        # pass behind the DEC target also uses, so P and Q describe the same points.
        log_assignment = self.log_assignment(inputs, mean) if assign else None
        return ModelOutput(
            mean, log_variance, latent, abr_hat, continuous_hat, logits, pca_hat, log_assignment
        )
