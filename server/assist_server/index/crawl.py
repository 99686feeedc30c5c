"""Walk a workspace folder and yield the files worth indexing, one at a time.

A file is skipped when an ignore file (.gitignore, nested ones applying to their own folder,
.ignore, .assistignore, .git/info/exclude) or the `index.exclude` setting excludes it; when it looks
like a secret (`DEFAULT_SECRET_PATTERNS` plus `index.secretPatterns`: this check wins over every
ignore file and negation, and such files are never opened); when it sits in a vendored or generated
folder (`DEFAULT_VENDORED_DIRS`); and when it is binary, minified or over `index.maxFileBytes`.

Symlinked files and folders inside the root are followed; a symlink that leads outside the root is
skipped ("ignored"), and a folder that leads back to a folder being walked, or to one already
walked through another symlink, is skipped ("symlink-loop"). A file that vanishes or cannot be read
mid-crawl is counted in the `CrawlReport`, never raised.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pathspec

from assist_server.config import IndexSettings

log = logging.getLogger(__name__)

SkipReason = Literal[
    "ignored",  # an ignore file, index.exclude, a VCS folder, or a symlink leading out of the root
    "secret",  # matches a secret pattern: never opened
    "binary",  # binary extension, or a NUL byte in the first 8 KB
    "too-large",  # more than CrawlRules.max_file_bytes
    "minified",  # *.min.js / *.min.css, or very long lines
    "vendored",  # inside a vendored or generated folder
    "unreadable",  # permission denied, a dangling symlink, a FIFO/socket/device
    "symlink-loop",  # a symlinked folder already being (or already) walked
    "vanished",  # deleted between listing and reading
]

#: Files that hold credentials. Gitignore syntax, matched case-insensitively anywhere in the tree
#: (a pattern with a "/" matches that path below any folder). Settings can add patterns, never
#: remove these, and no ignore-file negation re-includes them.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    # dotenv and direnv files
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    # private keys and key stores
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    # credential files of common tools
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".htpasswd",
    ".git-credentials",
    ".aws/credentials",
    ".docker/config.json",
    ".kube/config",
    "credentials",
    "credentials.json",
    "*service-account*.json",
    "*service_account*.json",
    # password databases, secret bundles, infrastructure state (holds secrets in plain text)
    "*.kdbx",
    "secrets.*",
    "*.tfstate",
    "*.tfstate.*",
)

#: Folders of third-party or generated code, skipped wherever they appear (shell-style names).
DEFAULT_VENDORED_DIRS: tuple[str, ...] = (
    # JavaScript / TypeScript packages and build output
    "node_modules",
    "bower_components",
    "jspm_packages",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".angular",
    ".parcel-cache",
    ".turbo",
    ".yarn",
    # Python environments and caches
    ".venv",
    "venv",
    "env",
    "__pycache__",
    "*.egg-info",
    ".eggs",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    # build output of many toolchains (Rust/Maven: target, Elixir: _build, Bazel: bazel-*)
    "dist",
    "build",
    "target",
    "_build",
    "bazel-*",
    ".gradle",
    ".dart_tool",
    ".stack-work",
    ".terraform",
    # vendored dependencies (Go, PHP, Ruby, CocoaPods)
    "vendor",
    "third_party",
    "Pods",
    ".bundle",
    # editor state, caches and coverage reports
    ".idea",
    ".vscode",
    ".vs",
    ".cache",
    "coverage",
    "htmlcov",
    ".nyc_output",
)

#: Version-control folders: always skipped ("ignored"), whatever the rules say.
VCS_DIRS: frozenset[str] = frozenset({".git", ".hg", ".svn", ".bzr", ".jj"})

#: Ignore files read in every folder, in rising precedence (a later file's "!x" beats an earlier x).
IGNORE_FILES: tuple[str, ...] = (".gitignore", ".ignore", ".assistignore")

#: Extensions (lower case) of files that are binary without looking inside.
BINARY_EXTENSIONS: frozenset[str] = frozenset(
    {
        # images
        *("png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "tif", "tiff", "psd"),
        *("heic", "avif", "xcf"),
        # audio and video
        *("mp3", "mp4", "m4a", "wav", "ogg", "flac", "aac", "avi", "mov", "mkv", "webm"),
        # archives and packages
        *("zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "jar", "war", "ear"),
        *("whl", "egg", "deb", "rpm", "dmg", "iso", "apk", "ipa"),
        # compiled code and libraries
        *("pyc", "pyo", "so", "dylib", "dll", "exe", "o", "a", "lib", "obj", "class", "wasm"),
        # documents and fonts
        *("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp"),
        *("ttf", "otf", "woff", "woff2", "eot"),
        # databases, data and model weights
        *("sqlite", "sqlite3", "db", "npy", "npz", "pkl", "pickle", "parquet", "feather"),
        *("h5", "hdf5", "onnx", "pt", "pth", "ckpt", "safetensors", "gguf", "bin"),
    }
)

MINIFIED_SUFFIXES: tuple[str, ...] = (".min.js", ".min.mjs", ".min.cjs", ".min.css")

#: Prose, where a paragraph is often one long line: only the longest-line rule marks it minified.
PROSE_EXTENSIONS: frozenset[str] = frozenset({"md", "markdown", "rst", "txt", "adoc", "org"})

SNIFF_BYTES = 64 * 1024  # how much of a file the binary and minified checks read
NUL_SNIFF_BYTES = 8 * 1024  # a NUL byte in this head means binary (as git decides)
MAX_AVERAGE_LINE = 300
MAX_LINE = 5000

# Never block on a FIFO that replaced a file between listing and opening.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class CrawledFile:
    """A file worth indexing: where it is, and the size and mtime seen while crawling."""

    path: Path  # absolute, below the root as given (a symlinked file keeps the link's path)
    rel_path: str  # relative to the root, with forward slashes
    size: int
    mtime_ns: int


@dataclass
class CrawlReport:
    """What one crawl looked at, kept, and skipped and why, with a few example paths per reason.

    A skipped folder counts once in `skipped` (its example ends in "/") and its contents are never
    listed; `files_seen` counts the files looked at, kept or skipped.
    """

    files_seen: int = 0
    files_kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 5

    def skip(self, reason: SkipReason, rel_path: str) -> None:
        """Count one skipped file or folder."""
        self.skipped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < self.max_examples:
            examples.append(rel_path)

    def summary(self) -> str:
        """One line for the log: "12 of 40 files kept; skipped: 20 ignored (e.g. a.log), ..."."""
        parts = [
            f"{count} {reason} (e.g. {', '.join(self.examples.get(reason, []))})"
            for reason, count in sorted(self.skipped.items())
        ]
        return f"{self.files_kept} of {self.files_seen} files kept; skipped: " + (
            "; ".join(parts) or "nothing"
        )


@dataclass(frozen=True)
class CrawlRules:
    """What to leave out, beyond the ignore files found in the workspace.

    `exclude` and `extra_secret_patterns` use gitignore syntax relative to the root; `exclude` is
    applied after the ignore files, so a "!pattern" in it re-includes what they exclude (except
    secrets: the secret patterns win over everything).
    """

    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    extra_secret_patterns: tuple[str, ...] = ()
    vendored_dirs: tuple[str, ...] = DEFAULT_VENDORED_DIRS
    ignore_files: tuple[str, ...] = IGNORE_FILES

    @classmethod
    def from_settings(cls, settings: IndexSettings) -> CrawlRules:
        """The rules the `index.*` settings ask for."""
        return cls(
            exclude=settings.exclude,
            max_file_bytes=settings.max_file_bytes,
            extra_secret_patterns=settings.secret_patterns,
        )


def _compile(lines: Iterable[str], origin: str) -> pathspec.GitIgnoreSpec | None:
    """A matcher for gitignore lines; invalid lines are dropped with a warning, never raised."""
    lines = list(lines)
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError:
        valid = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except ValueError:
                log.warning("%s: ignoring invalid pattern %r", origin, line)
            else:
                valid.append(line)
        spec = pathspec.GitIgnoreSpec.from_lines(valid)
    return spec if spec.patterns else None


def _anywhere(pattern: str) -> str:
    """Let a secret pattern with an inner "/" (".aws/credentials") match below any folder."""
    body = pattern.rstrip("/")
    if "/" in body and not pattern.startswith(("/", "**/")):
        return "**/" + pattern
    return pattern


@dataclass(frozen=True)
class _Layer:
    """The patterns of one folder's ignore files (or of the settings), relative to `base`."""

    base: str  # rel_path of the folder, "" for the root
    spec: pathspec.GitIgnoreSpec


