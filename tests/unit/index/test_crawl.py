from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assist_server.config import parse_settings
from assist_server.index import crawl as crawl_module
from assist_server.index.crawl import (
    DEFAULT_SECRET_PATTERNS,
    DEFAULT_VENDORED_DIRS,
    CrawledFile,
    CrawlReport,
    CrawlRules,
    crawl,
    read_text,
)

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def kept(
    root: Path,
    rules: CrawlRules | None = None,
    report: CrawlReport | None = None,
    only: list[Path | str] | None = None,
) -> list[str]:
    return [f.rel_path for f in crawl(root, rules or CrawlRules(), report, only=only)]


def test_yields_absolute_paths_sizes_and_forward_slash_rel_paths(tmp_path: Path) -> None:
    write(tmp_path, {"src/pkg/mod.py": "x = 1\n"})
    (found,) = crawl(tmp_path, CrawlRules())
    path = tmp_path / "src" / "pkg" / "mod.py"
    assert found == CrawledFile(path, "src/pkg/mod.py", 6, path.stat().st_mtime_ns)
    assert found.path.is_absolute()


def test_relative_root_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"a.py": "a\n"})
    monkeypatch.chdir(tmp_path)
    (found,) = crawl(Path("."), CrawlRules())
    assert found.path == tmp_path / "a.py"


def test_order_is_sorted_by_rel_path_across_folders(tmp_path: Path) -> None:
    names = ["b.py", "b/x.py", "b0.py", "a/z/y.py", "a-b.py", "A.py", "a/b.py", "c/d/e/f.py"]
    write(tmp_path, dict.fromkeys(names, "pass\n"))
    assert kept(tmp_path) == sorted(names)


def test_crawl_is_a_generator(tmp_path: Path) -> None:
    assert inspect.isgenerator(crawl(tmp_path, CrawlRules()))


def test_nested_gitignore_applies_to_its_subtree_with_negation(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "*.log\n!keep.log\n/only-root.txt\ngenerated/\n",
            "a.log": "",
            "keep.log": "",
            "only-root.txt": "",
            "generated/out.py": "",
            "sub/.gitignore": "!debug.log\nlocal/\n/anchored.py\n",
            "sub/debug.log": "",
            "sub/other.log": "",
            "sub/only-root.txt": "",
            "sub/anchored.py": "",
            "sub/deep/anchored.py": "",
            "sub/local/x.py": "",
            "sub/deep/keep.log": "",
            "other/local/y.py": "",
            "other/debug.log": "",
        },
    )
    assert kept(tmp_path) == [
        ".gitignore",
        "keep.log",
        "other/local/y.py",  # sub/.gitignore's local/ does not reach here
        "sub/.gitignore",
        "sub/debug.log",  # re-included by the nested negation
        "sub/deep/anchored.py",  # /anchored.py is anchored to sub/
        "sub/deep/keep.log",
        "sub/only-root.txt",
    ]


def test_deeper_gitignore_can_ignore_what_a_shallower_one_re_included(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "*.txt\n!notes.txt\n",
            "sub/.gitignore": "notes.txt\n",
            "notes.txt": "",
            "sub/notes.txt": "",
        },
    )
    assert kept(tmp_path) == [".gitignore", "notes.txt", "sub/.gitignore"]


def test_ignore_and_assistignore_use_gitignore_syntax_and_win_over_gitignore(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "*.gen.py\n",
            ".ignore": "scratch/\n!wanted.gen.py\n",
            ".assistignore": "fixtures/**/*.json\n!scratch/\n",
            "a.gen.py": "",
            "wanted.gen.py": "",
            "scratch/s.py": "",
            "fixtures/big/x.json": "{}",
            "fixtures/x.py": "",
        },
    )
    assert kept(tmp_path) == [
        ".assistignore",
        ".gitignore",
        ".ignore",
        "fixtures/x.py",
        "scratch/s.py",  # .assistignore's negation beats .ignore
        "wanted.gen.py",
    ]


def test_git_info_exclude_at_the_root_is_respected(tmp_path: Path) -> None:
    write(tmp_path, {".git/info/exclude": "local.py\n", "local.py": "", "a.py": ""})
    assert kept(tmp_path) == ["a.py"]


