"""Bad input gets a clear archscore error naming the problem, or a correct result; never a crash,
a hang or unbounded memory. Weights are never needed and external data is never opened."""

from __future__ import annotations

import contextlib
import copy
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from archscore.errors import ArchscoreError, InvalidModelError, ModelLimitError
from archscore.examples import example_path
from archscore.graph import from_onnx
from archscore.testing.onnx_build import conv_relu, ints, model, weight

mk = helper.make_node


def relu_chain(n: int, shape=(1, 8)) -> onnx.ModelProto:
    nodes = [mk("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(n)]
    return model(nodes, {"x": shape}, [f"t{n - 1}"])


def external(m: onnx.ModelProto, folder: Path, location: str = "weights.bin") -> Path:
    """Save ``m`` with every initializer in one external file; return the model path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(
        copy.deepcopy(m),
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=0,
    )
    return path


def relocate(path: Path, location: str) -> None:
    """Point every external-data reference of the model at ``path`` to ``location``."""
    m = onnx.load_model(path, load_external_data=False)
    for t in m.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = location
    path.write_bytes(m.SerializeToString())


def run_isolated(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a hang fails the test instead of stalling the suite."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


# -- not ONNX, truncated, empty ------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [b"hello, this is not an ONNX model", b"\x89PNG\r\n\x1a\n" + bytes(100), bytes(range(256)) * 4, b"\xff" * 64],
)
def test_not_onnx_bytes_are_refused_as_not_onnx(data):
    with pytest.raises(InvalidModelError, match="not an ONNX model"):
        from_onnx(data)


def test_not_onnx_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("just some text\n" * 20)
    with pytest.raises(InvalidModelError, match=r"notes\.onnx: not an ONNX model"):
        from_onnx(path)


def test_truncated_file_is_refused_naming_the_file_and_truncation(tmp_path):
    data = example_path("resnet_small").read_bytes()
    path = tmp_path / "resnet_cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidModelError, match=r"resnet_cut\.onnx: not an ONNX model or truncated"):
        from_onnx(path)


def test_every_truncation_of_a_model_is_an_error_or_a_graph():
    data = conv_relu().SerializeToString()
    messages = set()
    for cut in range(len(data)):
        try:
            from_onnx(data[:cut])
        except InvalidModelError as exc:
            messages.add(str(exc).split(" (")[0])
    assert "the given bytes: not an ONNX model or truncated" in messages
    assert all("Traceback" not in m for m in messages)


def test_empty_input_is_refused_as_empty(tmp_path):
    with pytest.raises(InvalidModelError, match="empty input"):
        from_onnx(b"")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(InvalidModelError, match=r"empty\.onnx: empty input"):
        from_onnx(tmp_path / "empty.onnx")


def test_graph_without_nodes_is_refused_as_empty():
    with pytest.raises(InvalidModelError, match="graph is empty"):
        from_onnx(model([], {"x": (1, 3)}, ["x"]))


def test_model_without_graph_is_refused():
    with pytest.raises(InvalidModelError, match="no graph"):
        from_onnx(onnx.ModelProto(ir_version=8))


def test_missing_path_and_non_file_paths_are_refused(tmp_path):
    with pytest.raises(InvalidModelError, match="no such file"):
        from_onnx(tmp_path / "absent.onnx")
    with pytest.raises(InvalidModelError, match="not a regular file"):
        from_onnx(tmp_path)
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    with pytest.raises(InvalidModelError, match="not a regular file"):
        from_onnx(fifo)  # never opened: opening a FIFO would block


def test_model_without_an_onnx_opset_is_refused():
    m = conv_relu()
    del m.opset_import[:]
    with pytest.raises(InvalidModelError, match="imports no version of the standard ONNX opset"):
        from_onnx(m)


# -- structure ---------------------------------------------------------------------------------------
def test_cycle_is_refused_naming_a_node_on_it():
    nodes = [mk("Add", ["x", "b"], ["a"], name="first"), mk("Relu", ["a"], ["b"], name="second")]
    with pytest.raises(InvalidModelError, match=r"cycle through node '(first|second)'"):
        from_onnx(model(nodes, {"x": (1, 4)}, ["b"]))


def test_self_loop_is_refused_as_a_cycle():
    with pytest.raises(InvalidModelError, match="cycle through node 'loop'"):
        from_onnx(model([mk("Add", ["x", "y"], ["y"], name="loop")], {"x": (1, 4)}, ["y"]))


def test_dangling_input_is_refused_naming_node_and_tensor():
    nodes = [mk("Relu", ["x"], ["r"], name="relu"), mk("Add", ["r", "ghost"], ["y"], name="add")]
    with pytest.raises(InvalidModelError, match="node 'add' reads tensor 'ghost', which no node"):
        from_onnx(model(nodes, {"x": (1, 4)}, ["y"]))


def test_dangling_output_is_refused_naming_it():
    with pytest.raises(InvalidModelError, match="graph output 'nowhere' is not produced"):
        from_onnx(model([mk("Relu", ["x"], ["y"])], {"x": (1, 4)}, ["y", "nowhere"]))


def test_tensor_produced_twice_is_refused_naming_it():
    nodes = [mk("Relu", ["x"], ["y"], name="a"), mk("Sigmoid", ["x"], ["y"], name="b")]
    with pytest.raises(InvalidModelError, match="tensor 'y' is produced twice"):
        from_onnx(model(nodes, {"x": (1, 4)}, ["y"]))


def test_nodes_out_of_topological_order_give_the_same_graph():
    m = conv_relu()
    shuffled = copy.deepcopy(m)
    nodes = list(shuffled.graph.node)[::-1]
    del shuffled.graph.node[:]
    shuffled.graph.node.extend(nodes)
    assert from_onnx(shuffled) == from_onnx(m)


def test_unknown_op_becomes_other_with_its_onnx_op():
    nodes = [mk("Relu", ["x"], ["r"]), mk("FancyNewOp", ["r"], ["f"], alpha=0.5), mk("Relu", ["f"], ["y"])]
    g = from_onnx(model(nodes, {"x": (1, 4)}, ["y"]))
    other = [n for n in g.nodes if n.op == "other"]
    assert len(other) == 1
    assert other[0].attr("onnx_op") == "FancyNewOp"
    assert other[0].attr("onnx_alpha") == 0.5
    assert [n.op for n in g.nodes] == ["input", "relu", "other", "relu"]


def test_custom_domain_op_becomes_other_with_its_domain():
    m = model([mk("Fused", ["x"], ["y"], domain="com.example")], {"x": (1, 4)}, ["y"])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    (node,) = [n for n in from_onnx(m).nodes if n.op == "other"]
    assert node.attr("onnx_op") == "Fused"
    assert node.attr("domain") == "com.example"


def test_node_with_wrong_arity_is_refused_naming_it():
    with pytest.raises(InvalidModelError, match=r"node 'conv' \(Conv\) has 1 inputs; Conv takes 2 to 3"):
        from_onnx(model([mk("Conv", ["x"], ["y"], name="conv")], {"x": (1, 3, 8, 8)}, ["y"]))


def test_attribute_of_wrong_type_is_refused_naming_it():
    nodes = [mk("Conv", ["x", "w"], ["y"], name="conv", strides=2)]
    with pytest.raises(InvalidModelError, match="attribute 'strides' is INT, but Conv expects INTS"):
        from_onnx(model(nodes, {"x": (1, 3, 8, 8)}, ["y"], [weight("w", 4, 3, 3, 3)]))


def test_missing_required_attribute_is_refused_naming_it():
    with pytest.raises(InvalidModelError, match="required attribute 'kernel_shape' is missing"):
        from_onnx(model([mk("MaxPool", ["x"], ["y"], name="pool")], {"x": (1, 3, 8, 8)}, ["y"]))


def test_window_attributes_that_do_not_fit_are_refused():
    cases = [
        ({"strides": [2]}, "strides=.* should have 2 values"),
        ({"group": 0}, "group=0 is not a positive count"),
        ({"kernel_shape": [5, 5]}, r"kernel_shape=\(5, 5\) does not match weight shape"),
        ({"dilations": [0, 1]}, "dilations=.* has a value below 1"),
    ]
    for attrs, message in cases:
        nodes = [mk("Conv", ["x", "w"], ["y"], name="conv", **attrs)]
        with pytest.raises(InvalidModelError, match=message):
            from_onnx(model(nodes, {"x": (1, 3, 8, 8)}, ["y"], [weight("w", 4, 3, 3, 3)]))
    with pytest.raises(InvalidModelError, match=r"input shape \(1, 3\) does not have rank 4"):
        from_onnx(model([mk("Conv", ["x", "w"], ["y"])], {"x": (1, 3)}, ["y"], [weight("w", 4, 3, 3, 3)]))


def test_input_of_wrong_element_type_is_refused_naming_it():
    axes = helper.make_tensor("axes", TensorProto.STRING, [1], [b"2"])
    nodes = [mk("ReduceMean", ["x", "axes"], ["y"], name="mean")]
    with pytest.raises(InvalidModelError, match="input 1 'axes' has element type string"):
        from_onnx(model(nodes, {"x": (1, 3, 8, 8)}, ["y"], [axes], opset=18))


def test_attribute_the_schema_does_not_define_is_ignored():
    # Clip has no 'min' attribute since opset 11: a stray tensor-valued one must not reach the canonical form
    stray = helper.make_attribute("min", numpy_helper.from_array(np.zeros(0, np.float32)))
    node = mk("Clip", ["x"], ["y"])
    node.attribute.append(stray)
    g = from_onnx(model([node], {"x": (1, 4)}, ["y"]))
    assert [n.op for n in g.nodes] == ["input", "clip"]


def test_name_that_is_not_utf8_is_refused():
    data = model([mk("Relu", ["x"], ["y"], name="relu_NAME")], {"x": (1, 4)}, ["y"]).SerializeToString()
    data = data.replace(b"relu_NAME", b"relu_\xa9AME")  # same length: still well-formed protobuf
    with pytest.raises(InvalidModelError, match="not valid UTF-8"):
        from_onnx(data)


# -- dimensions --------------------------------------------------------------------------------------
def test_symbolic_batch_dimension_is_taken_as_one():
    g = from_onnx(model([mk("Relu", ["x"], ["y"])], {"x": ("batch", 3, 8, 8)}, ["y"]))
    assert g.nodes[0].shape == (1, 3, 8, 8)
    assert g.nodes[1].shape == (1, 3, 8, 8)


def test_symbolic_non_batch_dimension_is_refused_naming_input_and_axis():
    m = model([mk("Relu", ["x"], ["y"])], {"x": ("batch", 3, "height", 8)}, ["y"])
    message = r"input 'x' has symbolic dimension 'height' at axis 2.*give its shape: --input-shape x=.*input_shapes"
    with pytest.raises(InvalidModelError, match=message):
        from_onnx(m)
    assert from_onnx(m, input_shapes={"x": (2, 3, 16, 8)}).nodes[1].shape == (2, 3, 16, 8)


def test_missing_dimension_and_missing_shape_are_refused_naming_the_input():
    m = model([mk("Relu", ["x"], ["y"])], {"x": (1, 3, 8, 8)}, ["y"])
    m.graph.input[0].type.tensor_type.shape.dim[3].Clear()
    with pytest.raises(InvalidModelError, match="input 'x' has symbolic dimension '\\?' at axis 3"):
        from_onnx(m)
    m.graph.input[0].type.tensor_type.ClearField("shape")
    with pytest.raises(InvalidModelError, match="input 'x' has no shape"):
        from_onnx(m)
    assert from_onnx(m, input_shapes={"x": [1, 3, 4, 4]}).nodes[1].shape == (1, 3, 4, 4)


def test_bad_input_shapes_argument_is_refused():
    m = model([mk("Relu", ["x"], ["y"])], {"x": (1, "n")}, ["y"])
    with pytest.raises(InvalidModelError, match=r"input_shapes\['x'\] = .* is not a sequence of integers"):
        from_onnx(m, input_shapes={"x": ("one", 2)})
    with pytest.raises(InvalidModelError, match="not data inputs"):
        from_onnx(m, input_shapes={"nope": (1, 2)})
    with pytest.raises(ModelLimitError, match="dimension -2"):
        from_onnx(m, input_shapes={"x": (1, -2)})


@pytest.mark.parametrize("dim", [-1, -7])
def test_negative_input_dimension_is_refused_naming_it(dim):
    with pytest.raises(ModelLimitError, match=rf"input 'x': dimension {dim} in shape .* is negative or absurd"):
        from_onnx(model([mk("Relu", ["x"], ["y"])], {"x": (1, dim)}, ["y"]))


@pytest.mark.parametrize("dim", [2**31, 2**40, 2**62])
def test_absurd_input_dimension_is_refused_naming_it(dim):
    with pytest.raises(ModelLimitError, match=f"dimension {dim} .* is negative or absurd"):
        from_onnx(model([mk("Relu", ["x"], ["y"])], {"x": (1, dim)}, ["y"]))


def test_absurd_number_of_elements_is_refused():
    with pytest.raises(ModelLimitError, match="more than any real network"):
        from_onnx(model([mk("Relu", ["x"], ["y"])], {"x": (2**30, 2**30, 2**30)}, ["y"]))


def test_negative_and_absurd_initializer_dimensions_are_refused_naming_it():
    for dims in ([-3, 4], [2**40, 4]):
        w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
        with pytest.raises(ModelLimitError, match=r"initializer 'w': dimension"):
            from_onnx(model([mk("Add", ["x", "w"], ["y"])], {"x": (1, 4)}, ["y"], [w]))


def test_absurd_inferred_dimension_is_refused_naming_the_tensor():
    nodes = [mk("ConstantOfShape", ["big"], ["c"], name="fill"), mk("Add", ["x", "c"], ["y"])]
    with pytest.raises(ModelLimitError, match=r"tensor 'c': dimension 1099511627776"):
        from_onnx(model(nodes, {"x": (1, 4)}, ["y"], [ints("big", [2**40])]))


def test_kernel_larger_than_input_is_refused_naming_the_tensor():
    nodes = [mk("Conv", ["x", "w"], ["c"], name="conv"), mk("Relu", ["c"], ["y"])]
    m = model(nodes, {"x": (1, 3, 2, 2)}, ["y"], [weight("w", 4, 3, 5, 5)])
    with pytest.raises(InvalidModelError, match=r"tensor 'c' \(output of node 'conv' \(Conv\)\) would have a negative"):
        from_onnx(m)


def test_slice_after_a_negative_dimension_does_not_abort_the_process(tmp_path):
    # onnx 1.23's Slice inference asserts (aborting the interpreter) on a negative input dimension, which
    # a convolution with a kernel larger than its input produces; run isolated so a regression cannot
    # take the test session down with it
    nodes = [
        mk("Conv", ["x", "w"], ["c"], name="conv"),
        mk("Slice", ["c", "starts", "ends", "axes"], ["y"], name="slice"),
    ]
    inits = [weight("w", 4, 3, 5, 5), ints("starts", [0]), ints("ends", [1]), ints("axes", [3])]
    path = tmp_path / "model.onnx"
    path.write_bytes(model(nodes, {"x": (1, 3, 2, 2)}, ["y"], inits).SerializeToString())
    code = f"""
        from archscore.errors import InvalidModelError
        from archscore.graph import from_onnx
        try:
            from_onnx({str(path)!r})
        except InvalidModelError as exc:
            print(exc)
    """
    result = run_isolated(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tensor 'c' (output of node 'conv' (Conv)) would have a negative dimension" in result.stdout


def test_shape_arithmetic_on_an_enormous_index_tensor_stays_small_and_fast():
    # ONNX data propagation would materialise 2**31 dimensions here (minutes, gigabytes)
    index = TensorProto(name="idx", data_type=TensorProto.INT64, dims=[2**31 - 1])
    nodes = [
        mk("Shape", ["x"], ["s"]),
        mk("Gather", ["s", "idx"], ["g"], axis=0),
        mk("Reshape", ["x", "g"], ["r"]),
        mk("Relu", ["r"], ["y"]),
    ]
    assert_bounded(lambda: from_onnx(model(nodes, {"x": (1, 4, 4, 4)}, ["y"], [index])))


def test_shape_arithmetic_never_builds_huge_arrays():
    # three 512-element index vectors broadcast by Where would be 2**27 elements (1 GiB)
    scalars = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("zero", 0), ("n", 512), ("one", 1))]
    nodes = [
        mk("Range", ["zero", "n", "one"], ["r"]),
        mk("Unsqueeze", ["r", "ax12"], ["a"]),
        mk("Unsqueeze", ["r", "ax02"], ["b"]),
        mk("Cast", ["r"], ["rb"], to=TensorProto.BOOL),
        mk("Unsqueeze", ["rb", "ax01"], ["c"]),
        mk("Where", ["c", "a", "b"], ["w"]),
        mk("Shape", ["w"], ["s"]),
        mk("ConstantOfShape", ["s"], ["big"]),
        mk("Add", ["x", "big"], ["y"]),
    ]
    axes = [ints("ax12", [1, 2]), ints("ax02", [0, 2]), ints("ax01", [0, 1])]
    assert_bounded(lambda: from_onnx(model(nodes, {"x": (1, 1, 1)}, ["y"], scalars + axes)))


def assert_bounded(parse, seconds: float = 10, mib: int = 200) -> None:
    """``parse`` returns or raises an archscore error, within ``seconds`` and ``mib`` of new peak memory."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with contextlib.suppress(ArchscoreError):
        parse()
    assert time.perf_counter() - start < seconds
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < mib * 1024  # KiB on Linux


# -- weights and external data ------------------------------------------------------------------------
def test_weights_given_as_inputs_parse_like_embedded_weights():
    embedded = conv_relu()
    no_params = copy.deepcopy(embedded)  # what export_params=False produces
    for t in no_params.graph.initializer:
        no_params.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    del no_params.graph.initializer[:]
    assert from_onnx(no_params) == from_onnx(embedded)


def test_initializers_without_data_parse_like_embedded_weights():
    embedded = conv_relu()
    stripped = copy.deepcopy(embedded)
    for t in stripped.graph.initializer:
        t.ClearField("raw_data")
        t.ClearField("float_data")
    assert from_onnx(stripped) == from_onnx(embedded)


def test_missing_external_data_file_parses_like_embedded_weights(tmp_path):
    embedded = conv_relu()
    path = external(embedded, tmp_path)
    (tmp_path / "weights.bin").unlink()
    assert from_onnx(path) == from_onnx(embedded)
    assert from_onnx(path.read_bytes()) == from_onnx(embedded)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "/dev/zero", "sub/../../../x.bin"])
