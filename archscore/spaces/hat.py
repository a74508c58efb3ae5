"""HAT (Hardware-Aware Transformers): the SubTransformers of HAT's machine-translation SuperTransformers.

HAT (Wang et al., ACL 2020; mit-han-lab/hardware-aware-transformers) searches encoder–decoder
Transformers whose layers are *heterogeneous*: every layer picks its own FFN width and head
count, and every decoder layer attends to the last one, two or three encoder layers
(*arbitrary encoder–decoder attention*). A cell here is one such SubTransformer, written out in
full, layer by layer, with HAT's own configuration names::

    encoder_embed_dim=640; encoder_layer_num=6; encoder_ffn_embed_dim=3072,3072,2048,2048,1024,512;
    encoder_self_attention_heads=8,8,4,4,4,2; decoder_embed_dim=512; decoder_layer_num=2;
    decoder_ffn_embed_dim=3072,1024; decoder_self_attention_heads=8,4; decoder_ende_attention_heads=8,8;
    decoder_arbitrary_ende_attn=-1,2

(one line, ``"; "`` between fields). ``decoder_arbitrary_ende_attn`` keeps HAT's encoding: ``-1``
attends to the last encoder layer, ``1`` to the last two, ``2`` to the last three.

The design space (the default) is the one HAT sampled its latency datasets from, the same for
all four tasks: embedding 512 or 640, six encoder layers, one to six decoder layers, FFN width
512/1024/2048/3072 and 2/4/8 heads per layer. Each task's SuperTransformer searched a subset
(WMT: FFN 1024–3072, 4 or 8 heads; IWSLT: FFN 512–2048, 2 or 4 heads); ``HAT(supernet=task)``
restricts cells, sampling and mutation to it.

**The latency tables.** HAT's latency datasets (bundled as ``hat_<task>_<device>``) record a
SubTransformer only by its layer *averages* (``encoder_ffn_embed_dim_avg=1194.67`` …), so a row
does not determine its per-layer configuration. :meth:`HAT.canonical` (and :func:`from_averages`)
turn such a row into one deterministic *representative*: for every averaged field, among the
multisets of allowed per-layer values with exactly that mean, the one with the smallest spread
(sum of squares; ties to the lexicographically smallest), its layers listed widest first. The
representative's averages equal the row's exactly (every one of the 16,000 bundled rows; the
tests check it), but **the latency the table records belongs to the averaged row, that is to the
SubTransformer HAT actually measured, and our network is one representative of all the
SubTransformers sharing those averages**, not necessarily the measured one.

**The network** (:meth:`HAT.to_onnx`) is the SubTransformer HAT timed, in inference form, as
HAT's ``latency_dataset.py`` ran it: a source sentence of fixed length (30 tokens for WMT, 23 for
IWSLT, batch 1) through the encoder, and a target of the same length through the decoder with
beam 5 as the batch, ending in the projection onto the vocabulary. HAT decoded those 30 (23)
tokens one step at a time with cached keys and values; the network computes the same layers and
weights in one teacher-forced pass with a causal mask (the same multiply-accumulates, up to the
masked half of the decoder's self-attention scores). Layers follow HAT's fairseq code: token
embedding scaled by √d plus sinusoidal positions (of the 640-wide SuperTransformer, truncated);
post-LayerNorm blocks; attention with a fixed ``qkv_dim`` of 512 (head width 512 / heads), fused
query/key/value projection in self-attention; ReLU FFN; decoder layers attending to the
concatenation (along time) of the last 1–3 encoder layers' outputs; the output projection is the
shared embedding (WMT) or a separate matrix (IWSLT). The averaged cross-attention weights HAT's
decoder also returns (for alignment) are not computed: they are not part of the translation.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from onnx import TensorProto

from archscore.errors import InvalidCellError, UnknownNameError
from archscore.spaces._onnx import NetBuilder, Network
from archscore.spaces.base import SearchSpace, literal_text

if TYPE_CHECKING:
    pass

QKV_DIM = 512
"""Width of every query/key/value projection (HAT's ``qkv_dim``), whatever the embedding width."""
SUPER_EMBED_DIM = 640
"""Embedding width of every HAT SuperTransformer; sinusoidal positions are computed at this width."""
BEAM = 5
"""Beam size HAT measured decoder latency with (fairseq's default): the decoder's batch."""
LN_EPS = 1e-5
ARBITRARY_ENDE_LAYERS: dict[int, int] = {-1: 1, 1: 2, 2: 3}
"""HAT's ``decoder_arbitrary_ende_attn`` value → how many of the last encoder layers a decoder layer attends to."""


@dataclass(frozen=True)
class Task:
    """One of HAT's translation tasks: its vocabularies, embedding sharing and measured length."""

    source_vocab: int
    target_vocab: int
    shared_embeddings: bool
    """One table for encoder input, decoder input and output projection (``--share-all-embeddings``)."""
    length: int
    """Source length and number of decoded tokens in HAT's latency measurement."""
    note: str = ""


TASKS: dict[str, Task] = {
    "wmt14ende": Task(32768, 32768, True, 30, "joined dictionary, 32,768 types (HAT's own log)"),
    "wmt14enfr": Task(
        44512, 44512, True, 30,
        "ESTIMATE: the size of HAT's en-fr joined dictionary (40k-merge BPE, fetched at preprocessing) is recorded "
        "in no source we could read; fairseq's separate 40k-BPE en/fr dictionaries have 44,206/44,463 types, and "
        "44,512 is a joined size of that order, a multiple of 8. Only the embedding tables depend on it",
    ),
    "wmt19ende": Task(49600, 49600, True, 30, "joined dictionary, 49,600 types (HAT's own log)"),
    "iwslt14deen": Task(8848, 6632, False, 23, "de 8,848 / en 6,632 types; separate output projection"),
}  # fmt: skip
"""HAT's four tasks (the space's datasets), the first the default."""


@dataclass(frozen=True)
class Choices:
    """The values each per-layer (and global) choice may take."""

    embed_dim: tuple[int, ...]
    encoder_layer_num: tuple[int, ...]
    decoder_layer_num: tuple[int, ...]
    ffn_embed_dim: tuple[int, ...]
    attention_heads: tuple[int, ...]
    arbitrary_ende_attn: tuple[int, ...]
    label: str = "HAT's latency design space"


LATENCY_SPACE = Choices((512, 640), (6,), (1, 2, 3, 4, 5, 6), (512, 1024, 2048, 3072), (2, 4, 8), (-1, 1, 2))
"""The space HAT sampled every latency dataset from (``configs/<task>/latency_dataset/*.yml``)."""
SUPERNETS: dict[str, Choices] = {
    task: replace(LATENCY_SPACE, ffn_embed_dim=ffn, attention_heads=heads, label=f"the {task} SuperTransformer")
    for task, ffn, heads in (
        ("wmt14ende", (1024, 2048, 3072), (4, 8)),
        ("wmt14enfr", (1024, 2048, 3072), (4, 8)),
        ("wmt19ende", (1024, 2048, 3072), (4, 8)),
        ("iwslt14deen", (512, 1024, 2048), (2, 4)),
    )
}
"""Each task's SuperTransformer search space (``configs/<task>/supertransformer/space*.yml``)."""

FIELDS: tuple[str, ...] = (
    "encoder_embed_dim", "encoder_layer_num", "encoder_ffn_embed_dim", "encoder_self_attention_heads",
    "decoder_embed_dim", "decoder_layer_num", "decoder_ffn_embed_dim", "decoder_self_attention_heads",
    "decoder_ende_attention_heads", "decoder_arbitrary_ende_attn",
)  # fmt: skip
"""The fields of a cell string, in order (HAT's configuration names)."""
AVERAGE_FIELDS: tuple[str, ...] = (
    "encoder_embed_dim", "encoder_layer_num", "encoder_ffn_embed_dim_avg", "encoder_self_attention_heads_avg",
    "decoder_embed_dim", "decoder_layer_num", "decoder_ffn_embed_dim_avg", "decoder_self_attention_heads_avg",
    "decoder_ende_attention_heads_avg", "decoder_arbitrary_ende_attn_avg",
)  # fmt: skip
"""HAT's latency features (``utils.get_config_features``): the columns of the bundled latency tables."""
_ENCODER_LISTS = ("encoder_ffn_embed_dim", "encoder_self_attention_heads")
_DECODER_LISTS = (
    "decoder_ffn_embed_dim", "decoder_self_attention_heads", "decoder_ende_attention_heads",
    "decoder_arbitrary_ende_attn",
)  # fmt: skip
_WRAPPED_NUMBER = re.compile(r"^(?:np\.|numpy\.)?(?:float|int)\d*\((.*)\)$")


@dataclass(frozen=True)
class SubTransformer:
    """One HAT SubTransformer, layer by layer (per-layer tuples have one entry per layer)."""

    encoder_embed_dim: int
    encoder_ffn_embed_dim: tuple[int, ...]
    encoder_self_attention_heads: tuple[int, ...]
    decoder_embed_dim: int
    decoder_ffn_embed_dim: tuple[int, ...]
    decoder_self_attention_heads: tuple[int, ...]
    decoder_ende_attention_heads: tuple[int, ...]
    decoder_arbitrary_ende_attn: tuple[int, ...]

    @property
    def encoder_layer_num(self) -> int:
        return len(self.encoder_ffn_embed_dim)

    @property
    def decoder_layer_num(self) -> int:
        return len(self.decoder_ffn_embed_dim)

    def cell(self) -> str:
        """The canonical cell string."""
        parts = []
        for name in FIELDS:
            value = getattr(self, name)
            parts.append(f"{name}={','.join(map(str, value)) if isinstance(value, tuple) else value}")
        return "; ".join(parts)

    def hat_config(self) -> dict[str, dict[str, object]]:
        """HAT's own configuration dict (``utils.get_subtransformer_config``), e.g. for ``set_sample_config``."""
        return {
            "encoder": {
                "encoder_embed_dim": self.encoder_embed_dim,
                "encoder_layer_num": self.encoder_layer_num,
                "encoder_ffn_embed_dim": list(self.encoder_ffn_embed_dim),
                "encoder_self_attention_heads": list(self.encoder_self_attention_heads),
            },
            "decoder": {
                "decoder_embed_dim": self.decoder_embed_dim,
                "decoder_layer_num": self.decoder_layer_num,
                "decoder_ffn_embed_dim": list(self.decoder_ffn_embed_dim),
                "decoder_self_attention_heads": list(self.decoder_self_attention_heads),
                "decoder_ende_attention_heads": list(self.decoder_ende_attention_heads),
                "decoder_arbitrary_ende_attn": list(self.decoder_arbitrary_ende_attn),
            },
        }

    def averages(self) -> dict[str, float]:
        """HAT's latency features of this SubTransformer, computed as HAT computes them (the table columns)."""
        return {
            "encoder_embed_dim": self.encoder_embed_dim,
            "encoder_layer_num": self.encoder_layer_num,
            "encoder_ffn_embed_dim_avg": float(np.mean(self.encoder_ffn_embed_dim)),
            "encoder_self_attention_heads_avg": float(np.mean(self.encoder_self_attention_heads)),
            "decoder_embed_dim": self.decoder_embed_dim,
            "decoder_layer_num": self.decoder_layer_num,
            "decoder_ffn_embed_dim_avg": float(np.mean(self.decoder_ffn_embed_dim)),
            "decoder_self_attention_heads_avg": float(np.mean(self.decoder_self_attention_heads)),
            "decoder_ende_attention_heads_avg": float(np.mean(self.decoder_ende_attention_heads)),
            "decoder_arbitrary_ende_attn_avg": float(
                np.mean([ARBITRARY_ENDE_LAYERS[a] for a in self.decoder_arbitrary_ende_attn])
            ),
        }

    def hat_params(self) -> int:
        """Parameters as HAT reports a SubTransformer's size: every weight and bias except the embeddings.

        This is ``TransformerSuperModel.get_sampled_params_numel`` (printed by HAT's ``train.py`` as
        "SubTransformer size (without embedding weights)"), the count HAT's paper tabulates.
        """
        e, d, q = self.encoder_embed_dim, self.decoder_embed_dim, QKV_DIM
        attention = 3 * q  # the packed q/k/v bias
        total = 0
        for ffn in self.encoder_ffn_embed_dim:
            total += 3 * q * e + attention + q * e + e + 2 * e  # self-attention, out projection, LayerNorm
            total += e * ffn + ffn + ffn * e + e + 2 * e  # FFN, LayerNorm
        for ffn in self.decoder_ffn_embed_dim:
            total += 3 * q * d + attention + q * d + d + 2 * d  # self-attention
            total += q * d + 2 * q * e + attention + q * d + d + 2 * d  # encoder–decoder attention
            total += d * ffn + ffn + ffn * d + d + 2 * d  # FFN
        return total


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """fairseq's sinusoidal position embeddings of the first ``length`` tokens, ``(length, dim)`` float32.

    Computed at the SuperTransformer's width (:data:`SUPER_EMBED_DIM`) and truncated to ``dim``, as
    HAT does: the first half of the SuperTransformer's channels are sines, the second half cosines,
    and positions start at fairseq's ``padding_idx + 1`` = 2.
    """
    return _positions(length)[:, :dim].copy()


@functools.lru_cache(maxsize=8)
def _positions(length: int) -> np.ndarray:
    half = SUPER_EMBED_DIM // 2
    freq = np.exp(np.arange(half, dtype=np.float32) * np.float32(-math.log(10000) / (half - 1)))
    angles = np.arange(2, length + 2, dtype=np.float32)[:, None] * freq[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)
    table.setflags(write=False)
    return table


def causal_mask(length: int) -> np.ndarray:
    """The decoder's future mask, ``(length, length)`` float32: ``-inf`` above the diagonal, 0 elsewhere."""
    return np.triu(np.full((length, length), -np.inf, dtype=np.float32), 1)


# -- reading cells ------------------------------------------------------------------------------
def _key(raw: str) -> str:
    """HAT's spellings of a field (YAML ``encoder-ffn-embed-dim-all-subtransformer`` …) → the field name."""
    key = raw.strip().strip("'\"").lower().replace("-", "_").replace(" ", "_")
    key = key.removesuffix("_subtransformer")
    return key.replace("_all", "") if not key.endswith("_avg") else key


def _number(text: str, field: str) -> float:
    text = text.strip().strip("'\"")
    wrapped = _WRAPPED_NUMBER.match(text)  # numpy reprs, e.g. "np.float64(1194.6666666666667)"
    if wrapped:
        text = wrapped.group(1)
    try:
        return float(text)
    except ValueError:
        raise InvalidCellError(f"hat: {field} has {text!r}, which is not a number") from None


def _integer(value: object, field: str) -> int:
    number = _number(value, field) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, (int, float, np.integer, np.floating)):
        raise InvalidCellError(f"hat: {field} must be a whole number, got {value!r}")
    if float(number) != int(number):
        raise InvalidCellError(f"hat: {field} must be a whole number, got {value!r}")
    return int(number)