def test_exclude_setting_is_relative_to_the_root_and_can_re_include(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "out/\n*.snap\n",
            "docs/api.md": "",
            "src/docs/api.md": "",
            "src/a.py": "",
            "src/b.snap": "",
            "out/x.py": "",
        },
    )
    rules = CrawlRules(exclude=("/docs/", "!*.snap"))
    assert kept(tmp_path, rules) == [".gitignore", "src/a.py", "src/b.snap", "src/docs/api.md"]


def test_invalid_patterns_are_dropped_not_raised(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "foo\\\n*.tmp\n", "a.tmp": "", "foo": "", "b.py": ""})
    rules = CrawlRules(exclude=("!",), extra_secret_patterns=("bad\\",))
    assert kept(tmp_path, rules) == [".gitignore", "b.py", "foo"]


def test_vcs_folders_are_always_skipped(tmp_path: Path) -> None:
    write(tmp_path, {".git/config": "", ".git/HEAD": "", ".hg/x": "", "a.py": ""})
    report = CrawlReport()
    assert kept(tmp_path, CrawlRules(exclude=("!.git/",)), report) == ["a.py"]
    assert report.skipped["ignored"] == 2
    assert report.examples["ignored"] == [".git/", ".hg/"]


SECRETS = [
    ".env",
    ".env.local",
    ".env.production",
    "deploy/prod.env",
    ".envrc",
    "certs/server.pem",
    "certs/server.key",
    "certs/store.p12",
    "certs/store.pfx",
    "android/release.keystore",
    "java/keys.jks",
    "home/.ssh/id_rsa",
    "home/.ssh/id_rsa.pub",
    "home/.ssh/id_ed25519",
    "home/.ssh/id_ecdsa",
    "home/.ssh/id_dsa",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    "home/.aws/credentials",
    ".aws/credentials",
    "gcp/credentials.json",
    "credentials",
    "gcp/my-project-service-account-1234.json",
    "vault.kdbx",
    "config/secrets.yaml",
    "secrets.json",
    "infra/terraform.tfstate",
    "CONFIG/.ENV",  # matched without regard to case
]


def test_default_secrets_are_never_yielded(tmp_path: Path) -> None:
    write(tmp_path, dict.fromkeys(SECRETS, "TOKEN=hunter2\n"))
    write(tmp_path, {"app.py": "", "aws/config.py": "", "env.example.md": "", "key.py": ""})
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["app.py", "aws/config.py", "env.example.md", "key.py"]
    assert report.skipped["secret"] == len(SECRETS)


def test_negations_in_ignore_files_and_exclude_cannot_re_include_a_secret(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "!.env\n!*.pem\n",
            ".assistignore": "!.env\n",
            ".env": "KEY=1",
            "cert.pem": "-----BEGIN PRIVATE KEY-----",
            "sub/.gitignore": "!.env.local\n",
            "sub/.env.local": "KEY=2",
        },
    )
    rules = CrawlRules(exclude=("!.env", "!**/.env.local"))
    report = CrawlReport()
    assert kept(tmp_path, rules, report) == [".assistignore", ".gitignore", "sub/.gitignore"]
    assert report.skipped["secret"] == 3
    assert report.examples["secret"] == [".env", "cert.pem", "sub/.env.local"]


def test_extra_secret_patterns_add_to_the_defaults_and_cannot_remove_them(
    tmp_path: Path,
) -> None:
    write(tmp_path, {".env": "", "conf/db.secret.yaml": "", "conf/db.yaml": "", "Vault.TXT": ""})
    rules = CrawlRules(extra_secret_patterns=("*.secret.yaml", "vault.txt", "!.env"))
    assert kept(tmp_path, rules) == ["conf/db.yaml"]
    assert set(DEFAULT_SECRET_PATTERNS) >= {".env", "*.pem", "id_rsa*", ".aws/credentials"}


def test_secret_folders_are_skipped_whole(tmp_path: Path) -> None:
    write(tmp_path, {"credentials/prod.py": "", "secrets.d/a.py": "", "ok/a.py": ""})
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["ok/a.py"]
    assert report.examples["secret"] == ["credentials/", "secrets.d/"]


