"""Vector search over an in-memory matrix of unit vectors.

LanceDB's flat search took 184 ms at 100k x 384 here and an IVF-PQ index minutes to build
(shared/findings.md); a float32 matrix product over the same rows is a few milliseconds on two
cores, and the matrix (150 MB at 100k chunks) is rebuilt from the store when embeddings change.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np


class VectorMatrix:
    """Chunk ids and their vectors; cosine top-k by one matrix-vector product."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._ids: list[str] = []
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def replace(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        """Swap in a new set of rows (built elsewhere, so searches never wait on a rebuild)."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(len(ids), self.dimension)
        with self._lock:
            self._ids = list(ids)
            self._matrix = matrix

    def search(self, query: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` ids most similar to `query`, best first, with cosine scores."""
        with self._lock:
            ids, matrix = self._ids, self._matrix
        if not ids or limit <= 0:
            return []
        scores = matrix @ np.asarray(query, dtype=np.float32).reshape(self.dimension)
        k = min(limit, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(ids[i], float(scores[i])) for i in top]
