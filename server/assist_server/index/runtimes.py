"""Sentence-transformers models as int8 on OpenVINO or ONNX Runtime: convert once, load fast.

On this project's 2-core CPU, all-MiniLM-L6-v2 encodes code 5.6x faster on OpenVINO (static
int8, calibrated on code) and 3.7x faster on ONNX Runtime (dynamic int8) than on torch, with the
same retrieval quality (`scripts/bench_embeddings.py`). sentence-transformers' own
`backend="onnx" | "openvino"` needs Optimum, which cannot be installed beside transformers 5, so
the steps it wraps are done here: export to ONNX with torch, quantize, then tokenizer + session +
mean pooling + L2 norm (`DirectEncoder`).

The converted model is cached under the user cache folder, in a folder named after the model,
the runtime and a digest of everything the files depend on (library versions, calibration set).
Conversion runs in a child process (`python -m assist_server.index.runtimes`): NNCF draws
progress bars on stdout, which carries the LSP protocol, and torch stays out of the server's
memory. It writes into a temporary folder that is renamed into place only when complete, with a
manifest of the files and their sizes, so an interrupted conversion never looks like a model.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import platformdirs

log = logging.getLogger(__name__)

# OpenVINO reports each `import openvino` (and NNCF each quantization) to Google Analytics, in a
# forked process, unless the user opted out in ~/intel; both fall back to no-op stubs when
# `openvino_telemetry` cannot be imported. A local-first assistant sends nothing anywhere, and a
# fork beside LanceDB's threads can deadlock the child, so the module is made unimportable.
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]

Runtime = Literal["openvino", "onnx"]
RUNTIMES: tuple[Runtime, ...] = ("openvino", "onnx")
Feeds = dict[str, npt.NDArray[np.int64]]
Session = Callable[[Feeds], npt.NDArray[np.float32]]

CONVERSION_FORMAT = 1  # bump when the converted files or the manifest change
MANIFEST = "manifest.json"
CONVERSION_TIMEOUT_S = 1800  # 30-60 s on 2 cores; a hung child must not hold the index forever
STALE_TEMP_S = 3600  # temporary folders older than this are left-overs of killed conversions
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# The small files sentence-transformers reads besides the weights, copied next to the converted
# model so that the folder is itself a sentence-transformers model folder.
MODEL_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling/config.json",
)
# Where each runtime's int8 file lives, named as sentence-transformers names them.
MODEL_FILE: dict[Runtime, str] = {
    "openvino": "openvino/openvino_model_qint8_quantized.xml",
    "onnx": "onnx/model_qint8.onnx",
}
# What each runtime's conversion imports: their versions are part of the cache key.
CONVERSION_PACKAGES: dict[Runtime, tuple[str, ...]] = {
    "openvino": ("openvino", "nncf", "onnx"),
    "onnx": ("onnxruntime", "onnx"),
}
# Calibration for OpenVINO's static int8: functions and classes from these standard-library
# modules (real code that every Python has), round-robin, in source order.
CALIBRATION_MODULES = (
    "argparse",
    "asyncio.base_events",
    "configparser",
    "csv",
    "dataclasses",
    "email.message",
    "http.client",
    "json.decoder",
    "logging",
    "shutil",
    "subprocess",
    "tarfile",
    "textwrap",
    "typing",
    "urllib.parse",
    "zipfile",
)
CALIBRATION_SIZE = 300
MIN_CALIBRATION_CHARS = 150
MAX_CALIBRATION_CHARS = 1500


class EmbeddingRuntimeError(RuntimeError):
    """The runtime is missing, the model does not fit it, or converting or loading failed."""


class ConversionFailed(EmbeddingRuntimeError):
    """The conversion itself raised (not a kill or a timeout): trying again would fail again."""


# --- encoding -----------------------------------------------------------------------------------


class DirectEncoder:
    """Tokenizer + a runtime's session + mean pooling + L2 norm: the sentence-transformers steps."""

    def __init__(self, tokenizer_file: Path, run: Session, max_length: int = 256) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.run = run

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Longest texts first (less padding per batch), back in the input order."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: npt.NDArray[np.float32] | None = None
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in index])
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            hidden = np.asarray(self.run(feeds), dtype=np.float32)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[index] = pooled
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def onnxruntime_session(path: Path, threads: int) -> Session:
    """An ONNX Runtime CPU session that returns the last hidden state."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = {i.name: i.type for i in session.get_inputs()}

    def run(feeds: Feeds) -> npt.NDArray[np.float32]:
        given = {
            name: feeds[name].astype(np.int32 if kind == "tensor(int32)" else np.int64)
            for name, kind in wanted.items()
        }
        return np.asarray(session.run(["last_hidden_state"], given)[0], dtype=np.float32)

    return run


def openvino_request(path: Path, threads: int) -> Session:
    """An OpenVINO CPU infer request (latency hint, one stream) that returns the hidden state."""
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    compiled = core.compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()
    names = [port.get_any_name() for port in compiled.inputs]
    output = compiled.output(0)

    def run(feeds: Feeds) -> npt.NDArray[np.float32]:
        result = request.infer({name: feeds[name] for name in names})
        return np.array(result[output], dtype=np.float32, copy=True)

    return run


SESSIONS: dict[Runtime, Callable[[Path, int], Session]] = {
    "openvino": openvino_request,
    "onnx": onnxruntime_session,
}


# --- converting ---------------------------------------------------------------------------------


def cpu_flavour() -> str:
    """The sentence-transformers name of the int8 config that fits this CPU."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def export_onnx(source: Path, target: Path) -> None:
    """The transformer as ONNX with dynamic batch and length; outputs last_hidden_state."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            """The token vectors sentence-transformers pools."""
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    wrapper = Wrapper(model).eval()
    example = (
        torch.tensor([[101, 7592, 2088, 102], [101, 2088, 102, 0]]),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        torch.zeros((2, 4), dtype=torch.long),
    )
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            example,
            str(target),
            dynamo=False,  # the TorchScript exporter: no onnxscript needed
            input_names=list(INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
        )


def quantize_onnx(source: Path, target: Path, flavour: str) -> None:
    """Dynamic int8 (weights per channel, activations at run time), as Optimum's CPU configs."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = {
        "WeightSymmetric": True,
        "ActivationSymmetric": False,
        # fused graphs have contrib ops that shape inference cannot type; they give floats
        "DefaultTensorType": onnx.TensorProto.FLOAT,
    }
    logging.disable(logging.WARNING)  # "consider pre-processing": shape inference, not needed
    try:
        quantize_dynamic(
            str(source),
            str(target),
            per_channel=True,
            # without VNNI, u8 x s8 products can saturate: ONNX Runtime advises a 7-bit range
            reduce_range=flavour in ("avx2", "avx512"),
            weight_type=QuantType.QInt8,
            extra_options=options,
        )
    finally:
        logging.disable(logging.NOTSET)


