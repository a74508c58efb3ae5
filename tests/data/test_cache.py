"""The graph cache returns exactly what parsing returns, survives corruption, and follows the parser version."""

from __future__ import annotations

import logging

import pytest

from archscore.data import cache as cache_module
from archscore.data.cache import GraphCache, bundled_sets
from archscore.spaces import get

SPACE = get("nb201")
CELLS = SPACE.sample(12, seed=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_cached_graphs_equal_freshly_parsed_ones(tmp_path, workers: int) -> None:
    c = GraphCache(tmp_path, workers=workers)
    first = c.graphs("nb201", CELLS, "cifar100")
    assert first == [SPACE.to_graph(x, "cifar100") for x in CELLS]
    warm = GraphCache(tmp_path).graphs("nb201", [SPACE.naslib_code(x) for x in CELLS], "cifar100")  # other spelling
    assert warm == first
    assert c.read("nb201", "cifar100").keys() == set(CELLS)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_corrupted_cache_file_is_detected_and_rebuilt(tmp_path, damage: str, caplog) -> None:
    c = GraphCache(tmp_path, workers=1)
    expected = c.graphs("nb201", CELLS[:4])
    path = c.path("nb201", "cifar10")
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    elif damage == "truncate":
        blob = blob[: len(blob) // 3]
    elif damage == "garbage":
        blob = bytearray(b"not a cache file at all")
    else:
        blob = bytearray()
    path.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="archscore.data.cache"):
        again = GraphCache(tmp_path, workers=1).graphs("nb201", CELLS[:4])
    assert again == expected
    assert damage == "empty" or "corrupted" in caplog.text
    assert GraphCache(tmp_path).read("nb201", "cifar10").keys() == set(CELLS[:4])  # rewritten whole


def test_a_new_parser_version_starts_a_fresh_cache_and_removes_the_old(tmp_path, monkeypatch) -> None:
    old = GraphCache(tmp_path, workers=1)
    old.graphs("nb201", CELLS[:2])
    monkeypatch.setattr(cache_module, "graph_version", lambda: "0123456789abcdef")
    new = GraphCache(tmp_path, workers=1)
    assert new.folder != old.folder and new.read("nb201", "cifar10") == {}
    new.graphs("nb201", CELLS[:2])
    assert not old.folder.exists() and new.folder.exists()


def test_bad_cells_fail_before_anything_is_built(tmp_path) -> None:
    from archscore.errors import InvalidCellError

    with pytest.raises(InvalidCellError, match="valid digits"):
        GraphCache(tmp_path).graphs("nb201", [CELLS[0], "999999"])
    assert not any(tmp_path.rglob("*.pkl"))
    stored = GraphCache(tmp_path).graphs("nb201", CELLS[:2])
    with pytest.raises(InvalidCellError, match="valid digits"):  # a warm shard checks the cells it does not hold
        GraphCache(tmp_path).graphs("nb201", [CELLS[0], "999999"])
    assert list(GraphCache(tmp_path).read("nb201", "cifar10").values()) == stored


def test_a_table_serves_its_graphs_through_the_cache(tmp_path) -> None:
    from archscore import data
    from archscore.errors import ArchscoreError

    fixture = data.load("nb101_fixture", target="trainable_parameters")
    graphs = fixture.graphs(cache=GraphCache(tmp_path, workers=1))
    assert graphs == [get("nb101").to_graph(c) for c in fixture.cells]
    with pytest.raises(ArchscoreError, match="mix search spaces; load one with search_space="):
        data.load("naslib_zc").graphs()


def test_the_cache_command_builds_lists_and_clears(tmp_path) -> None:
    from typer.testing import CliRunner

    from archscore import data
    from archscore.cli import app

    runner = CliRunner()
    env = {"ARCHSCORE_CACHE_DIR": str(tmp_path), "COLUMNS": "200"}
    empty = runner.invoke(app, ["data", "cache", "info"], env=env)
    assert empty.exit_code == 0 and "empty" in empty.output
    built = runner.invoke(app, ["data", "cache", "build", "nb101_fixture", "--workers", "1"], env=env)
    assert built.exit_code == 0 and "30 graphs of 1 (space, dataset) set(s) ready" in built.output
    listed = runner.invoke(app, ["data", "cache", "info"], env=env)
    assert listed.exit_code == 0 and "nb101" in listed.output and "1 shard(s)" in listed.output
    fixture = data.load("nb101_fixture")
    cache = GraphCache(tmp_path)
    assert set(cache.read("nb101", "cifar10")) == set(fixture.cells)  # what the command stored is what a load needs
    bad = runner.invoke(app, ["data", "cache", "build", "nb999"], env=env)
    assert bad.exit_code == 2 and "unknown source(s) nb999; bundled: nb201" in bad.output
    cleared = runner.invoke(app, ["data", "cache", "clear"], env=env)
    assert cleared.exit_code == 0 and not cache.shards() and not list(tmp_path.glob("graphs-*"))


def test_bundled_sets_cover_every_dataset_a_source_was_measured_on() -> None:
    sets = bundled_sets(["nb201", "hat_wmt14ende_cpu_xeon", "naslib_zc"])
    assert {("nb201", d) for d in ("cifar10", "cifar100", "imagenet16_120")} <= set(sets)
    assert len(sets["nb201", "cifar100"]) == 15_625  # rows label all three datasets: every cell on each
    assert ("hat", "wmt14ende") in sets and ("hat", "iwslt14deen") not in sets  # one task's file: that task only
    assert ("nb301", "cifar10") in sets and ("tnb101_micro", "jigsaw") in sets  # NAS-Bench-Suite-Zero's own rows
    assert all(len(set(cells)) == len(cells) for cells in sets.values())


def _few_sets() -> dict[tuple[str, str], list[str]]:
    return {
        ("nb201", "cifar10"): CELLS[:5],
        ("nb101", "cifar10"): get("nb101").sample(3, seed=4),
        ("nbgraph", "cora"): get("nbgraph").sample(3, seed=4),
    }


@pytest.mark.parametrize("chunk", [2, cache_module.CHUNK])
def test_build_fills_several_sets_with_one_pool_and_stores_each(tmp_path, monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(cache_module, "CHUNK", chunk)  # 2: each worker streams several chunks of a set
    sets = _few_sets()
    seen: list[tuple[str, str, int, int]] = []
    cache = GraphCache(tmp_path, workers=2)
    built = cache.build(sets, progress=lambda *args: seen.append(args))
    assert built == sum(len(cells) for cells in sets.values())
    finished = [(space, dataset) for space, dataset, done, missing in seen if done == missing]
    assert finished == list(sets)  # each set reported complete once, in order
    for (space, dataset), cells in sets.items():
        stored = GraphCache(tmp_path).read(space, dataset)
        assert stored == {c: get(space).to_graph(c, dataset) for c in cells}
        nodes = [n for g in stored.values() for n in g.nodes]
        assert len({id(n) for n in nodes}) == len(set(nodes))  # equal nodes are one object, whichever worker
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.pkl")}
    assert GraphCache(tmp_path, workers=2).build(sets) == 0  # everything cached: nothing built or rewritten
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.pkl")} == before


def test_build_checks_every_cell_of_every_set_before_building(tmp_path) -> None:
    from archscore.errors import InvalidCellError

    sets = _few_sets()
    sets["nb101", "cifar10"] = [*sets["nb101", "cifar10"], "not a cell"]
    with pytest.raises(InvalidCellError):
        GraphCache(tmp_path, workers=2).build(sets)
    assert not any(tmp_path.rglob("*.pkl"))  # the valid sets before it were not built either


def test_build_takes_two_spellings_of_one_set_as_one_shard(tmp_path) -> None:
    sets = {("nb201", None): CELLS[:3], ("nb201", "cifar10"): CELLS[2:6]}  # cifar10 is NB201's default dataset
    assert GraphCache(tmp_path, workers=2).build(sets) == 6
    assert GraphCache(tmp_path).read("nb201", "cifar10").keys() == set(CELLS[:6])
