"""Command line: start the server (stdio or TCP), or run a sub-command such as `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from assist_server import __version__


def _logging(verbosity: int, log_file: str | None) -> None:
    """Log to stderr or a file, never stdout (it carries the protocol)."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pygls logs every message it sends at INFO: only show that when asked for everything.
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbosity > 2 else logging.WARNING)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _tcp_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def _settings_arg(value: str) -> dict[str, Any]:
    """--settings takes a JSON object or @path to a JSON file."""
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"--settings: {exc}") from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError("--settings must be a JSON object")
    return data


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public for tests and the README)."""
    parser = argparse.ArgumentParser(
        prog="assist-server", description="A local-first AI coding assistant as a language server."
    )
    parser.add_argument("--version", action="version", version=f"assist-server {__version__}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (default)")
    mode.add_argument(
        "--tcp",
        type=_tcp_address,
        metavar="HOST:PORT",
        help="listen for one LSP client on a TCP address",
    )
    parser.add_argument("--log-file", help="write logs to this file instead of stderr")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v: one line per completion; -vv: debug"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = sub.add_parser(
        "doctor",
        help="check that the model server answers and can complete",
        description="Check the backend, the models and a 1-token FIM request; print the "
        "settings in effect. Exit code 1 with a one-line fix when something is wrong.",
    )
    doctor.add_argument(
        "--settings",
        type=_settings_arg,
        default={},
        help='settings as JSON (the editor\'s "assist" section) or @file.json',
    )
    doctor.add_argument("--kind", choices=["ollama", "openai"], help="backend.kind")
    doctor.add_argument("--url", help="backend.url")
    doctor.add_argument("--model", help="completion.model (and chat.model unless given)")
    doctor.add_argument("--chat-model", help="chat.model")
    doctor.add_argument("--fim-template", help="completion.fimTemplate")
    doctor.add_argument("--json", action="store_true", help="print the result as JSON")
    index = sub.add_parser(
        "index",
        help="index a workspace folder (what the editor would use)",
        description="Crawl, chunk and store PATH in its index, then embed the chunks; prints "
        "files, chunks, MB, seconds and chunks/s.",
    )
    index.add_argument("path", type=Path, help="workspace root")
    index.add_argument(
        "--settings", type=_settings_arg, default={}, help="settings as JSON or @file"
    )
    index.add_argument("--no-embed", action="store_true", help="lexical index only")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    search = sub.add_parser("search", help="search a workspace's index")
    search.add_argument("path", type=Path, help="workspace root")
    search.add_argument("query", help="text or code to look for")
    search.add_argument("--mode", choices=["lexical", "vector", "hybrid"], default="hybrid")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument(
        "--settings", type=_settings_arg, default={}, help="settings as JSON or @file"
    )
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    status = sub.add_parser("status", help="what the index of a workspace holds")
    status.add_argument("path", type=Path, help="workspace root")
    status.add_argument(
        "--settings", type=_settings_arg, default={}, help="settings as JSON or @file"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    context = sub.add_parser(
        "context",
        help="show the cross-file context a completion at a cursor would use",
        description="Index the workspace (lexical, incremental), then print the snippets a "
        "completion at the cursor would put in the prompt and the prompt's token count.",
    )
    context.add_argument("--root", type=Path, required=True, help="workspace root")
    context.add_argument("--file", type=Path, required=True, help="the file being edited")
    context.add_argument("--line", type=int, required=True, help="cursor line, 0-based (LSP)")
    context.add_argument(
        "--col", type=int, required=True, help="cursor column, 0-based UTF-16 units (LSP)"
    )
    context.add_argument(
        "--settings", type=_settings_arg, default={}, help="settings as JSON or @file"
    )
    context.add_argument("--json", action="store_true", help="print the context as JSON")
    return parser


class _ProgressBar:
    """One line on stderr that redraws on a terminal and prints every 10% elsewhere."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, phase: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        unit = "files" if phase == "index" else "chunks"
        line = f"{phase:>6} {percent:3d}% {done}/{total} {unit}"
        if self._tty:
            bar = "#" * (percent // 5)
            print(f"\r{line} [{bar:<20}]", end="", file=sys.stderr, flush=True)
            if done >= total:
                print(file=sys.stderr)
        elif (phase, percent // 10) != self._last or done >= total:
            self._last = (phase, percent // 10)
            print(line, file=sys.stderr, flush=True)


def _open_index(path: Path, settings_source: dict[str, Any]) -> Any:
    from assist_server.config import parse_settings
    from assist_server.index.indexer import WorkspaceIndex

    if not path.is_dir():
        raise SystemExit(f"assist-server: {path} is not a folder")
    settings = parse_settings(settings_source)
    for problem in settings.problems:
        print(f"assist-server: {problem}", file=sys.stderr)
    workspace = WorkspaceIndex(path, settings.index, backend=settings.backend)
    if workspace.store.rebuilt:
        print(f"assist-server: index rebuilt: {workspace.store.rebuilt}", file=sys.stderr)
    return workspace


def _index(args: argparse.Namespace) -> int:
    import time

    workspace = _open_index(args.path, args.settings)
    bar = _ProgressBar()
    started = time.perf_counter()
    summary = workspace.index_all(progress=bar)
    embedded = 0 if args.no_embed else workspace.embed_pending(progress=bar)
    seconds = time.perf_counter() - started
    stats = workspace.store.stats()
    result = {
        "path": str(workspace.root),
        "index": str(workspace.store_path),
        "files": stats.files,
        "changed": summary.changed,
        "removed": summary.removed,
        "chunks": stats.chunks,
        "embedded": stats.embedded,
        "newly_embedded": embedded,
        "mb": round(summary.bytes / 1e6, 3),
        "seconds": round(seconds, 2),
        "chunks_per_second": round(summary.chunks / max(seconds, 1e-9), 1),
        "chunking_processes": summary.processes,
        "skipped": summary.report.summary(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{stats.files} files, {stats.chunks} chunks ({stats.embedded} embedded), "
            f"{result['mb']} MB read, {seconds:.1f} s, {result['chunks_per_second']} chunks/s"
        )
        print(f"index: {workspace.store_path}")
    return 0


def _search(args: argparse.Namespace) -> int:
    workspace = _open_index(args.path, args.settings)
    hits = workspace.search(args.query, limit=args.limit, mode=args.mode)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "path": h.path,
                        "start_line": h.start_line,
                        "end_line": h.end_line,
                        "symbol": h.symbol,
                        "kind": h.kind,
                        "score": round(h.score, 4),
                    }
                    for h in hits
                ],
                indent=2,
            )
        )
    else:
        for hit in hits:
            label = f" {hit.kind} {hit.symbol}" if hit.symbol else ""
            print(f"{hit.path}:{hit.start_line}-{hit.end_line}{label}  ({hit.score:.3f})")
    return 0


