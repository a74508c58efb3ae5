"""The reference PyTorch network of a HAT SubTransformer (HAT's fairseq ``TransformerSuperModel``, one subnet).

The layers compute what HAT's ``transformer_super.py`` and ``multihead_attention_super.py``
compute for a sampled SubTransformer in eval mode, written as a standalone module with weights
of the SubTransformer's own sizes. Tensors are time-major ``(time, batch, channels)`` as in
fairseq. See :mod:`archscore.spaces.hat` for the network's input and what is (not) computed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from archscore.spaces.hat import (
    ARBITRARY_ENDE_LAYERS,
    BEAM,
    HAT,
    LN_EPS,
    QKV_DIM,
    TASKS,
    SubTransformer,
    Task,
    causal_mask,
    sinusoidal_positions,
)


class MultiheadAttention(nn.Module):
    """HAT's attention: projections to ``qkv_dim`` = 512 whatever the widths, ``heads`` heads of 512 / heads.

    Self-attention projects query, key and value with one packed matrix, as HAT does; encoder–decoder
    attention projects the query from the decoder and key and value from the encoder outputs.

    Shapes:
        query ``(tgt, batch, q_dim)``, memory ``(src, batch, kv_dim)`` → ``(tgt, batch, q_dim)``.
    """

    def __init__(self, q_dim: int, kv_dim: int, heads: int, self_attention: bool) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, QKV_DIM // heads
        self.self_attention = self_attention
        if self_attention:
            self.in_proj = nn.Linear(q_dim, 3 * QKV_DIM)
        else:
            self.q_proj = nn.Linear(q_dim, QKV_DIM)
            self.k_proj = nn.Linear(kv_dim, QKV_DIM)
            self.v_proj = nn.Linear(kv_dim, QKV_DIM)
        self.out_proj = nn.Linear(QKV_DIM, q_dim)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        tgt, batch, _ = query.shape
        if self.self_attention:
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:
            assert memory is not None
            q, k, v = self.q_proj(query), self.k_proj(memory), self.v_proj(memory)
        q = q * self.head_dim**-0.5
        bh = batch * self.heads
        q = q.contiguous().view(tgt, bh, self.head_dim).transpose(0, 1)
        k = k.contiguous().view(-1, bh, self.head_dim).transpose(0, 1)
        v = v.contiguous().view(-1, bh, self.head_dim).transpose(0, 1)
        scores = torch.bmm(q, k.transpose(1, 2))
        if mask is not None:
            scores = scores + mask
        out = torch.bmm(F.softmax(scores, dim=-1), v)
        return self.out_proj(out.transpose(0, 1).contiguous().view(tgt, batch, QKV_DIM))


class EncoderLayer(nn.Module):
    """Post-LayerNorm: self-attention, add, LayerNorm; FFN (ReLU), add, LayerNorm."""

    def __init__(self, dim: int, ffn: int, heads: int) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(dim, dim, heads, self_attention=True)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc1, self.fc2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.relu(self.fc1(x))))


class DecoderLayer(nn.Module):
    """Post-LayerNorm: masked self-attention; attention to the last 1–3 encoder layers; FFN (ReLU)."""

    def __init__(self, dim: int, encoder_dim: int, ffn: int, heads: int, ende_heads: int, arbitrary: int) -> None:
        super().__init__()
        self.ende_layers = ARBITRARY_ENDE_LAYERS[arbitrary]
        self.self_attn = MultiheadAttention(dim, dim, heads, self_attention=True)
        self.self_attn_layer_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.encoder_attn = MultiheadAttention(dim, encoder_dim, ende_heads, self_attention=False)
        self.encoder_attn_layer_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc1, self.fc2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
        self.final_layer_norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor, encoder_outs: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        # HAT: cat([encoder_out, encoder_out_all[-2], encoder_out_all[-3]][:k], dim=0), last layer first
        memory = encoder_outs[0] if self.ende_layers == 1 else torch.cat(encoder_outs[: self.ende_layers], dim=0)
        x = self.self_attn_layer_norm(x + self.self_attn(x, mask=mask))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, memory))
        return self.final_layer_norm(x + self.fc2(F.relu(self.fc1(x))))


class HATNetwork(nn.Module):
    """A HAT SubTransformer run as HAT measured its latency.

    Shapes:
        x: source token ids ``(1, length)`` → logits ``(beam, length, target_vocab)``: the encoder
        reads ``x``; the decoder reads ``beam`` copies of a ``length``-token target (``x`` itself:
        the token values do not matter) in one teacher-forced pass under a causal mask.
    """

    def __init__(self, net: SubTransformer, task: Task) -> None:
        super().__init__()
        e, d, t = net.encoder_embed_dim, net.decoder_embed_dim, task.length
        self.e, self.d, self.beam = e, d, BEAM
        self.shared = task.shared_embeddings
        if self.shared:  # one SuperTransformer table, each side reads its first e (d) channels
            self.embed_tokens = nn.Parameter(torch.randn(task.source_vocab, max(e, d)) * max(e, d) ** -0.5)
        else:
            self.encoder_embed = nn.Parameter(torch.randn(task.source_vocab, e) * e**-0.5)
            self.decoder_embed = nn.Parameter(torch.randn(task.target_vocab, d) * d**-0.5)
            self.embed_out = nn.Parameter(torch.randn(task.target_vocab, d) * d**-0.5)
        self.register_buffer("encoder_positions", torch.from_numpy(sinusoidal_positions(t, e)))
        self.register_buffer("decoder_positions", torch.from_numpy(sinusoidal_positions(t, d)))
        self.register_buffer("future_mask", torch.from_numpy(causal_mask(t)))
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(e, ffn, heads)
            for ffn, heads in zip(net.encoder_ffn_embed_dim, net.encoder_self_attention_heads)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(d, e, ffn, heads, ende, arbitrary)
            for ffn, heads, ende, arbitrary in zip(
                net.decoder_ffn_embed_dim, net.decoder_self_attention_heads, net.decoder_ende_attention_heads,
                net.decoder_arbitrary_ende_attn,
            )
        )  # fmt: skip
        self.ende_layers = max(layer.ende_layers for layer in self.decoder_layers)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder input, decoder input and output projection tables (slices of one table when shared)."""
        if self.shared:
            return self.embed_tokens[:, : self.e], self.embed_tokens[:, : self.d], self.embed_tokens[:, : self.d]
        return self.encoder_embed, self.decoder_embed, self.embed_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc_table, dec_table, out_table = self.tables()
        h = math.sqrt(self.e) * F.embedding(x, enc_table) + self.encoder_positions
        h = h.transpose(0, 1)
        outs = []
        for layer in self.encoder_layers:
            h = layer(h)
            outs.append(h)
        beamed = [o.expand(-1, self.beam, -1) for o in outs[::-1][: self.ende_layers]]  # reorder_encoder_out

        y = math.sqrt(self.d) * F.embedding(x.expand(self.beam, -1), dec_table) + self.decoder_positions
        y = y.transpose(0, 1)
        for layer in self.decoder_layers:
            y = layer(y, beamed, self.future_mask)
        return F.linear(y.transpose(0, 1), out_table)


def hat_network(space: HAT, cell: str, dataset: str) -> nn.Module:
    """HAT's reference SubTransformer of ``cell`` (:meth:`SearchSpace.to_torch`)."""
    return HATNetwork(space.parse(cell), TASKS[dataset])