def _values(value: object, field: str) -> list[object]:
    """A field's value as a list of items (a list, a tuple, ``"[a, b]"``, ``"a,b"`` or one value)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return [part for part in re.split(r"[,\s]+", text) if part]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _fields_of_text(text: str) -> dict[str, object]:
    """``k=v; k=v`` (the canonical and the tables' spelling) or HAT's YAML ``key: value`` lines."""
    if text.startswith("{"):
        try:
            parsed = literal_text(text)
        except ValueError:
            raise InvalidCellError(f"hat: {text[:80]!r}… is not a readable config dict") from None
        if not isinstance(parsed, Mapping):
            raise InvalidCellError("hat: a config given as a dict must be a mapping of fields")
        return _flatten(parsed)
    fields: dict[str, object] = {}
    yaml_like = "=" not in text
    items = text.splitlines() if yaml_like else re.split(r"[;\n]", text)
    for item in items:
        item = item.split("#", 1)[0].strip()
        if not item:
            continue
        key, sep, value = item.partition(":" if yaml_like else "=")
        if not sep:
            raise InvalidCellError(
                f"hat: cannot read {item!r}; write fields as 'name=value; …' (or HAT's YAML 'name: value' lines), "
                f"with names {', '.join(FIELDS)}"
            )
        name = _key(key)
        if name in fields:
            raise InvalidCellError(f"hat: {name} is given twice")
        fields[name] = value.strip()
    return fields


def _flatten(mapping: Mapping) -> dict[str, object]:
    """HAT's nested ``{'encoder': {...}, 'decoder': {...}}`` config (or a flat one) as fields."""
    fields: dict[str, object] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping) and str(key).lower() in ("encoder", "decoder"):
            fields.update(_flatten(value))
        else:
            fields[_key(str(key))] = value
    return fields