def test_external_data_outside_the_model_folder_is_never_read(tmp_path, location):
    embedded = conv_relu()
    path = external(embedded, tmp_path / "model")
    relocate(path, location)
    assert from_onnx(path) == from_onnx(embedded)


def test_external_data_absolute_path_is_never_read(tmp_path):
    embedded = conv_relu()
    path = external(embedded, tmp_path / "model")
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"\x7f" * 10_000)
    relocate(path, str(elsewhere))
    assert from_onnx(path) == from_onnx(embedded)


def test_external_data_on_a_fifo_does_not_hang(tmp_path):
    embedded = conv_relu()
    path = external(embedded, tmp_path)
    (tmp_path / "weights.bin").unlink()
    os.mkfifo(tmp_path / "weights.bin")  # opening it for reading would block forever
    code = f"""
        from archscore.graph import from_onnx
        g = from_onnx({str(path)!r})
        print(len(g), g.total_params)
    """
    result = run_isolated(code, timeout=60)
    assert result.returncode == 0, result.stderr
    expected = from_onnx(embedded)
    assert result.stdout.split() == [str(len(expected)), str(expected.total_params)]


def test_constant_node_with_external_data_is_never_read(tmp_path, monkeypatch):
    # a small Constant is read by value; one whose data is external must not be read from the file (which
    # onnx resolves against the current directory): its axes [2, 3] would make this a global pooling
    (tmp_path / "axes.bin").write_bytes(np.array([2, 3], np.int64).tobytes())
    value = TensorProto(name="v", data_type=TensorProto.INT64, dims=[2], data_location=TensorProto.EXTERNAL)
    value.external_data.add(key="location", value="axes.bin")
    nodes = [mk("Constant", [], ["axes"], value=value), mk("ReduceMean", ["x", "axes"], ["y"])]
    path = tmp_path / "model.onnx"
    path.write_bytes(model(nodes, {"x": (1, 3, 8, 8)}, ["y"], opset=18).SerializeToString())
    monkeypatch.chdir(tmp_path)
    (node,) = from_onnx(path).nodes[1:]
    assert node.op == "reduce"
    assert node.attr("axes") is None  # unknown: never read