class _Matchers:
    """The rules compiled once per crawl."""

    def __init__(self, rules: CrawlRules) -> None:
        # Defaults and additions are separate matchers: a "!x" among the additions cannot
        # un-match a default; negations there are dropped anyway.
        extra = [p for p in rules.extra_secret_patterns if not p.strip().startswith("!")]
        self.secrets = [
            spec
            for spec in (
                _compile((_anywhere(p).lower() for p in DEFAULT_SECRET_PATTERNS), "secrets"),
                _compile((_anywhere(p).lower() for p in extra), "index.secretPatterns"),
            )
            if spec is not None
        ]
        exclude = _compile(rules.exclude, "index.exclude")
        self.exclude = _Layer("", exclude) if exclude is not None else None
        vendored = "|".join(fnmatch.translate(name) for name in rules.vendored_dirs)
        self.vendored = re.compile(vendored) if vendored else None
        self.ignore_files = rules.ignore_files
        self.max_file_bytes = rules.max_file_bytes

    def is_secret(self, rel_path: str, is_dir: bool) -> bool:
        path = rel_path.lower() + ("/" if is_dir else "")
        return any(spec.match_file(path) for spec in self.secrets)

    def is_vendored(self, name: str) -> bool:
        return self.vendored is not None and self.vendored.fullmatch(name) is not None

    def is_ignored(self, rel_path: str, is_dir: bool, layers: tuple[_Layer, ...]) -> bool:
        # The deepest layer with a matching pattern decides, the settings' exclude last of all.
        verdict: bool | None = None
        for layer in (*layers, self.exclude) if self.exclude else layers:
            sub = rel_path[len(layer.base) + 1 :] if layer.base else rel_path
            include = layer.spec.check_file(sub + "/" if is_dir else sub).include
            if include is not None:
                verdict = include
        return bool(verdict)

    def layer(self, folder: Path, rel: str, names: set[str]) -> _Layer | None:
        lines: list[str] = []
        sources = [folder / name for name in self.ignore_files if name in names]
        if not rel:  # git's per-clone excludes, below every ignore file in precedence
            sources.insert(0, folder / ".git" / "info" / "exclude")
        for source in sources:
            try:
                lines += _read(source).decode("utf-8", errors="replace").splitlines()
            except OSError:
                continue  # absent, vanished or unreadable: no patterns from it
        spec = _compile(lines, str(folder)) if lines else None
        return _Layer(rel, spec) if spec is not None else None


