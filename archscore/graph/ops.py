"""The op vocabulary of an :class:`~archscore.graph.ArchGraph`.

ONNX has ~190 operators and every exporter spells the same layer differently. archscore maps
them onto a small set of atomic operations that a performance predictor can learn from; anything
not listed here becomes ``other`` (with the original ONNX op kept as an attribute), never an error.
"""

from __future__ import annotations

#: Canonical op names, in a fixed order (the index is the op's id in compact arrays).
VOCABULARY: tuple[str, ...] = (
    "input",
    # convolution / linear algebra
    "conv", "dwconv", "conv_transpose", "linear", "matmul", "attention", "embedding",
    # normalisation
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "lrn",
    # activations
    "relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu", "hardswish",
    "hardsigmoid", "sigmoid", "tanh", "softplus", "softsign", "mish", "clip", "softmax",
    "log_softmax",
    # pooling and reductions
    "max_pool", "avg_pool", "lp_pool", "global_avg_pool", "global_max_pool", "reduce",
    # merges, splits and elementwise arithmetic
    "add", "sub", "mul", "div", "pow", "max", "min", "concat", "where", "unary", "zero",
    # layout and resampling
    "layout", "pad", "resize", "depth_to_space", "space_to_depth",
    # recurrent cells
    "lstm", "gru", "rnn",
    "other",
)  # fmt: skip
OP_INDEX: dict[str, int] = {op: i for i, op in enumerate(VOCABULARY)}

#: ONNX op types that map one-to-one onto a canonical op.
DIRECT: dict[str, str] = {
    "Relu": "relu", "LeakyRelu": "leaky_relu", "PRelu": "prelu", "Elu": "elu", "Selu": "selu",
    "Celu": "celu", "Gelu": "gelu", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Softsign": "softsign",
    "Mish": "mish", "Swish": "silu", "Softmax": "softmax", "LogSoftmax": "log_softmax",
    "MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "lp_pool",
    "GlobalAveragePool": "global_avg_pool", "GlobalMaxPool": "global_max_pool",
    "BatchNormalization": "batch_norm", "LayerNormalization": "layer_norm",
    "GroupNormalization": "group_norm", "InstanceNormalization": "instance_norm", "LRN": "lrn",
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max",
    "Min": "min", "Sum": "add", "Concat": "concat", "Where": "where", "Pad": "pad",
    "Resize": "resize", "Upsample": "resize", "DepthToSpace": "depth_to_space",
    "SpaceToDepth": "space_to_depth", "LSTM": "lstm", "GRU": "gru", "RNN": "rnn",
    "ConvTranspose": "conv_transpose", "Attention": "attention", "MatMul": "matmul",
    "Gemm": "linear", "Conv": "conv",
}  # fmt: skip

#: Elementwise unary maths with no parameters; canonical op ``unary`` with ``fn`` attribute.
UNARY: frozenset[str] = frozenset(
    {"Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Erf", "Sin", "Cos", "Floor", "Ceil",
     "Round", "Sign", "Not", "IsNaN", "IsInf"}
)  # fmt: skip

#: Ops that only move or select data; chains of them collapse into one ``layout`` node.
LAYOUT: frozenset[str] = frozenset(
    {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Tile", "Slice",
     "Gather", "GatherElements", "Split", "Identity", "Cast", "CastLike", "Dropout"}
)  # fmt: skip

#: Ops whose outputs are always treated as constants (shape arithmetic and value generators).
META_SOURCES: frozenset[str] = frozenset(
    {"Shape", "Size", "Constant", "ConstantOfShape", "Range", "EyeLike", "RandomNormal",
     "RandomUniform", "RandomNormalLike", "RandomUniformLike"}
)  # fmt: skip

REDUCE: frozenset[str] = frozenset(
    {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
     "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
)  # fmt: skip

#: Canonical ops whose inputs can be reordered without changing the result.
COMMUTATIVE: frozenset[str] = frozenset({"add", "mul", "max", "min"})

#: Input slots that hold learned weights, per ONNX op: weights given as graph inputs are
#: recognised by these. (Gemm's slot 1/2 and MatMul's slot 1 are handled in the parser.)
PARAM_SLOTS: dict[str, frozenset[int]] = {
    "Conv": frozenset({1, 2}),
    "ConvTranspose": frozenset({1, 2}),
    "BatchNormalization": frozenset({1, 2, 3, 4}),
    "LayerNormalization": frozenset({1, 2}),
    "GroupNormalization": frozenset({1, 2}),
    "InstanceNormalization": frozenset({1, 2}),
    "LSTM": frozenset({1, 2, 3}),
    "GRU": frozenset({1, 2, 3}),
    "RNN": frozenset({1, 2, 3}),
    "PRelu": frozenset({1}),
    "Gemm": frozenset({1, 2}),
}

#: Input slots that hold state which is not learned (running statistics, initial states).
BUFFER_SLOTS: dict[str, frozenset[int]] = {
    "BatchNormalization": frozenset({3, 4}),
    "LSTM": frozenset({4, 5, 6, 7}),
    "GRU": frozenset({4, 5}),
    "RNN": frozenset({4, 5}),
}

#: Canonical ops whose weights are described by their attributes rather than listed as
#: constant inputs.
PARAMETRIC: frozenset[str] = frozenset(
    {"conv", "dwconv", "conv_transpose", "linear", "batch_norm", "layer_norm", "group_norm",
     "instance_norm", "prelu", "lstm", "gru", "rnn", "embedding"}
)  # fmt: skip