# -- size limits -------------------------------------------------------------------------------------
def test_file_above_max_bytes_is_refused_naming_size_and_limit(tmp_path):
    path = tmp_path / "big.onnx"
    path.write_bytes(example_path("resnet_small").read_bytes())
    size = path.stat().st_size
    with pytest.raises(ModelLimitError, match=rf"big\.onnx: {size:,} bytes is above the limit of 100,000"):
        from_onnx(path, max_bytes=100_000)
    with pytest.raises(ModelLimitError, match=r"the given bytes: .* above the limit of 1,000"):
        from_onnx(path.read_bytes(), max_bytes=1_000)
    with pytest.raises(ModelLimitError, match=r"the given ModelProto: .* above the limit of 1,000"):
        from_onnx(onnx.load(path), max_bytes=1_000)
    assert len(from_onnx(path, max_bytes=size)) > 10


def test_graph_above_max_nodes_is_refused_naming_count_and_limit():
    with pytest.raises(ModelLimitError, match="has 2,000 nodes, above the limit of 1,000"):
        from_onnx(relu_chain(2_000), max_nodes=1_000)


def test_graph_with_50000_nodes_parses_correctly():
    start = time.perf_counter()
    g = from_onnx(relu_chain(50_000))
    assert time.perf_counter() - start < 60
    assert len(g) == 50_001
    assert [n.op for n in g.nodes[:2]] == ["input", "relu"]
    assert all(n.shape == (1, 8) for n in g.nodes)
    assert g.edges[-1] == (49_999, 50_000)


