"""Vector search over an in-memory matrix of unit vectors.

LanceDB's flat search took 184 ms at 100k x 384 here and an IVF-PQ index minutes to build
(shared/findings.md); a float32 matrix product over the same rows is a few milliseconds on two
cores. The matrix (150 MB at 100k chunks) is loaded from the store once; after that only the
rows of files whose vectors changed are read again and written in place: reloading all of it
took 0.3-2 s of CPU at 107k chunks, after every pause in typing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

import numpy as np

GROWTH = 1.25  # spare rows allocated when the matrix must grow


class VectorMatrix:
    """Chunk ids and their vectors; cosine top-k by one matrix-vector product.

    Rows are grouped by the file each id belongs to (`path_of`), so that a file's rows can be
    replaced without touching the others. A freed row is zeroed and masked until reused.
    """

    def __init__(self, dimension: int, path_of: Callable[[str], str]) -> None:
        self.dimension = dimension
        self._path_of = path_of
        self._lock = threading.Lock()
        self._ids: list[str | None]  # of each row; None: a free row
        self._matrix: np.ndarray
        self._live: np.ndarray  # rows that hold a chunk's vector
        self._rows: dict[str, int]  # chunk id -> row
        self._by_path: dict[str, set[int]]  # file -> its rows
        self._free: list[int]
        self.replace([], np.zeros((0, dimension), dtype=np.float32))

    def __len__(self) -> int:
        return len(self._rows)

    def replace(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        """Swap in a whole new set of rows (built first, so searches never wait on a rebuild)."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(len(ids), self.dimension)
        rows = {chunk: row for row, chunk in enumerate(ids)}
        by_path: dict[str, set[int]] = {}
        for chunk, row in rows.items():
            by_path.setdefault(self._path_of(chunk), set()).add(row)
        live = np.zeros(len(ids), dtype=bool)
        live[list(rows.values())] = True  # an id listed twice keeps its last row only
        free = np.flatnonzero(~live).tolist()
        with self._lock:
            self._ids, self._matrix, self._live = list(ids), matrix, live
            self._rows, self._by_path, self._free = rows, by_path, free

    def update(self, paths: Collection[str], ids: Sequence[str], matrix: np.ndarray) -> None:
        """Drop every row of these files, then add `ids` (rows of those files) with `matrix`."""
        matrix = np.asarray(matrix, dtype=np.float32).reshape(len(ids), self.dimension)
        with self._lock:
            for path in paths:
                for row in self._by_path.pop(path, ()):
                    chunk = self._ids[row]
                    if chunk is not None:
                        del self._rows[chunk]
                    self._ids[row] = None
                    self._live[row] = False
                    self._matrix[row] = 0.0
                    self._free.append(row)
            for chunk, vector in zip(ids, matrix, strict=True):
                known = self._rows.get(chunk)
                if known is not None:
                    self._matrix[known] = vector
                    continue
                row = self._free.pop() if self._free else self._grow()
                self._rows[chunk] = row
                self._ids[row] = chunk
                self._live[row] = True
                self._by_path.setdefault(self._path_of(chunk), set()).add(row)
                self._matrix[row] = vector

    def _grow(self) -> int:
        """A new row at the end, with spare rows after it (on the free list); its index."""
        size = len(self._ids)
        grown = max(size + 1, int(size * GROWTH))
        matrix = np.zeros((grown, self.dimension), dtype=np.float32)
        matrix[:size] = self._matrix
        live = np.zeros(grown, dtype=bool)
        live[:size] = self._live
        self._matrix, self._live = matrix, live
        self._ids.extend([None] * (grown - size))
        self._free.extend(range(grown - 1, size, -1))  # popped from the end: lowest first
        return size

    def search(self, query: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` ids most similar to `query`, best first, with cosine scores."""
        vector = np.asarray(query, dtype=np.float32).reshape(self.dimension)
        with self._lock:  # rows change in place: hold the lock for the product (a few ms)
            k = min(limit, len(self._rows))
            if k <= 0:
                return []
            scores = self._matrix @ vector
            scores[~self._live] = -np.inf
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            return [(str(self._ids[i]), float(scores[i])) for i in top]
