"""Bounded parsing: the same graph as from_onnx, errors by their type, and a parse past its limit stopped."""

from __future__ import annotations

import time

import pytest

from archscore.errors import InvalidModelError, ModelLimitError
from archscore.examples import example_path
from archscore.graph import from_onnx
from archscore.graph.bounded import ParsePool, ParseTimeoutError
from archscore.testing import hostile


@pytest.fixture(scope="module")
def pool():
    with ParsePool(1, seconds=30, max_nodes=50_000) as p:
        yield p.start()


def test_a_pool_parses_paths_and_bytes_as_from_onnx_does(pool) -> None:
    path = example_path("vit_small")
    expected = from_onnx(path).to_json()
    assert pool.parse(path).to_json() == expected
    assert pool.parse(path.read_bytes()).to_json() == expected


def test_errors_come_back_with_their_type_and_message(pool) -> None:
    with pytest.raises(InvalidModelError, match="not an ONNX model"):
        pool.parse(b"garbage")
    with pytest.raises(ModelLimitError, match="rank 100,000 is above the limit of 32"):
        pool.parse(hostile.huge_rank())


@pytest.mark.parametrize("case", ["function_calls", "nested_functions"])
def test_function_calls_count_their_bodies_before_any_inference(pool, case) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelLimitError, match="once its model-local functions and subgraphs are counted"):
        pool.parse(hostile.cases((case,))[case])
    assert time.perf_counter() - t0 < 5  # refused by counting, not after expanding 10^7+ nodes


def test_a_recursive_function_is_refused(pool) -> None:
    with pytest.raises(InvalidModelError, match="calls itself"):
        pool.parse(hostile.recursive_function())


def test_a_parse_past_its_limit_is_stopped_and_the_pool_goes_on(pool) -> None:
    flood = hostile.initializer_flood()  # seconds of shape inference
    t0 = time.perf_counter()
    with pytest.raises(ParseTimeoutError, match=r"longer than the limit of 0\.2 s"):
        pool.parse(flood, seconds=0.2)
    assert time.perf_counter() - t0 < 3
    assert len(pool.parse(example_path("resnet_small"))) > 0  # a new worker took the killed one's place


def test_the_same_bytes_are_parsed_once_within_the_cache_bound() -> None:
    raw = example_path("resnet_small").read_bytes()
    with ParsePool(1, cache_nodes=60) as pool:  # networks of 23, 30 and 40 nodes
        first = pool.parse(raw)
        assert pool.parse(raw) is first  # from the cache
        assert pool.parse(example_path("resnet_small")) is not first  # paths are read afresh
        other = pool.parse(example_path("mobilenetv2_small").read_bytes())
        assert pool._cached_nodes == len(first) + len(other) <= 60
        pool.parse(example_path("vit_small").read_bytes())  # past the bound: the least recently used leaves
        assert pool._cached_nodes <= 60 and pool.parse(raw) is not first