def convert_openvino(source: Path, target: Path) -> None:
    """An ONNX file as OpenVINO IR (fp32)."""
    import openvino as ov

    model = ov.convert_model(str(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(target), compress_to_fp16=False)


def quantize_openvino(
    source: Path, target: Path, tokenizer_file: Path, texts: Sequence[str], max_length: int = 256
) -> None:
    """Post-training static int8 with NNCF, calibrated on code (one text per sample)."""
    import nncf
    import openvino as ov
    from tokenizers import Tokenizer

    nncf.set_log_level(logging.ERROR)
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=max_length)

    def sample(text: str) -> Feeds:
        encoding = tokenizer.encode(text)
        return {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }

    model = ov.Core().read_model(str(source))
    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(texts), sample),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(texts),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(target), compress_to_fp16=False)


def calibration_texts(count: int = CALIBRATION_SIZE) -> list[str]:
    """Functions and classes of CALIBRATION_MODULES, round-robin: code to calibrate int8 on."""
    pools: list[list[str]] = []
    for name in CALIBRATION_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        try:
            source = Path(spec.origin).read_text("utf-8")
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        pool = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                code = textwrap.dedent("\n".join(lines[node.lineno - 1 : node.end_lineno]))
                if len(code) >= MIN_CALIBRATION_CHARS:
                    pool.append(code[:MAX_CALIBRATION_CHARS])
        pools.append(pool[::-1])  # popped from the end: source order
    texts: list[str] = []
    while len(texts) < count and any(pools):
        for pool in pools:
            if pool and len(texts) < count:
                texts.append(pool.pop())
    return texts