@needs_symlinks
def test_a_symlink_to_a_secret_is_a_secret(tmp_path: Path) -> None:
    write(tmp_path, {".env": "KEY=1", "keys/.aws/credentials": "x", "a.py": ""})
    (tmp_path / "notes.txt").symlink_to(".env")
    (tmp_path / "aws").symlink_to("keys/.aws")
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["a.py"]
    assert report.examples["secret"] == [
        ".env",
        "aws/credentials",
        "keys/.aws/credentials",
        "notes.txt",
    ]


def test_vendored_and_generated_folders_are_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "node_modules/react/index.js": "",
            "web/node_modules/x/y.js": "",
            ".venv/lib/site.py": "",
            "venv/lib/site.py": "",
            "pkg/__pycache__/m.py": "",
            "pkg.egg-info/PKG-INFO": "",
            "bazel-out/x.py": "",
            "dist/app.js": "",
            "target/debug/x.rs": "",
            "vendor/github.com/x/y.go": "",
            "pkg/m.py": "",
            "builder/m.py": "",  # only exact folder names (or their globs) count
            "build.py": "",  # and only folders
        },
    )
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["build.py", "builder/m.py", "pkg/m.py"]
    assert report.skipped["vendored"] == 10
    assert {"node_modules", ".venv", "vendor", "third_party"} <= set(DEFAULT_VENDORED_DIRS)


def test_vendored_table_can_be_replaced_by_the_caller(tmp_path: Path) -> None:
    write(tmp_path, {"vendor/lib.go": "", "node_modules/x.js": ""})
    assert kept(tmp_path, CrawlRules(vendored_dirs=("node_modules",))) == ["vendor/lib.go"]


def test_binary_files_by_extension_and_by_nul_byte(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "logo.png": "not really a png, but the extension says enough",
            "photo.JPG": "x",
            "lib.so": "x",
            "data.dat": b"text at first" + b"\0\1\2" * 10,
            "late-nul.txt": (b"a" * 99 + b"\n") * 90 + b"\0",  # past the 8 KB sniff: text
            "a.py": "print('hi')\n",
        },
    )
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["a.py", "late-nul.txt"]
    assert report.skipped["binary"] == 4


def test_files_over_the_size_limit_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"big.py": "x = 1\n" * 200, "exact.py": "y" * 99 + "\n", "small.py": "z\n"})
    report = CrawlReport()
    assert kept(tmp_path, CrawlRules(max_file_bytes=100), report) == ["exact.py", "small.py"]
    assert report.examples["too-large"] == ["big.py"]


def test_minified_files_by_name_and_by_line_length(tmp_path: Path) -> None:
    long_line = "var a=1;" * 700  # 5600 characters on one line
    write(
        tmp_path,
        {
            "app.min.js": "var a=1;\n",
            "style.min.css": "a{}\n",
            "bundle.js": "// header\n" + long_line + "\n",
            "wide.json": ("[" + "1," * 200 + "1]\n") * 20,  # every line ~400 characters
            "app.js": "function f() {\n  return 1;\n}\n",
            "README.md": ("word " * 100 + "\n\n") * 20,  # prose paragraphs on one line each
            "empty.py": "",
        },
    )
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["README.md", "app.js", "empty.py"]
    assert report.examples["minified"] == ["app.min.js", "bundle.js", "style.min.css", "wide.json"]


def test_a_prose_file_with_a_giant_line_is_still_minified(tmp_path: Path) -> None:
    write(tmp_path, {"notes.md": "x" * 6000})
    assert kept(tmp_path) == []


@needs_symlinks
def test_symlink_loops_terminate(tmp_path: Path) -> None:
    write(tmp_path, {"a/b/file.py": "", "top.py": ""})
    (tmp_path / "a" / "b" / "up").symlink_to("../..", target_is_directory=True)
    (tmp_path / "a" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "root").symlink_to(tmp_path, target_is_directory=True)
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["a/b/file.py", "top.py"]
    assert report.skipped["symlink-loop"] == 3
    assert report.examples["symlink-loop"] == ["a/b/up/", "a/self/", "root/"]