def _status(args: argparse.Namespace) -> int:
    workspace = _open_index(args.path, args.settings)
    stats = workspace.store.stats()
    result = {
        "path": str(workspace.root),
        "index": str(workspace.store_path),
        "files": stats.files,
        "chunks": stats.chunks,
        "embedded": stats.embedded,
        "disk_mb": round(stats.disk_bytes / 1e6, 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from assist_server.config import parse_settings
    from assist_server.engine.doctor import run_checks

    overrides: dict[str, Any] = {}
    for key, value in (
        ("backend.kind", args.kind),
        ("backend.url", args.url),
        ("completion.model", args.model),
        ("chat.model", args.chat_model or args.model),
        ("completion.fimTemplate", args.fim_template),
    ):
        if value is not None:
            overrides[key] = value
    settings = parse_settings(args.settings, overrides)
    checks = asyncio.run(run_checks(settings))
    ok = all(check.ok for check in checks) and not settings.problems
    if args.json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "settings": settings.as_dict(),
                    "problems": list(settings.problems),
                    "checks": [check.__dict__ for check in checks],
                },
                indent=2,
            )
        )
    else:
        print("settings in effect:")
        for key, value in settings.as_dict().items():
            print(f"  {key} = {json.dumps(value)}")
        for problem in settings.problems:
            print(f"  ! {problem}")
        print("checks:")
        for check in checks:
            print(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        failed = next((c for c in checks if not c.ok), None)
        if failed:
            print(f"fix: {failed.fix}")
        elif settings.problems:
            print("fix: correct the settings listed with '!' above")
    return 0 if ok else 1


def _context(args: argparse.Namespace) -> int:
    from lsprotocol import types

    from assist_server.backends import create_backend
    from assist_server.config import parse_settings
    from assist_server.context.retrieval import ContextRetriever
    from assist_server.engine.completion import CompletionEngine
    from assist_server.lsp.positions import offset_at
    from assist_server.types import CompletionRequest

    if args.line < 0 or args.col < 0:
        raise SystemExit("assist-server: --line and --col are 0-based and cannot be negative")
    path = (args.file if args.file.is_absolute() else Path.cwd() / args.file).resolve()
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise SystemExit(f"assist-server: cannot read {args.file}: {exc.strerror}") from None
    workspace = _open_index(args.root, args.settings)
    if workspace.relative(path) is None:
        raise SystemExit(f"assist-server: {args.file} is not inside {args.root}")
    workspace.index_all()
    if workspace.embeddings_enabled and workspace.status()["embedded"]:
        workspace.embedder()  # the server has its model loaded once chunks are embedded
    settings = parse_settings(args.settings)
    engine = CompletionEngine(
        create_backend(settings.backend),
        settings.completion,
        ContextRetriever.over(workspace),
    )
    offset = offset_at(text, types.Position(args.line, args.col), types.PositionEncodingKind.Utf16)
    request = CompletionRequest(text, offset, "", path=str(path))
    report = engine.context_report(request)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if "skipped" in report:
        print(f"no completion here: {report['skipped']}")
    for s in report["snippets"]:
        print(
            f"{s['path']}:{s['start_line']}-{s['end_line']}  {s['source']:<10} "
            f"score {s['score']:.4f}  {s['tokens']} tokens"
        )
    print(f"prompt: {report['prompt_tokens']} tokens")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `assist-server` command."""
    args = build_parser().parse_args(argv)
    _logging(args.verbose, args.log_file)
    commands = {
        "doctor": _doctor,
        "index": _index,
        "search": _search,
        "status": _status,
        "context": _context,
    }
    if args.command in commands:
        return commands[args.command](args)

    from assist_server.lsp.app import create_server

    server = create_server()
    if args.tcp:
        server.start_tcp(*args.tcp)
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