def _check(value: int, allowed: Sequence[int], field: str, choices: Choices) -> int:
    if value not in allowed:
        raise InvalidCellError(f"hat: {field} {value} is not in {choices.label}; valid: {', '.join(map(str, allowed))}")
    return value


def _per_layer(fields: Mapping[str, object], name: str, layers: int, choices: Choices) -> tuple[int, ...]:
    allowed = _ALLOWED[name](choices)
    items = [_integer(v, name) for v in _values(fields[name], name)]
    if len(items) < layers:
        raise InvalidCellError(f"hat: {name} lists {len(items)} value(s) for {layers} layers")
    # HAT's lists may cover all SuperTransformer layers; like HAT, only the first `layers` are used.
    return tuple(_check(v, allowed, f"{name} value", choices) for v in items[:layers])


def _one(fields: Mapping[str, object], name: str, choices: Choices) -> int:
    value = _values(fields[name], name)
    if len(value) != 1:
        raise InvalidCellError(f"hat: {name} takes one value, got {fields[name]!r}")
    return _check(_integer(value[0], name), _ALLOWED[name](choices), name, choices)


def _layer_num(fields: Mapping[str, object], side: str, choices: Choices) -> int:
    name = f"{side}_layer_num"
    if name in fields:
        return _one(fields, name, choices)
    return _check(len(_values(fields[f"{side}_ffn_embed_dim"], name)), _ALLOWED[name](choices), name, choices)