@needs_symlinks
def test_file_symlink_cycle_is_counted_not_raised(tmp_path: Path) -> None:
    (tmp_path / "x").symlink_to("y")
    (tmp_path / "y").symlink_to("x")
    report = CrawlReport()
    assert kept(tmp_path, report=report) == []
    assert report.skipped["symlink-loop"] == 2


@needs_symlinks
def test_symlinks_inside_the_root_are_followed_outside_are_ignored(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(outside, {"lib.py": "secret sauce", "pkg/x.py": ""})
    write(root, {"real/a.py": "a = 1\n", "main.py": ""})
    (root / "alias.py").symlink_to("main.py")
    (root / "out.py").symlink_to(outside / "lib.py")
    (root / "outdir").symlink_to(outside / "pkg", target_is_directory=True)
    (root / "zlink").symlink_to("real", target_is_directory=True)  # real/ walked first
    report = CrawlReport()
    files = list(crawl(root, CrawlRules(), report))
    assert [f.rel_path for f in files] == ["alias.py", "main.py", "real/a.py"]
    assert files[0].path == root / "alias.py"  # the link's own path
    assert read_text(files[2]) == "a = 1\n"
    assert report.examples["ignored"] == ["out.py", "outdir/"]
    assert report.examples["symlink-loop"] == ["zlink/"]


@needs_symlinks
def test_a_symlinked_folder_walked_first_is_crawled_under_its_link_path(tmp_path: Path) -> None:
    write(tmp_path, {"real/a.py": ""})
    (tmp_path / "alias").symlink_to("real", target_is_directory=True)
    assert kept(tmp_path) == ["alias/a.py", "real/a.py"]


@needs_symlinks
def test_dangling_symlink_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "gone.py").symlink_to("nowhere.py")
    report = CrawlReport()
    assert kept(tmp_path, report=report) == []
    assert report.examples["unreadable"] == ["gone.py"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    write(tmp_path, {"a.py": ""})
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["a.py"]
    assert report.examples["unreadable"] == ["pipe.py"]


def test_permission_errors_are_counted_as_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"locked/a.py": "", "open/b.py": "", "c.py": ""})
    real_scandir = os.scandir
    real_open = os.open

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def open_(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).name == "c.py":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(crawl_module.os, "scandir", scandir)
    monkeypatch.setattr(crawl_module.os, "open", open_)
    report = CrawlReport()
    assert kept(tmp_path, report=report) == ["open/b.py"]
    assert report.examples["unreadable"] == ["c.py", "locked/"]


def test_files_and_folders_deleted_mid_crawl_are_counted_as_vanished(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "", "b.py": "", "c/d.py": "", "e.py": ""})
    report = CrawlReport()
    seen = []
    for found in crawl(tmp_path, CrawlRules(), report):
        seen.append(found.rel_path)
        if found.rel_path == "a.py":  # b.py and c/ are listed already
            (tmp_path / "b.py").unlink()
            (tmp_path / "c" / "d.py").unlink()
            (tmp_path / "c").rmdir()
    assert seen == ["a.py", "e.py"]
    assert report.skipped["vanished"] == 2
    assert report.examples["vanished"] == ["b.py", "c/"]


def test_missing_root_is_reported_not_raised(tmp_path: Path) -> None:
    report = CrawlReport()
    assert kept(tmp_path / "nope", report=report) == []
    assert report.skipped == {"vanished": 1}


def test_read_text_replaces_invalid_utf8_and_drops_a_bom(tmp_path: Path) -> None:
    write(tmp_path, {"latin1.py": b"name = 'caf\xe9'\n", "bom.py": b"\xef\xbb\xbfx = 1\n"})
    files = {f.rel_path: f for f in crawl(tmp_path, CrawlRules())}
    assert read_text(files["latin1.py"]) == "name = 'caf\ufffd'\n"
    assert read_text(files["bom.py"]) == "x = 1\n"


def test_read_text_is_none_for_a_vanished_or_now_binary_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "a\n", "b.py": "b\n"})
    a, b = crawl(tmp_path, CrawlRules())
    (tmp_path / "a.py").unlink()
    (tmp_path / "b.py").write_bytes(b"\0\0\0")
    assert read_text(a) is None
    assert read_text(b) is None


