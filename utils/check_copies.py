"""Check that every code copy marked ``# Copied from X`` still equals its source.

Model files and the processor are saved next to a model as remote code, which may import only
sibling modules, so a few definitions live twice: once in their home (e.g.
``hf_recsys/constants.py``) and once, marked, in the file that must stay self-contained. Two
marker forms are understood (transformers' convention):

* a trailing comment on a one-statement copy::

      IGNORE_INDEX = -100  # Copied from hf_recsys.constants.IGNORE_INDEX

* a comment line right above a copied ``def`` or ``class`` (decorators included), optionally
  with renames applied to the source before comparing::

      # Copied from hf_recsys.models.modeling_utils.masked_mean with mean->average
      def masked_average(x, mask):
          ...

``X`` is a dotted path: a module under the root (``hf_recsys.constants``) followed by the name
of a top-level statement in it (``IGNORE_INDEX``) or a dotted path into classes
(``Outer.method``). Run from anywhere::

    python utils/check_copies.py          # exit 1, naming file and line, when a copy drifted
    python utils/check_copies.py --fix    # rewrite every drifted copy from its source
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGES = ("hf_recsys",)
MARKER = re.compile(r"#\s*Copied from\s+(?P<source>[A-Za-z_][\w.]*)(?:\s+with\s+(?P<renames>.+?))?\s*$")
REWRITTEN = " rewritten from its source"
RENAME = re.compile(r"^\s*(\S+)\s*->\s*(\S+)\s*$")


@dataclass
class Copy:
    """One marked copy: where it is, what it claims to copy, and its text."""

    path: Path
    line: int  # 1-based line of the marker
    source: str
    renames: list[tuple[str, str]]
    start: int  # 1-based first and last line of the copied code
    end: int
    text: str


class CopyError(Exception):
    """A marker that cannot be checked (bad form, or a source that does not exist)."""


def _statement_span(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", None) or []
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _all_statements(tree: ast.AST) -> list[ast.stmt]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.stmt)]


def _text(lines: list[str], start: int, end: int) -> str:
    """Lines ``start..end`` (1-based, inclusive), dedented, trailing ``Copied from`` comments
    and trailing whitespace removed."""
    block = [MARKER.sub("", line).rstrip() for line in lines[start - 1 : end]]
    indents = [len(line) - len(line.lstrip()) for line in block if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in block)


def resolve_source(dotted: str, root: Path) -> tuple[Path, int, str]:
    """The file, first line and text of the definition named by ``dotted``."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = root.joinpath(*parts[:split])
        for path in (module.with_suffix(".py"), module / "__init__.py"):
            if path.is_file():
                return _find_definition(path, parts[split:], dotted)
    raise CopyError(f"no module under {root} for {dotted!r}")


def _find_definition(path: Path, names: list[str], dotted: str) -> tuple[Path, int, str]:
    source = path.read_text(encoding="utf-8")
    body: list[ast.stmt] = ast.parse(source).body
    node: Optional[ast.stmt] = None
    for name in names:
        matches = [statement for statement in body if name in _defined_names(statement)]
        if not matches:
            raise CopyError(f"{dotted!r}: {path} defines no {name!r}")
        node = matches[-1]  # the last binding wins, as at import time
        body = getattr(node, "body", [])
    start, end = _statement_span(node)
    return path, start, _text(source.splitlines(), start, end)


def find_copies(path: Path) -> list[Copy]:
    """Every ``# Copied from`` marker of ``path`` with the code it marks."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    if "Copied from" not in source:
        return []
    statements = _all_statements(ast.parse(source))
    copies = []
    for number, line in enumerate(lines, start=1):
        match = MARKER.search(line)
        if not match:
            continue
        renames = []
        for rename in (match["renames"] or "").split(","):
            if not rename.strip():
                continue
            pair = RENAME.match(rename)
            if not pair:
                raise CopyError(f"{path}:{number}: cannot read the rename {rename.strip()!r} (write old->new)")
            renames.append((pair[1], pair[2]))
        trailing = bool(line[: match.start()].strip())
        if trailing:  # the statement on this line
            candidates = [s for s in statements if _statement_span(s)[0] <= number <= s.end_lineno]
        else:  # the statement that starts on the next code line
            candidates = [s for s in statements if _statement_span(s)[0] > number]
            candidates = [min(candidates, key=lambda s: _statement_span(s)[0])] if candidates else []
            if candidates and any(lines[i - 1].strip() for i in range(number + 1, _statement_span(candidates[0])[0])):
                candidates = []  # something other than the copy follows the marker
            candidates = [s for s in candidates if _defined_names(s)]
        if not candidates:
            raise CopyError(f"{path}:{number}: '# Copied from' marks no definition (def, class or assignment)")
        node = min(candidates, key=lambda s: s.end_lineno - s.lineno)  # the innermost
        start, end = _statement_span(node)
        copies.append(Copy(path, number, match["source"], renames, start, end, _text(lines, start, end)))
    return copies


def expected_text(copy: Copy, root: Path) -> tuple[Path, int, str]:
    path, line, text = resolve_source(copy.source, root)
    for old, new in copy.renames:
        text = text.replace(old, new)
    return path, line, text


def python_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def fix_copy(copy: Copy, text: str) -> None:
    """Rewrite the copied lines of ``copy`` with ``text`` at the copy's indentation."""
    lines = copy.path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[copy.start - 1]
    indent = first[: len(first) - len(first.lstrip())]
    new = [(indent + line if line else line) + "\n" for line in text.splitlines()]
    if copy.start <= copy.line <= copy.end:  # keep the trailing marker on its line
        marker = MARKER.search(lines[copy.line - 1])
        offset = copy.line - copy.start
        new[offset] = new[offset].rstrip("\n") + "  " + marker.group(0).strip() + "\n"
    lines[copy.start - 1 : copy.end] = new
    copy.path.write_text("".join(lines), encoding="utf-8")


def check(paths: list[Path], root: Path, fix: bool = False) -> list[str]:
    """One message per drifted or broken copy under ``paths`` (empty: all copies match)."""
    problems = []
    for path in python_files(paths):
        try:
            copies = find_copies(path)
        except CopyError as error:
            problems.append(str(error))
            continue
        for copy in reversed(copies):  # bottom-up, so fixing keeps earlier line numbers
            where = f"{_relative(copy.path, root)}:{copy.line}"
            try:
                source_path, source_line, text = expected_text(copy, root)
            except CopyError as error:
                problems.append(f"{where}: {error}")
                continue
            if text == copy.text:
                continue
            if fix:
                fix_copy(copy, text)
                problems.append(f"{where}: {copy.source}{REWRITTEN}")
            else:
                problems.append(
                    f"{where}: the copy of {copy.source} differs from its source "
                    f"({_relative(source_path, root)}:{source_line}); run utils/check_copies.py --fix"
                )
    return problems


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders to check (default: the package)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="where dotted sources are looked up")
    parser.add_argument("--fix", action="store_true", help="rewrite drifted copies from their sources")
    args = parser.parse_args(argv)
    paths = args.paths or [args.root / package for package in DEFAULT_PACKAGES]
    problems = check(paths, args.root, fix=args.fix)
    for problem in problems:
        print(problem, file=sys.stderr)
    if any(not problem.endswith(REWRITTEN) for problem in problems):
        return 1
    count = sum(len(find_copies(path)) for path in python_files(paths))
    print(f"check_copies: {count} marked copies match their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
