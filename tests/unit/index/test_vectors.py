"""The in-memory vector matrix: a file's rows replaced in place give what a full load gives."""

from __future__ import annotations

import random

import numpy as np

from assist_server.index.vectors import VectorMatrix

DIM = 16


def path_of(chunk_id: str) -> str:
    return chunk_id.split("#")[0]


def unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, DIM)).astype(np.float32)
    normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


def test_an_updated_file_has_only_its_new_rows() -> None:
    rng = np.random.default_rng(1)
    matrix = VectorMatrix(DIM, path_of)
    matrix.replace(["a#1", "a#2", "b#1"], unit(rng, 3))
    new = unit(rng, 1)
    matrix.update({"a"}, ["a#3"], new)
    assert len(matrix) == 2
    found = dict(matrix.search(new[0], 10))
    assert set(found) == {"a#3", "b#1"}
    assert found["a#3"] > 0.999


def test_updates_end_where_a_full_load_of_the_same_rows_starts() -> None:
    rng = np.random.default_rng(2)
    pick = random.Random(2)
    truth: dict[str, np.ndarray] = {}  # what the store would hold
    matrix = VectorMatrix(DIM, path_of)
    for step in range(60):
        # A file gets new rows, loses all of them, or keeps some ids with new vectors.
        path = f"f{pick.randrange(8)}"
        kept = [c for c in truth if path_of(c) == path and pick.random() < 0.5]
        for chunk in [c for c in truth if path_of(c) == path]:
            del truth[chunk]
        ids = kept + [f"{path}#{step}-{i}" for i in range(pick.randrange(0, 12))]
        vectors = unit(rng, len(ids))
        truth.update(zip(ids, vectors, strict=True))
        matrix.update({path}, ids, vectors)

    full = VectorMatrix(DIM, path_of)
    full.replace(list(truth), np.array(list(truth.values())).reshape(len(truth), DIM))
    assert len(matrix) == len(full) == len(truth)
    for query in unit(rng, 20):
        got, want = matrix.search(query, 5), full.search(query, 5)
        assert [c for c, _ in got] == [c for c, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want])
    everything = matrix.search(unit(rng, 1)[0], 10_000)
    assert sorted(c for c, _ in everything) == sorted(truth)  # no freed row comes back


def test_an_empty_matrix_finds_nothing() -> None:
    matrix = VectorMatrix(DIM, path_of)
    assert matrix.search(np.ones(DIM, dtype=np.float32), 5) == []
    matrix.update({"a"}, [], np.zeros((0, DIM), dtype=np.float32))
    assert len(matrix) == 0