def test_wide_graph_and_many_outputs_parse_in_linear_time():
    """Four times the nodes take about four times as long, not sixteen (quadratic passes once took
    14 s and 66 s at 20,000 nodes). A ratio of two sizes, each the best of two runs, so a busy
    machine slows both sides alike."""

    def parse_both(n: int) -> float:
        nodes = [mk("Relu", ["x"], [f"t{i}"]) for i in range(n)]
        nodes.append(mk("Concat", [f"t{i}" for i in range(n)], ["y"], axis=1))
        wide = model(nodes, {"x": (1, 2)}, ["y"])
        many_outputs = relu_chain(n)
        many_outputs.graph.output.extend(helper.make_tensor_value_info(f"t{i}", 1, None) for i in range(n - 1))
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            g = from_onnx(wide)
            assert g.nodes[-1].shape == (1, 2 * n)
            assert len(from_onnx(many_outputs).outputs) == n
            best = min(best, time.perf_counter() - start)
        return best

    small, large = parse_both(4_000), parse_both(16_000)
    assert large / small < 8, (small, large)  # linear: ~4; quadratic: ~16


def test_tensor_read_50000_times_by_one_node_parses_quickly():
    nodes = [mk("Relu", ["x"], ["r"]), mk("Concat", ["r"] * 50_000, ["y"], axis=1)]
    start = time.perf_counter()
    g = from_onnx(model(nodes, {"x": (1, 4)}, ["y"]))
    assert time.perf_counter() - start < 10
    assert g.nodes[-1].shape == (1, 200_000)
    assert len(g.nodes[-1].inputs) == 50_000


def test_graph_reading_too_many_tensors_is_refused_naming_count_and_limit():
    nodes = [mk("Relu", ["x"], ["r"]), mk("Sum", ["r"] * 9_000, ["y"])]
    with pytest.raises(ModelLimitError, match="nodes read 9,001 tensors, above the limit of 8,000"):
        from_onnx(model(nodes, {"x": (1, 4)}, ["y"]), max_nodes=1_000)


# -- the caller's objects ------------------------------------------------------------------------------
def test_given_model_proto_is_not_modified(tmp_path):
    m = onnx.load(example_path("vit_small"))
    reordered = copy.deepcopy(m)
    nodes = list(reordered.graph.node)[::-1]
    del reordered.graph.node[:]
    reordered.graph.node.extend(nodes)
    refs = onnx.load_model(external(conv_relu(), tmp_path), load_external_data=False)
    for proto in (m, reordered, refs):
        before = proto.SerializeToString()
        from_onnx(proto)
        assert proto.SerializeToString() == before
