"""Where generated unit tests go: each language's conventional test file, as a table."""

from __future__ import annotations

from pathlib import PurePosixPath

# {dir}: the source file's folder; {stem}/{Stem}: its name without extension (capitalised);
# {ext}: its extension. Paths are relative to the workspace root; "src/main/" in the result
# becomes "src/test/" (Maven and Gradle layouts).
TEST_PATHS: dict[str, str] = {
    "python": "tests/test_{stem}.py",
    "javascript": "{dir}/{stem}.test{ext}",
    "javascriptreact": "{dir}/{stem}.test{ext}",
    "typescript": "{dir}/{stem}.test{ext}",
    "typescriptreact": "{dir}/{stem}.test{ext}",
    "go": "{dir}/{stem}_test.go",
    "rust": "tests/{stem}.rs",
    "java": "{dir}/{Stem}Test.java",
    "c": "tests/test_{stem}.c",
    "cpp": "tests/test_{stem}{ext}",
    "csharp": "tests/{Stem}Tests.cs",
    "ruby": "spec/{stem}_spec.rb",
    "php": "tests/{Stem}Test.php",
    "shellscript": "tests/test_{stem}.sh",
    "lua": "spec/{stem}_spec.lua",
}


def test_path(rel_path: str, language: str) -> str:
    """The conventional test file for the source file at `rel_path` (workspace-relative)."""
    path = PurePosixPath(rel_path)
    template = TEST_PATHS.get(language, "tests/test_{stem}{ext}")
    stem = path.stem
    folder = str(path.parent) if str(path.parent) != "." else ""
    target = template.format(
        dir=folder, stem=stem, Stem=stem[:1].upper() + stem[1:], ext=path.suffix
    ).lstrip("/")
    return target.replace("src/main/", "src/test/", 1)


def module_name(rel_path: str, language: str) -> str:
    """How tests name the module under test (a dotted path for Python, else the file)."""
    path = PurePosixPath(rel_path)
    if language != "python":
        return rel_path
    parts = list(path.with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or path.stem