_ALLOWED = {
    "encoder_embed_dim": lambda c: c.embed_dim, "decoder_embed_dim": lambda c: c.embed_dim,
    "encoder_layer_num": lambda c: c.encoder_layer_num, "decoder_layer_num": lambda c: c.decoder_layer_num,
    "encoder_ffn_embed_dim": lambda c: c.ffn_embed_dim, "decoder_ffn_embed_dim": lambda c: c.ffn_embed_dim,
    "encoder_self_attention_heads": lambda c: c.attention_heads,
    "decoder_self_attention_heads": lambda c: c.attention_heads,
    "decoder_ende_attention_heads": lambda c: c.attention_heads,
    "decoder_arbitrary_ende_attn": lambda c: c.arbitrary_ende_attn,
}  # fmt: skip
"""Each field → its allowed values in a :class:`Choices`."""


def parse(cell: str | Mapping[str, object], choices: Choices = LATENCY_SPACE) -> SubTransformer:
    """Read any accepted spelling of a SubTransformer; raise :class:`InvalidCellError` naming what is valid."""
    if isinstance(cell, Mapping):
        fields = _flatten(cell)
    elif isinstance(cell, str):
        text = cell.strip()
        if not text:
            raise InvalidCellError(f"hat: an empty cell; give fields {', '.join(FIELDS)}")
        fields = _fields_of_text(text)
    else:
        raise InvalidCellError(f"hat: a cell is a string or a config dict, not {type(cell).__name__}")
    if any(name.endswith("_avg") for name in fields):
        return from_averages(fields, choices)
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidCellError(f"hat: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
    missing = [name for name in FIELDS if name not in fields and name not in ("encoder_layer_num", "decoder_layer_num")]
    if missing:
        raise InvalidCellError(f"hat: missing field(s) {', '.join(missing)}; a cell gives all of {', '.join(FIELDS)}")
    n_enc = _layer_num(fields, "encoder", choices)
    n_dec = _layer_num(fields, "decoder", choices)
    enc = {name: _per_layer(fields, name, n_enc, choices) for name in _ENCODER_LISTS}
    dec = {name: _per_layer(fields, name, n_dec, choices) for name in _DECODER_LISTS}
    return SubTransformer(
        encoder_embed_dim=_one(fields, "encoder_embed_dim", choices),
        decoder_embed_dim=_one(fields, "decoder_embed_dim", choices),
        **enc,  # type: ignore[arg-type]
        **dec,  # type: ignore[arg-type]
    )


# -- averaged rows → one representative SubTransformer -------------------------------------------
@functools.lru_cache(maxsize=4096)
def _multiset(total: int, layers: int, allowed: tuple[int, ...]) -> tuple[int, ...] | None:
    """Per-layer values from ``allowed`` summing to ``total``: the least spread, widest first (or None)."""
    best: tuple[int, tuple[int, ...]] | None = None
    for combo in itertools.combinations_with_replacement(sorted(allowed, reverse=True), layers):
        if sum(combo) != total:
            continue
        key = (sum(v * v for v in combo), combo)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def _representative(fields: Mapping[str, object], name: str, layers: int, allowed: Sequence[int]) -> tuple[int, ...]:
    mean = _number(fields[name], name) if isinstance(fields[name], str) else float(fields[name])  # type: ignore[arg-type]
    total = round(mean * layers)
    exact = abs(mean * layers - total) < 1e-6 * max(1.0, abs(total))
    found = _multiset(total, layers, tuple(allowed)) if exact else None
    if found is None:
        raise InvalidCellError(
            f"hat: no {layers} per-layer values from {', '.join(map(str, allowed))} average to {name}={mean!r}"
        )
    return found


def from_averages(row: Mapping[str, object], choices: Choices = LATENCY_SPACE) -> SubTransformer:
    """The representative SubTransformer of one latency-table row (HAT's averaged features).

    For each averaged field the per-layer values are the multiset of allowed values with exactly
    the row's mean and the smallest sum of squares (the most uniform layers; ties go to the
    lexicographically smallest), listed widest first. Its :meth:`SubTransformer.averages` equal the
    row's. The row's latency belongs to the SubTransformer HAT measured, which may be another
    member of the same averages.
    """
    fields = {_key(str(k)): v for k, v in row.items()}
    unknown = sorted(set(fields) - set(AVERAGE_FIELDS))
    missing = [name for name in AVERAGE_FIELDS if name not in fields]
    if unknown or missing:
        raise InvalidCellError(
            "hat: an averaged (latency-table) row gives exactly "
            + ", ".join(AVERAGE_FIELDS)
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    n_enc, n_dec = _one(fields, "encoder_layer_num", choices), _one(fields, "decoder_layer_num", choices)
    to_hat = {count: value for value, count in ARBITRARY_ENDE_LAYERS.items() if value in choices.arbitrary_ende_attn}
    counts = _representative(fields, "decoder_arbitrary_ende_attn_avg", n_dec, tuple(to_hat))
    return SubTransformer(
        encoder_embed_dim=_one(fields, "encoder_embed_dim", choices),
        encoder_ffn_embed_dim=_representative(fields, "encoder_ffn_embed_dim_avg", n_enc, choices.ffn_embed_dim),
        encoder_self_attention_heads=_representative(
            fields, "encoder_self_attention_heads_avg", n_enc, choices.attention_heads
        ),
        decoder_embed_dim=_one(fields, "decoder_embed_dim", choices),
        decoder_ffn_embed_dim=_representative(fields, "decoder_ffn_embed_dim_avg", n_dec, choices.ffn_embed_dim),
        decoder_self_attention_heads=_representative(
            fields, "decoder_self_attention_heads_avg", n_dec, choices.attention_heads
        ),
        decoder_ende_attention_heads=_representative(
            fields, "decoder_ende_attention_heads_avg", n_dec, choices.attention_heads
        ),
        decoder_arbitrary_ende_attn=tuple(to_hat[c] for c in counts),
    )


# -- the network ----------------------------------------------------------------------------------
class _Net:
    """NetBuilder plus the tensor ops a Transformer needs (3-D linear layers, LayerNorm, layouts)."""

    def __init__(self, b: NetBuilder) -> None:
        self.b = b
        self._ints: dict[tuple[int, ...], str] = {}

    def ints(self, values: Sequence[int]) -> str:
        key = tuple(values)
        if key not in self._ints:
            self._ints[key] = self.b.ints(key)
        return self._ints[key]

    def linear(self, x: str, cin: int, cout: int, bias: bool = True) -> str:
        """``x @ W + b`` over the last axis (``W`` is ``(cin, cout)``, as torch exports ``F.linear``)."""
        y = self.b.node("MatMul", [x, self.b.weight("w", (cin, cout))])
        return self.b.node("Add", [y, self.b.weight("b", (cout,), fill=0.0)]) if bias else y

    def layer_norm(self, x: str, c: int) -> str:
        ins = [x, self.b.weight("ln_g", (c,), fill=1.0), self.b.weight("ln_b", (c,), fill=0.0)]
        return self.b.node("LayerNormalization", ins, "ln", axis=-1, epsilon=LN_EPS)

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        return self.b.node("Reshape", [x, self.ints(shape)])

    def transpose(self, x: str, perm: Sequence[int]) -> str:
        return self.b.node("Transpose", [x], perm=list(perm))

    def slice_last(self, x: str, start: int, end: int) -> str:
        return self.b.node("Slice", [x, self.ints([start]), self.ints([end]), self.ints([-1])])

    def attention(
        self, q: str, k: str, v: str, tgt: int, src: int, batch: int, heads: int, mask: str | None = None
    ) -> str:
        """HAT's multi-head attention on projected ``(time, batch, qkv)`` tensors; returns ``(tgt, batch, qkv)``."""
        b, hd = self.b, QKV_DIM // heads
        q = b.node("Mul", [q, b.constant(np.float32(hd**-0.5), "scaling")])
        q = self.transpose(self.reshape(q, (tgt, batch * heads, hd)), (1, 0, 2))
        k = self.transpose(self.reshape(k, (src, batch * heads, hd)), (1, 2, 0))
        v = self.transpose(self.reshape(v, (src, batch * heads, hd)), (1, 0, 2))
        scores = b.node("MatMul", [q, k])
        if mask is not None:
            scores = b.node("Add", [scores, mask])
        out = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), v])
        return self.reshape(self.transpose(out, (1, 0, 2)), (tgt, batch, QKV_DIM))

    def self_attention(self, x: str, dim: int, t: int, batch: int, heads: int, mask: str | None) -> str:
        qkv = self.linear(x, dim, 3 * QKV_DIM)
        q, k, v = (self.slice_last(qkv, i * QKV_DIM, (i + 1) * QKV_DIM) for i in range(3))
        return self.linear(self.attention(q, k, v, t, t, batch, heads, mask), QKV_DIM, dim)

    def residual_norm(self, residual: str, y: str, dim: int) -> str:
        return self.layer_norm(self.b.add(residual, y), dim)

    def ffn(self, x: str, dim: int, hidden: int) -> str:
        return self.linear(self.b.relu(self.linear(x, dim, hidden)), hidden, dim)