def model_layout(source: Path) -> int:
    """The model's max_seq_length, after checking its modules are what DirectEncoder does.

    DirectEncoder runs Transformer -> mean Pooling -> (Normalize); other pipelines (CLS pooling,
    dense layers) would give different vectors, so they stay on torch.
    """
    try:
        modules = json.loads((source / "modules.json").read_text("utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((source / "1_Pooling" / "config.json").read_text("utf-8"))
        config = json.loads((source / "sentence_bert_config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EmbeddingRuntimeError(
            f"{source} is not a sentence-transformers folder: {exc}"
        ) from exc
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        value
        for key, value in pooling.items()
        if key.startswith("pooling_mode_") and "mean" not in key
    )
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise EmbeddingRuntimeError(f"modules {kinds} are not Transformer, Pooling, Normalize")
    if not mean_only:
        raise EmbeddingRuntimeError("only mean pooling is supported")
    return int(config.get("max_seq_length") or 256)


def model_dimension(source: Path) -> int:
    """The vector size DirectEncoder gives for this model (mean pooling keeps hidden_size)."""
    model_layout(source)
    try:
        config = json.loads((source / "config.json").read_text("utf-8"))
        return int(config["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingRuntimeError(f"no hidden_size in {source / 'config.json'}") from exc


def convertible(name: str, source: Path, runtime: Runtime, root: Path | None = None) -> bool:
    """Whether `converted_model` has its model, or has what it needs to make it.

    Cheap (no imports): lets the index open its store for the int8 model before converting.
    """
    folder = cache_folder(name, source, runtime, root)
    if complete(folder):
        return True
    if folder.with_name(folder.name + ".failed").exists():
        return False
    needed = (*CONVERSION_PACKAGES[runtime], "onnxruntime" if runtime == "onnx" else "openvino")
    return all(importlib.util.find_spec(p) is not None for p in needed)


def convert(source: Path, target: Path, runtime: Runtime) -> None:
    """Write the int8 model for `runtime` and the files it needs into the empty folder `target`.

    The intermediate ONNX / fp32 files are made in a scratch folder inside `target` and deleted.
    """
    max_length = model_layout(source)
    for name in MODEL_FILES:
        if (source / name).exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    scratch = target / "scratch"
    onnx_file = scratch / "model.onnx"
    export_onnx(source, onnx_file)
    model_file = target / MODEL_FILE[runtime]
    model_file.parent.mkdir(parents=True, exist_ok=True)
    if runtime == "openvino":
        fp32 = scratch / "openvino_model.xml"
        convert_openvino(onnx_file, fp32)
        texts = calibration_texts()
        quantize_openvino(fp32, model_file, target / "tokenizer.json", texts, max_length)
    else:
        quantize_onnx(onnx_file, model_file, cpu_flavour())
    shutil.rmtree(scratch)


# --- the conversion cache -----------------------------------------------------------------------


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def cache_root() -> Path:
    """Where converted models are kept: ~/.cache/assist-server/embedding-models on Linux."""
    return Path(platformdirs.user_cache_dir("assist-server")) / "embedding-models"


def cache_key(name: str, source: Path, runtime: Runtime) -> dict[str, Any]:
    """Everything the converted files depend on; its digest names the cache folder."""
    try:
        config = hashlib.sha256((source / "config.json").read_bytes()).hexdigest()[:16]
        weights = {
            p.name: p.stat().st_size
            for p in sorted(source.iterdir())
            if p.suffix in (".safetensors", ".bin")
        }
    except OSError as exc:
        raise EmbeddingRuntimeError(f"cannot read the model at {source}: {exc}") from exc
    key: dict[str, Any] = {
        "format": CONVERSION_FORMAT,
        "model": name,
        "config": config,
        "weights": weights,
        "runtime": runtime,
        "versions": {p: _version(p) for p in ("torch", *CONVERSION_PACKAGES[runtime])},
    }
    if runtime == "openvino":
        key["calibration"] = [
            CALIBRATION_SIZE,
            list(CALIBRATION_MODULES),
            f"{sys.version_info[0]}.{sys.version_info[1]}",
        ]
    else:
        key["flavour"] = cpu_flavour()
    return key


def cache_folder(name: str, source: Path, runtime: Runtime, root: Path | None = None) -> Path:
    """The folder of this model's conversion for this runtime (existing or not)."""
    key = cache_key(name, source, runtime)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:]
    return (root or cache_root()) / f"{slug}-{runtime}-int8-{digest}"


def complete(folder: Path) -> bool:
    """True when the folder's manifest lists files that are all there with their sizes."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
        files: dict[str, int] = manifest["files"]
        return bool(files) and all((folder / f).stat().st_size == s for f, s in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def discard(folder: Path) -> None:
    """Move a folder aside, then delete it: a reader never sees it half-deleted."""
    if not folder.exists():
        return
    aside = folder.with_name(f".{folder.name}.discard-{uuid.uuid4().hex[:8]}")
    try:
        folder.rename(aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)


def _clean_stale(root: Path) -> None:
    """Delete temporary folders left by conversions that were killed long ago."""
    now = time.time()
    for leftover in root.glob(".*.tmp-*"):
        try:
            if now - leftover.stat().st_mtime > STALE_TEMP_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def _convert_in_child(source: Path, target: Path, runtime: Runtime) -> None:
    """Run `convert` in a child process; its stdout (progress bars) goes nowhere."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (package_parent, os.environ.get("PYTHONPATH")) if p
        ),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    command = [
        sys.executable,
        "-m",
        "assist_server.index.runtimes",
        runtime,
        str(source),
        str(target),
    ]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            timeout=CONVERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddingRuntimeError(f"converting to {runtime} failed: {exc}") from exc
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        # A negative code is a signal (the server shutting down, the OOM killer): worth a retry.
        failure = ConversionFailed if done.returncode > 0 else EmbeddingRuntimeError
        raise failure(
            f"converting to {runtime} failed (exit {done.returncode}): "
            + (lines[-1] if lines else "no message")
        )


def converted_model(name: str, source: Path, runtime: Runtime, root: Path | None = None) -> Path:
    """The cached int8 conversion of the model at `source`, made now if it is not there yet.

    A folder without a complete manifest (interrupted, truncated, edited) is discarded and made
    again. A conversion that failed is not tried again on every start (a marker file next to the
    folder says why; deleting it retries). Blocks for the conversion (30-60 s on 2 cores): call
    it from a worker thread.
    """
    folder = cache_folder(name, source, runtime, root)
    if complete(folder):
        return folder
    failed = folder.with_name(folder.name + ".failed")
    if failed.exists():
        reason = failed.read_text("utf-8", "replace").strip()
        raise EmbeddingRuntimeError(f"{reason} (earlier; delete {failed} to try again)")
    missing = [p for p in CONVERSION_PACKAGES[runtime] if importlib.util.find_spec(p) is None]
    if missing:
        raise EmbeddingRuntimeError(f"converting to {runtime} needs {', '.join(missing)}")
    model_layout(source)  # an unsupported model is refused before minutes of work
    try:
        return _convert_into(folder, name, source, runtime)
    except ConversionFailed as exc:
        failed.write_text(str(exc), encoding="utf-8")
        raise
    except OSError as exc:  # the cache folder is not writable, the disk is full
        raise EmbeddingRuntimeError(f"cannot write the converted model to {folder}: {exc}") from exc


def _convert_into(folder: Path, name: str, source: Path, runtime: Runtime) -> Path:
    """Convert into a temporary folder next to `folder`, then rename it into place."""
    if folder.exists():
        log.warning("converted embedding model at %s is incomplete; converting again", folder)
        discard(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(folder.parent)
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    log.info("converting %s to %s int8 once, into %s", name, runtime, folder)
    started = time.perf_counter()
    try:
        _convert_in_child(source, temp, runtime)
        files = {
            p.relative_to(temp).as_posix(): p.stat().st_size
            for p in sorted(temp.rglob("*"))
            if p.is_file()
        }
        if MODEL_FILE[runtime] not in files:
            raise EmbeddingRuntimeError(f"converting to {runtime} wrote no {MODEL_FILE[runtime]}")
        manifest = {
            "key": cache_key(name, source, runtime),
            "files": files,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            temp.rename(folder)
        except OSError:
            if not complete(folder):  # not another process finishing first: a real failure
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    log.info("converted %s to %s int8 in %.1f s", name, runtime, time.perf_counter() - started)
    return folder


def open_encoder(folder: Path, runtime: Runtime, threads: int) -> DirectEncoder:
    """A DirectEncoder over a converted folder (imports the runtime: raises if it is missing)."""
    max_length = model_layout(folder)
    session = SESSIONS[runtime](folder / MODEL_FILE[runtime], threads)
    return DirectEncoder(folder / "tokenizer.json", session, max_length)


def main(argv: Sequence[str] | None = None) -> int:
    """The child process of `converted_model`: convert one model into an empty folder."""
    parser = argparse.ArgumentParser(description="Convert a sentence-transformers model to int8.")
    parser.add_argument("runtime", choices=RUNTIMES)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    warnings.simplefilter("ignore")
    convert(args.source, args.target, args.runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