class _Only:
    """The rel paths a crawl is limited to, and the folders that lead to them."""

    def __init__(self, rels: Iterable[str]) -> None:
        self.targets = set(rels)
        self.leading = {
            "/".join(parts[:i])
            for parts in (rel.split("/") for rel in self.targets)
            for i in range(1, len(parts))
        }

    def keeps(self, rel: str) -> bool:
        return rel in self.targets or rel in self.leading


def _relative(paths: Iterable[Path | str], root: Path, real_root: str) -> Iterator[str]:
    """The rel paths of those `paths` that lie below the root ("" for the root itself)."""
    for path in paths:
        if not os.path.isabs(path):
            rel = Path(os.path.normpath(path)).as_posix()
            if rel != ".." and not rel.startswith("../"):
                yield "" if rel == "." else rel
            continue
        # As given first; then with its folder resolved (the root or the path may be spelt
        # through a symlink), keeping the file's own name so a symlinked file stays itself.
        absolute = os.path.abspath(path)
        resolved = os.path.join(
            os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute)
        )
        for base, candidate in ((str(root), absolute), (real_root, resolved)):
            rel = os.path.relpath(candidate, base)
            if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
                yield "" if rel == os.curdir else rel.replace(os.sep, "/")
                break


@dataclass
class _Folder:
    """A folder being walked: its sorted entries not yet looked at."""

    path: Path
    rel: str
    identity: tuple[int, int]
    layers: tuple[_Layer, ...]
    entries: Iterator[os.DirEntry[str]]
    linked: bool  # reached through a symlinked folder
    only: _Only | None  # None: every entry


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether the entry is a folder, following symlinks; False if that cannot be told."""
    try:
        return entry.is_dir()
    except OSError:  # e.g. a symlink into a folder we may not search
        return False


def _is_symlink(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _sort_key(entry: os.DirEntry[str]) -> str:
    # Folders sort as "name/", so the files come out sorted by rel_path across the whole tree.
    return entry.name + "/" if _is_dir(entry) else entry.name


def _reason(exc: OSError) -> SkipReason:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "vanished"
    if exc.errno == errno.ELOOP:
        return "symlink-loop"
    return "unreadable"


def crawl(
    root: Path,
    rules: CrawlRules,
    report: CrawlReport | None = None,
    *,
    only: Iterable[Path | str] | None = None,
) -> Iterator[CrawledFile]:
    """Yield the files under `root` worth indexing, sorted by rel_path, as the walk finds them.

    Skipped files and folders are counted in `report`; nothing is raised for a bad file. With
    `only` (absolute paths, or paths relative to the root), just those files and folders are
    looked at, under the same rules: the ignore files of the folders leading to them are read
    and those folders checked too (for re-indexing a saved file). Paths outside the root are
    left out.
    """
    report = report if report is not None else CrawlReport()
    root = Path(os.path.abspath(root))
    try:
        real_root = os.path.realpath(root, strict=True)
        root_stat = os.stat(root)
    except OSError as exc:
        report.skip(_reason(exc), ".")
        return
    if not stat.S_ISDIR(root_stat.st_mode):
        report.skip("unreadable", ".")
        return
    inside = real_root if real_root.endswith(os.sep) else real_root + os.sep
    matchers = _Matchers(rules)
    walking: set[tuple[int, int]] = set()  # identities of the folders on the stack
    walked: set[tuple[int, int]] = set()  # identities of every folder entered
    limit: _Only | None = None
    if only is not None:
        rels = list(_relative(only, root, real_root))
        if not rels:
            return
        limit = None if "" in rels else _Only(rels)

    def enter(
        path: Path,
        rel: str,
        identity: tuple[int, int],
        layers: tuple[_Layer, ...],
        linked: bool,
        only: _Only | None,
    ) -> _Folder | None:
        try:
            with os.scandir(path) as listing:
                entries = list(listing)
        except OSError as exc:
            report.skip(_reason(exc), (rel or ".") + "/")
            return None
        layer = matchers.layer(path, rel, {entry.name for entry in entries})
        if only is not None:
            entries = [e for e in entries if only.keeps(f"{rel}/{e.name}" if rel else e.name)]
        entries.sort(key=_sort_key)
        walking.add(identity)
        walked.add(identity)
        return _Folder(
            path, rel, identity, (*layers, layer) if layer else layers, iter(entries), linked, only
        )

    top = enter(root, "", (root_stat.st_dev, root_stat.st_ino), (), False, limit)
    stack = [top] if top else []
    while stack:
        folder = stack[-1]
        entry = next(folder.entries, None)
        if entry is None:
            walking.discard(folder.identity)
            stack.pop()
            continue
        rel = f"{folder.rel}/{entry.name}" if folder.rel else entry.name
        is_link = _is_symlink(entry)
        is_dir = _is_dir(entry)  # follows symlinks; False for a dangling one
        target: str | None = None
        if is_link or folder.linked:
            target = os.path.realpath(entry.path)
            if target != real_root and not target.startswith(inside):
                target = None  # outside the root: skipped below
        if not is_dir:
            report.files_seen += 1
        if entry.name in VCS_DIRS:
            report.skip("ignored", rel + "/" if is_dir else rel)
        elif matchers.is_secret(rel, is_dir) or (
            target is not None
            and target != real_root
            and matchers.is_secret(target[len(inside) :].replace(os.sep, "/"), is_dir)
        ):
            report.skip("secret", rel + "/" if is_dir else rel)
        elif is_dir and matchers.is_vendored(entry.name):
            report.skip("vendored", rel + "/")
        elif matchers.is_ignored(rel, is_dir, folder.layers):
            report.skip("ignored", rel + "/" if is_dir else rel)
        elif (is_link or folder.linked) and target is None:
            report.skip("ignored", rel + "/" if is_dir else rel)  # leads outside the root
        elif is_dir:
            child = _descend(entry, rel, folder, walking, walked, report)
            if child is not None:
                path, identity = child
                within = folder.only is None or rel in folder.only.targets
                sub = enter(
                    path,
                    rel,
                    identity,
                    folder.layers,
                    folder.linked or is_link,
                    None if within else folder.only,
                )
                if sub is not None:
                    stack.append(sub)
        else:
            crawled = _check_file(entry, rel, folder.path / entry.name, matchers, report)
            if crawled is not None:
                report.files_kept += 1
                yield crawled


def _descend(
    entry: os.DirEntry[str],
    rel: str,
    folder: _Folder,
    walking: set[tuple[int, int]],
    walked: set[tuple[int, int]],
    report: CrawlReport,
) -> tuple[Path, tuple[int, int]] | None:
    """The path and identity of a subfolder to walk, or None (counted) if it must not be."""
    try:
        info = entry.stat()
    except OSError as exc:
        report.skip(_reason(exc), rel + "/")
        return None
    identity = (info.st_dev, info.st_ino)
    # An ancestor (a symlink or bind mount back up the tree) would loop forever; a folder already
    # walked through another symlink would only repeat its files.
    if identity in walking or (_is_symlink(entry) and identity in walked):
        report.skip("symlink-loop", rel + "/")
        return None
    return folder.path / entry.name, identity


def _check_file(
    entry: os.DirEntry[str], rel: str, path: Path, matchers: _Matchers, report: CrawlReport
) -> CrawledFile | None:
    """The file as crawled, or None (counted) when it is binary, too large or minified."""
    name = entry.name.lower()
    extension = name.rpartition(".")[2] if "." in name else ""
    if extension in BINARY_EXTENSIONS:
        report.skip("binary", rel)
        return None
    if name.endswith(MINIFIED_SUFFIXES):
        report.skip("minified", rel)
        return None
    try:
        info = entry.stat()
    except OSError as exc:
        # A symlink whose target does not exist never was a file: unreadable, not vanished.
        dangling = isinstance(exc, FileNotFoundError) and _is_symlink(entry)
        report.skip("unreadable" if dangling else _reason(exc), rel)
        return None
    if not stat.S_ISREG(info.st_mode):
        report.skip("unreadable", rel)  # a FIFO, socket or device would block or never end
        return None
    if info.st_size > matchers.max_file_bytes:
        report.skip("too-large", rel)
        return None
    try:
        head = _read(path, SNIFF_BYTES)
    except OSError as exc:
        report.skip(_reason(exc), rel)
        return None
    if b"\0" in head[:NUL_SNIFF_BYTES]:
        report.skip("binary", rel)
        return None
    if _looks_minified(head.decode("utf-8", errors="replace"), prose=extension in PROSE_EXTENSIONS):
        report.skip("minified", rel)
        return None
    return CrawledFile(path, rel, info.st_size, info.st_mtime_ns)


def _looks_minified(head: str, *, prose: bool) -> bool:
    lines = head.splitlines()
    if not lines:
        return False
    if max(len(line) for line in lines) > MAX_LINE:
        return True
    return not prose and len(head) / len(lines) > MAX_AVERAGE_LINE


def _read(path: Path, limit: int | None = None) -> bytes:
    """Up to `limit` bytes of a regular file; OSError if it is not one (or cannot be read)."""
    fd = os.open(path, _OPEN_FLAGS)
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return handle.read() if limit is None else handle.read(limit)


def read_text(file: CrawledFile) -> str | None:
    """The file's text, bad UTF-8 bytes replaced (a leading BOM dropped).

    None when it vanished, cannot be read, or turns out binary (a NUL byte in its first 8 KB).
    """
    try:
        data = _read(file.path)
    except OSError as exc:
        log.debug("cannot read %s: %s", file.path, exc)
        return None
    if b"\0" in data[:NUL_SNIFF_BYTES]:
        return None
    return data.decode("utf-8-sig", errors="replace")