def build_network(net: SubTransformer, task: Task, *, weights: np.random.Generator | None = None) -> Network:
    """The SubTransformer ``net`` on ``task``, built with ONNX ops (see the module docstring for what is computed)."""
    t, beam = task.length, BEAM
    e, d = net.encoder_embed_dim, net.decoder_embed_dim
    b = NetBuilder((1, t), rng=weights, input_type=TensorProto.INT64)  # x: the source token ids
    n = _Net(b)
    # Shared embeddings (WMT) are one table read three ways; as torch exports it, each reader gets its own
    # constant (the slice, and the transposed slice for the output projection), so the tables are separate here too.
    enc_table = b.weight("embed", (task.source_vocab, e))
    dec_table = b.weight("embed", (task.target_vocab, d))
    out_proj = b.weight("embed_out", (d, task.target_vocab))

    # encoder: (1, t) ids → (t, 1, e), post-LayerNorm layers
    x = b.node("Mul", [b.node("Gather", [enc_table, "x"], "embed"), b.constant(np.float32(math.sqrt(e)), "scale")])
    x = n.transpose(b.add(x, b.constant(sinusoidal_positions(t, e), "positions")), (1, 0, 2))
    outputs = []
    for ffn, heads in zip(net.encoder_ffn_embed_dim, net.encoder_self_attention_heads):
        x = n.residual_norm(x, n.self_attention(x, e, t, 1, heads, None), e)
        x = n.residual_norm(x, n.ffn(x, e, ffn), e)
        outputs.append(x)

    # encoder outputs repeated for the beam (HAT's reorder_encoder_out), each once
    used = max(ARBITRARY_ENDE_LAYERS[a] for a in net.decoder_arbitrary_ende_attn)
    beamed = [b.node("Expand", [o, n.ints((t, beam, e))]) for o in outputs[::-1][:used]]

    # decoder: the target (beam, t) ids, teacher-forced with a causal mask
    tgt = b.node("Expand", ["x", n.ints((beam, t))])
    y = b.node("Mul", [b.node("Gather", [dec_table, tgt], "embed"), b.constant(np.float32(math.sqrt(d)), "scale")])
    y = n.transpose(b.add(y, b.constant(sinusoidal_positions(t, d), "positions")), (1, 0, 2))
    mask = b.constant(causal_mask(t), "future_mask")
    layers = zip(
        net.decoder_ffn_embed_dim, net.decoder_self_attention_heads, net.decoder_ende_attention_heads,
        net.decoder_arbitrary_ende_attn,
    )  # fmt: skip
    for ffn, heads, ende_heads, arbitrary in layers:
        y = n.residual_norm(y, n.self_attention(y, d, t, beam, heads, mask), d)
        k_layers = ARBITRARY_ENDE_LAYERS[arbitrary]
        memory = beamed[0] if k_layers == 1 else n.b.concat(beamed[:k_layers], axis=0)
        q = n.linear(y, d, QKV_DIM)
        k, v = n.linear(memory, e, QKV_DIM), n.linear(memory, e, QKV_DIM)
        cross = n.attention(q, k, v, t, k_layers * t, beam, ende_heads)
        y = n.residual_norm(y, n.linear(cross, QKV_DIM, d), d)
        y = n.residual_norm(y, n.ffn(y, d, ffn), d)
    logits = b.node("MatMul", [n.transpose(y, (1, 0, 2)), out_proj])
    return b.network(logits, "hat", f"HAT SubTransformer: {net.cell()}")


