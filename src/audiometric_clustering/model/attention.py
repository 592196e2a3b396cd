"""Frequency attention: each threshold a token, every frequency attending to the others.

Batch-last throughout: with six tokens of width eight, standard (B, H, T, d) attention runs
as thousands of tiny matrix products and is slow on a CPU; with the batch as the innermost,
contiguous axis every operation is a wide vectorised loop over mice.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def _contract(left: Tensor, right: Tensor, axis: int) -> Tensor:
    """sum over k of left[..., k, ...] * right[..., k, ...], looping over the short axis.

    Accumulating one slice at a time keeps every temporary the size of the result (which
    stays in cache) instead of materialising the full broadcast product.
    """
    lefts, rights = left.unbind(axis), right.unbind(axis)
    total = lefts[0] * rights[0]
    for left_slice, right_slice in zip(lefts[1:], rights[1:], strict=True):
        total.addcmul_(left_slice, right_slice)
    return total


class _TokenAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(d)) v across tokens, batch-last: q, k, v are (H, d, T, B).

    With six tokens of width four, standard (B, H, T, d) attention runs as thousands of tiny
    matrix products and is slow on a CPU; with the batch as the innermost, contiguous axis
    every operation is a wide vectorised loop over mice. The contractions over the head
    width and over tokens loop over those short axes (see ``_contract``); the backward is
    written out because autograd's generic one for these broadcasts is twice as slow.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(ctx: Any, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        scale = query.shape[1] ** -0.5
        # scores[h, i, j, b] = sum_d q[h, d, i, b] k[h, d, j, b]
        scores = _contract(query.unsqueeze(3), key.unsqueeze(2), axis=1).mul_(scale)
        weights = torch.softmax(scores, dim=2)
        ctx.save_for_backward(query, key, value, weights)
        # out[h, d, i, b] = sum_j w[h, i, j, b] v[h, d, j, b]
        return _contract(weights.unsqueeze(1), value.unsqueeze(2), axis=3)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        query, key, value, weights = ctx.saved_tensors
        scale = query.shape[1] ** -0.5
        grad_weights = _contract(grad_out.unsqueeze(3), value.unsqueeze(2), axis=1)
        grad_value = _contract(weights.unsqueeze(1), grad_out.unsqueeze(3), axis=2)
        row_dot = (grad_weights * weights).sum(2, keepdim=True)
        grad_scores = weights * (grad_weights - row_dot) * scale
        grad_query = _contract(grad_scores.unsqueeze(1), key.unsqueeze(2), axis=3)
        grad_key = _contract(grad_scores.unsqueeze(1), query.unsqueeze(3), axis=2)
        return grad_query, grad_key, grad_value


class FrequencyAttention(nn.Module):
    """Multi-head self-attention across the frequency tokens of one audiogram.

    Each threshold becomes a token: its level and its observed flag projected with weights of
    its own frequency, plus a learned frequency embedding. Attention lets every frequency see
    the others, so the block can represent audiogram shape (e.g. high frequencies worse than
    low) rather than six independent levels. A residual keeps each token's own level.

    Works batch-last: takes (F, B) inputs and returns tokens as (token_dim, F, B).
    """

    def __init__(self, n_frequencies: int, token_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.level_weight = nn.Parameter(torch.randn(token_dim, n_frequencies, 1))
        self.observed_weight = nn.Parameter(torch.randn(token_dim, n_frequencies, 1))
        self.frequency_embedding = nn.Parameter(0.1 * torch.randn(token_dim, n_frequencies, 1))
        self.qkv = nn.Linear(token_dim, 3 * token_dim)
        self.out = nn.Linear(token_dim, token_dim)

    def forward(self, level: Tensor, observed: Tensor) -> Tensor:
        """``level`` and ``observed``: (F, B) in [0, 1]; returns (token_dim, F, B)."""
        tokens = torch.addcmul(self.frequency_embedding, self.level_weight, level)
        tokens = torch.addcmul(tokens, self.observed_weight, observed)
        width, n_tokens, batch = tokens.shape
        flat = tokens.view(width, n_tokens * batch)
        qkv = torch.addmm(self.qkv.bias.unsqueeze(1), self.qkv.weight, flat)
        query, key, value = qkv.view(3, self.heads, width // self.heads, n_tokens, batch).unbind(0)
        attended = _TokenAttention.apply(query, key, value).reshape(width, n_tokens * batch)
        update = torch.addmm(self.out.bias.unsqueeze(1), self.out.weight, attended)
        return tokens + update.view(width, n_tokens, batch)
