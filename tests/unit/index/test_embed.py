"""The int8 embedding runtimes against torch, their conversion cache, the fallback, query cache."""

from __future__ import annotations

import ast
import difflib
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from assist_server.config import parse_settings
from assist_server.index import embed, runtimes
from assist_server.index.embed import (
    Int8Embedder,
    QueryCache,
    SentenceTransformerEmbedder,
    create_embedder,
)
from assist_server.index.runtimes import EmbeddingRuntimeError

# Real code no one here wrote and that does not change with our commits: with this project's
# own files, an edit could turn a docstring's two nearest functions into a near tie.
SOURCES = (Path(shutil.__file__), Path(difflib.__file__))


def real_functions() -> tuple[list[str], list[str]]:
    """Standard-library functions without their docstrings, and those docstrings' first lines."""
    chunks: list[str] = []
    queries: list[str] = []
    for name in SOURCES:
        tree = ast.parse(name.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            doc = ast.get_docstring(node)
            if not doc or len(node.body) < 2:
                continue
            node.body = node.body[1:]
            chunks.append(ast.unparse(node))
            queries.append(doc.splitlines()[0].rstrip("."))
    return chunks, queries


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def openvino_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding one real conversion (made once for the module: ~30-60 s)."""
    root = tmp_path_factory.mktemp("embedding-models")
    Int8Embedder(runtime="openvino", cache_root=root)
    return root


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every conversion started from now on (the real ones still run)."""
    started: list[Path] = []
    real = runtimes._convert_in_child

    def counted(source: Path, target: Path, runtime: runtimes.Runtime) -> None:
        started.append(target)
        real(source, target, runtime)

    monkeypatch.setattr(runtimes, "_convert_in_child", counted)
    return started


@pytest.mark.slow
def test_openvino_vectors_match_torch(
    openvino_cache: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    int8 = Int8Embedder(runtime="openvino", cache_root=openvino_cache)
    assert int8.model_id == "openvino-int8:all-MiniLM-L6-v2"
    assert int8.dimension == torch_embedder.dimension == 384
    chunks, queries = real_functions()
    assert len(chunks) >= 20
    ours, theirs = int8.encode(chunks), torch_embedder.encode(chunks)
    assert ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.98, cosines.min()
    # Each docstring finds the same nearest function with either runtime, except where torch
    # itself sees a near tie (two functions within 0.02 of cosine: int8 noise decides those).
    scores_int8 = int8.encode(queries) @ ours.T
    scores_torch = torch_embedder.encode(queries) @ theirs.T
    same = scores_int8.argmax(axis=1) == scores_torch.argmax(axis=1)
    top2 = np.sort(scores_torch, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.02
    assert clear.sum() >= 20
    assert same[clear].all()
    assert same.mean() >= 0.9
    assert int8.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_runtime_vectors_match_torch(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    pytest.importorskip("onnxruntime")  # an extra: the dev tools install it
    int8 = Int8Embedder(runtime="onnx", cache_root=tmp_path)
    assert int8.model_id == "onnx-int8:all-MiniLM-L6-v2"
    assert int8.folder.name.startswith("all-MiniLM-L6-v2-onnx-int8-")
    chunks, _ = real_functions()
    cosines = (int8.encode(chunks) * torch_embedder.encode(chunks)).sum(axis=1)
    assert cosines.min() > 0.98, cosines.min()


@pytest.mark.slow
def test_second_start_reuses_the_conversion(openvino_cache: Path, conversions: list[Path]) -> None:
    (folder,) = [p for p in openvino_cache.iterdir() if not p.name.startswith(".")]
    manifest = folder / runtimes.MANIFEST
    before = manifest.stat().st_mtime_ns
    again = Int8Embedder(runtime="openvino", cache_root=openvino_cache)
    assert again.folder == folder
    assert conversions == []
    assert manifest.stat().st_mtime_ns == before
    assert not list(folder.glob("scratch")), "intermediate files are deleted"


def _copy_of(good: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make conversions copy the `good` folder's files instead of converting (fast)."""
    made: list[Path] = []

    def copy(source: Path, target: Path, runtime: runtimes.Runtime) -> None:
        made.append(target)
        for path in good.rglob("*"):
            if path.is_file() and path.name != runtimes.MANIFEST:
                (target / path.relative_to(good)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.relative_to(good))

    monkeypatch.setattr(runtimes, "_convert_in_child", copy)
    return made


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "no manifest", "garbled", "temp left-over"])
def test_a_broken_cache_folder_is_made_again(
    openvino_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    (good,) = [p for p in openvino_cache.iterdir() if not p.name.startswith(".")]
    root = tmp_path / "cache"
    shutil.copytree(openvino_cache, root)
    folder = root / good.name
    weights = folder / runtimes.MODEL_FILE["openvino"].replace(".xml", ".bin")
    if damage == "truncated":  # killed while copying: sizes differ from the manifest
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "no manifest":  # a folder that never finished
        (folder / runtimes.MANIFEST).unlink()
    elif damage == "garbled":  # same sizes, wrong bytes: only loading finds out
        xml = folder / runtimes.MODEL_FILE["openvino"]
        xml.write_bytes(b"\0" * xml.stat().st_size)
    else:  # an interrupted conversion's temporary folder, and no model
        shutil.rmtree(folder)
        (root / f".{good.name}.tmp-x").mkdir()
    made = _copy_of(good, monkeypatch)
    embedder = Int8Embedder(runtime="openvino", cache_root=root)
    assert len(made) == 1
    assert runtimes.complete(embedder.folder)
    assert embedder.encode(["def f(): pass"]).shape == (1, 384)
    assert [p.name for p in root.iterdir() if p.name != f".{good.name}.tmp-x"] == [good.name]


def test_an_interrupted_conversion_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(source: Path, target: Path, runtime: runtimes.Runtime) -> None:
        (target / "openvino").mkdir()
        (target / "openvino" / "openvino_model_qint8_quantized.xml").write_text("<half")
        raise EmbeddingRuntimeError("converting to openvino failed (exit -9): killed")

    monkeypatch.setattr(runtimes, "_convert_in_child", killed)
    source = embed._source_folder("all-MiniLM-L6-v2")
    with pytest.raises(EmbeddingRuntimeError, match="killed"):
        runtimes.converted_model("all-MiniLM-L6-v2", source, "openvino", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cache_key_follows_runtime_and_library_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    source = embed._source_folder("all-MiniLM-L6-v2")
    openvino = runtimes.cache_folder("all-MiniLM-L6-v2", source, "openvino", Path("/c"))
    onnx = runtimes.cache_folder("all-MiniLM-L6-v2", source, "onnx", Path("/c"))
    assert openvino.name.startswith("all-MiniLM-L6-v2-openvino-int8-")
    assert onnx.name.startswith("all-MiniLM-L6-v2-onnx-int8-")
    monkeypatch.setattr(runtimes, "_version", lambda name: "999")
    newer = runtimes.cache_folder("all-MiniLM-L6-v2", source, "openvino", Path("/c"))
    assert newer != openvino
    key = runtimes.cache_key("all-MiniLM-L6-v2", source, "openvino")
    assert json.dumps(key) and key["versions"]["openvino"] == "999"


class Counting:
    """An embedder that counts its encode calls."""

    model_id = "counting"
    dimension = 3

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_query_cache_encodes_a_repeated_query_once() -> None:
    embedder = Counting()
    cache = QueryCache(size=2)
    first = cache.vector(embedder, "parse settings")
    again = cache.vector(embedder, "parse settings")
    assert again is first and embedder.calls == 1
    assert not first.flags.writeable
    cache.vector(embedder, "b")
    cache.vector(embedder, "c")  # pushes "parse settings" out (size 2)
    cache.vector(embedder, "parse settings")
    assert embedder.calls == 4


@pytest.fixture
def warnings_of_embed(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="assist_server.index.embed"):
        yield caplog


@pytest.mark.slow
def test_missing_runtime_falls_back_to_torch(
    monkeypatch: pytest.MonkeyPatch, warnings_of_embed: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    settings = parse_settings({"index": {"embeddingRuntime": "auto"}})
    embedder = create_embedder(settings.index, settings.backend)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.model_id == "sentence-transformers:all-MiniLM-L6-v2"
    (record,) = warnings_of_embed.records
    assert "instead of openvino int8" in record.getMessage()
    assert "openvino is not installed" in record.getMessage()


@pytest.mark.slow
def test_failed_conversion_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_of_embed: pytest.LogCaptureFixture
) -> None:
    tries: list[Path] = []

    def fails(source: Path, target: Path, runtime: runtimes.Runtime) -> None:
        tries.append(target)
        raise runtimes.ConversionFailed("converting to openvino failed (exit 1): nncf exploded")

    monkeypatch.setattr(runtimes, "cache_root", lambda: tmp_path)
    monkeypatch.setattr(runtimes, "_convert_in_child", fails)
    settings = parse_settings({"index": {"embeddingRuntime": "openvino"}})
    problems: list[str] = []
    embedder = create_embedder(settings.index, settings.backend, problems)
    assert embedder.model_id == "sentence-transformers:all-MiniLM-L6-v2"
    (record,) = warnings_of_embed.records
    assert "nncf exploded" in record.getMessage()
    assert problems == [record.getMessage()]
    # The next start does not spend another minute on a conversion that fails the same way.
    assert create_embedder(settings.index, settings.backend).model_id == embedder.model_id
    assert len(tries) == 1
    assert "delete" in warnings_of_embed.records[-1].getMessage()
    (marker,) = tmp_path.glob("*.failed")
    marker.unlink()
    create_embedder(settings.index, settings.backend)
    assert len(tries) == 2


def test_torch_runtime_never_touches_the_fast_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("no conversion for the torch runtime")

    monkeypatch.setattr(embed, "Int8Embedder", boom)
    monkeypatch.setattr(embed, "SentenceTransformerEmbedder", lambda name: Counting())
    settings = parse_settings({"index": {"embeddingRuntime": "torch"}})
    assert isinstance(create_embedder(settings.index, settings.backend), Counting)
    expected = embed.expected_model_id(settings.index, settings.backend)
    assert expected == "sentence-transformers:all-MiniLM-L6-v2"


def test_unsupported_model_layout_is_refused(tmp_path: Path) -> None:
    source = embed._source_folder("all-MiniLM-L6-v2")
    shutil.copytree(source, tmp_path / "m", ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = tmp_path / "m" / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(EmbeddingRuntimeError, match="mean pooling"):
        runtimes.model_layout(tmp_path / "m")
    assert runtimes.model_layout(source) == 256


def test_openvino_sends_no_telemetry() -> None:
    # In a fresh interpreter: pytest itself already silences NNCF's telemetry in this one.
    code = (
        "import sys, assist_server.index.runtimes, openvino, nncf\n"
        "from openvino.tools.ovc import telemetry_utils\n"
        "from nncf.telemetry import wrapper\n"
        "assert sys.modules['openvino_telemetry'] is None\n"
        "print(telemetry_utils.tm.__name__, type(wrapper.telemetry).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    # nncf's stub is a MagicMock; its real sender would be an NNCFTelemetry.
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "MagicMock"]