class HAT(SearchSpace):
    """HAT's SubTransformer space (see the module docstring); ``supernet`` restricts it to one task's."""

    name: ClassVar[str] = "hat"
    torch_reference: ClassVar[str] = "archscore.spaces.hat_torch:hat_network"
    description: ClassVar[str] = (
        "HAT SubTransformers: encoder-decoder Transformers with per-layer FFN width and heads and arbitrary "
        "encoder-decoder attention (6 encoder, 1-6 decoder layers)"
    )
    datasets: ClassVar[tuple[str, ...]] = tuple(TASKS)

    def __init__(self, supernet: str | None = None) -> None:
        if supernet is not None and supernet not in SUPERNETS:
            raise UnknownNameError(f"hat has no supernet {supernet!r}; choose one of {', '.join(SUPERNETS)}")
        self.supernet = supernet
        self.choices = LATENCY_SPACE if supernet is None else SUPERNETS[supernet]

    # -- cells ------------------------------------------------------------------------------------
    def parse(self, cell: str | Mapping[str, object]) -> SubTransformer:
        """The :class:`SubTransformer` of any accepted spelling of ``cell`` (see :meth:`canonical`)."""
        return parse(cell, self.choices)

    def canonical(self, cell: str | Mapping[str, object]) -> str:
        """The canonical string of ``cell``.

        Accepted: the canonical ``name=value; …`` form (lists as ``a,b`` or ``[a, b]``); HAT's
        SubTransformer YAML (``encoder-ffn-embed-dim-all-subtransformer: [3072, …]`` lines); HAT's
        config dict (``{'encoder': {...}, 'decoder': {...}}``, as a dict or its printed form; per-layer
        lists longer than the layer count are cut, as HAT does); and a latency-table row of averages
        (``encoder_ffn_embed_dim_avg=…``), which becomes its representative (:func:`from_averages`).
        """
        return self.parse(cell).cell()

    def random_cell(self, rng: random.Random) -> str:
        """A SubTransformer drawn as HAT's ``utils.sample_configs`` draws one: every choice uniform."""
        c = self.choices
        n_enc, n_dec = rng.choice(c.encoder_layer_num), rng.choice(c.decoder_layer_num)
        enc_embed, dec_embed = rng.choice(c.embed_dim), rng.choice(c.embed_dim)
        return SubTransformer(
            encoder_embed_dim=enc_embed,
            encoder_ffn_embed_dim=tuple(rng.choice(c.ffn_embed_dim) for _ in range(n_enc)),
            encoder_self_attention_heads=tuple(rng.choice(c.attention_heads) for _ in range(n_enc)),
            decoder_embed_dim=dec_embed,
            decoder_ffn_embed_dim=tuple(rng.choice(c.ffn_embed_dim) for _ in range(n_dec)),
            decoder_self_attention_heads=tuple(rng.choice(c.attention_heads) for _ in range(n_dec)),
            decoder_ende_attention_heads=tuple(rng.choice(c.attention_heads) for _ in range(n_dec)),
            decoder_arbitrary_ende_attn=tuple(rng.choice(c.arbitrary_ende_attn) for _ in range(n_dec)),
        ).cell()

    def mutate(self, cell: str, rng: random.Random) -> str:
        """Change one choice: an embedding width, the decoder depth, or one value of one layer.

        Every choice with an alternative is equally likely, and its new value is uniform among
        the others. A deeper decoder repeats its last layer's choices in the new layers; a
        shallower one drops its last layers.
        """
        net, c = self.parse(cell), self.choices
        genes: list[tuple[str, int, tuple[int, ...]]] = []
        for name, allowed in (("encoder_embed_dim", c.embed_dim), ("decoder_embed_dim", c.embed_dim)):
            genes.append((name, -1, allowed))
        genes.append(("decoder_layer_num", -1, c.decoder_layer_num))
        per_layer = {
            "encoder_ffn_embed_dim": c.ffn_embed_dim, "encoder_self_attention_heads": c.attention_heads,
            "decoder_ffn_embed_dim": c.ffn_embed_dim, "decoder_self_attention_heads": c.attention_heads,
            "decoder_ende_attention_heads": c.attention_heads, "decoder_arbitrary_ende_attn": c.arbitrary_ende_attn,
        }  # fmt: skip
        for name, allowed in per_layer.items():
            genes.extend((name, i, allowed) for i in range(len(getattr(net, name))))
        genes = [g for g in genes if len(g[2]) > 1]
        name, layer, allowed = rng.choice(genes)
        if name == "decoder_layer_num":
            new = rng.choice([v for v in allowed if v != net.decoder_layer_num])
            changes = {f: _resize(getattr(net, f), new) for f in _DECODER_LISTS}
            return replace(net, **changes).cell()  # type: ignore[arg-type]
        if layer < 0:
            return replace(net, **{name: rng.choice([v for v in allowed if v != getattr(net, name)])}).cell()
        values = list(getattr(net, name))
        values[layer] = rng.choice([v for v in allowed if v != values[layer]])
        return replace(net, **{name: tuple(values)}).cell()

    def averages(self, cell: str | Mapping[str, object]) -> dict[str, float]:
        """HAT's latency features of ``cell`` (the columns the bundled latency tables record)."""
        return self.parse(cell).averages()

    def hat_params(self, cell: str | Mapping[str, object]) -> int:
        """Parameters without embeddings, as HAT reports a SubTransformer's size (:meth:`SubTransformer.hat_params`)."""
        return self.parse(cell).hat_params()

    def in_supernet(self, cell: str | Mapping[str, object], task: str) -> bool:
        """Whether ``cell`` lies in ``task``'s SuperTransformer search space (what HAT's search could pick)."""
        if task not in SUPERNETS:
            raise UnknownNameError(f"hat has no supernet {task!r}; choose one of {', '.join(SUPERNETS)}")
        try:
            parse(self.canonical(cell), SUPERNETS[task])
        except InvalidCellError:
            return False
        return True

    # -- networks ---------------------------------------------------------------------------------
    def input_shape(self, dataset: str | None = None, cell: object | None = None) -> tuple[int, ...]:
        """The source token ids, ``(1, length)`` int64 (30 tokens for WMT, 23 for IWSLT, as HAT measured).

        The same for every cell (``cell`` is ignored).
        """
        return (1, TASKS[self.dataset(dataset)].length)

    def network(self, cell: str, dataset: str | None = None, *, weights: np.random.Generator | None = None) -> Network:
        return build_network(self.parse(cell), TASKS[self.dataset(dataset)], weights=weights)


def _resize(values: tuple[int, ...], layers: int) -> tuple[int, ...]:
    """Per-layer values cut to ``layers``, or extended by repeating the last layer's value."""
    return values[:layers] + (values[-1],) * max(0, layers - len(values))