def test_report_counts_every_file_and_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "*.log\n",
            "a.py": "",
            "b.log": "",
            ".env": "",
            "img.png": "",
            "big.txt": "x" * 2000,
            "m.min.js": "",
            "node_modules/x.js": "",
            "node_modules/y.js": "",
        },
    )
    report = CrawlReport()
    assert kept(tmp_path, CrawlRules(max_file_bytes=1000), report) == [".gitignore", "a.py"]
    assert report.files_seen == 7  # files inside node_modules/ are never listed
    assert report.files_kept == 2
    assert report.skipped == {
        "ignored": 1,
        "secret": 1,
        "binary": 1,
        "too-large": 1,
        "minified": 1,
        "vendored": 1,
    }
    assert report.summary().startswith("2 of 7 files kept; skipped: 1 binary (e.g. img.png); ")


def test_report_keeps_a_few_examples_per_reason(tmp_path: Path) -> None:
    write(tmp_path, {f"{i}.png": "" for i in range(10)})
    report = CrawlReport(max_examples=3)
    assert kept(tmp_path, report=report) == []
    assert report.skipped["binary"] == 10
    assert report.examples["binary"] == ["0.png", "1.png", "2.png"]


def test_rules_from_settings(tmp_path: Path) -> None:
    settings = parse_settings(
        {"index": {"exclude": ["docs/"], "maxFileBytes": 5000, "secretPatterns": ["*.vault"]}}
    )
    rules = CrawlRules.from_settings(settings.index)
    assert rules == CrawlRules(
        exclude=("docs/",), max_file_bytes=5000, extra_secret_patterns=("*.vault",)
    )
    write(tmp_path, {"docs/a.md": "", "x.vault": "", "y.py": ""})
    assert kept(tmp_path, rules) == ["y.py"]


def test_readme_lists_the_default_tables() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    for name in (*DEFAULT_SECRET_PATTERNS, *DEFAULT_VENDORED_DIRS):
        assert f"`{name}`" in readme, name


def only_tree(root: Path) -> None:
    write(
        root,
        {
            ".gitignore": "*.log\n",
            "src/.gitignore": "gen/\n",
            "src/a.py": "",
            "src/b.py": "",
            "src/gen/x.py": "",
            "src/pkg/c.py": "",
            "src/pkg/d.py": "",
            "src/x.log": "",
            "node_modules/m/i.js": "",
            ".env": "",
        },
    )


def test_only_limits_the_crawl_to_the_given_files_under_the_same_rules(tmp_path: Path) -> None:
    only_tree(tmp_path)
    report = CrawlReport()
    only = [
        tmp_path / "src" / "a.py",
        "src/pkg/d.py",
        tmp_path / "src" / "gen" / "x.py",
        tmp_path / "src" / "x.log",
        tmp_path / "node_modules" / "m" / "i.js",
        tmp_path / ".env",
        tmp_path / "src" / "missing.py",
        tmp_path.parent / "elsewhere.py",
    ]
    assert kept(tmp_path, report=report, only=only) == ["src/a.py", "src/pkg/d.py"]
    assert report.files_seen == 4
    assert report.examples == {
        "secret": [".env"],
        "vendored": ["node_modules/"],
        "ignored": ["src/gen/", "src/x.log"],
    }


def test_only_a_folder_takes_everything_below_it(tmp_path: Path) -> None:
    only_tree(tmp_path)
    assert kept(tmp_path, only=[tmp_path / "src" / "pkg"]) == ["src/pkg/c.py", "src/pkg/d.py"]
    assert kept(tmp_path, only=[tmp_path]) == kept(tmp_path)
    assert kept(tmp_path, only=[]) == []
    assert kept(tmp_path, only=["../outside.py"]) == []


@needs_symlinks
def test_only_accepts_paths_through_a_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    only_tree(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert kept(link, only=[real / "src" / "a.py"]) == ["src/a.py"]
    assert kept(real, only=[link / "src" / "a.py"]) == ["src/a.py"]
