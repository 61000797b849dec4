"""utils/check_copies.py: marked copies in the package match their sources, and a drifted
copy fails the check naming its file and line."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "utils" / "check_copies.py"


def run_check(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def package(tmp_path):
    write(tmp_path, "pkg/__init__.py", "")
    write(
        tmp_path,
        "pkg/home.py",
        """\
        LIMIT = 3


        def clamp(x, low=0):
            return max(low, min(x, LIMIT))
        """,
    )
    return tmp_path


def test_the_package_copies_match_their_sources():
    result = run_check()
    assert result.returncode == 0, result.stderr
    assert "marked copies match" in result.stdout


def test_the_constants_are_marked_where_they_are_copied():
    """Every model-side and processor-side copy of the index constants is checked."""
    spec = importlib.util.spec_from_file_location("check_copies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    find_copies = module.find_copies
    marked = {
        (path.name, copy.source)
        for path in (REPO / "hf_recsys/models/modeling_utils.py", REPO / "hf_recsys/models/processing_recsys.py")
        for copy in find_copies(path)
    }
    assert ("modeling_utils.py", "hf_recsys.constants.IGNORE_INDEX") in marked
    assert ("modeling_utils.py", "hf_recsys.constants.PAD_INDEX") in marked
    assert ("processing_recsys.py", "hf_recsys.constants.UNK_INDEX") in marked


def test_a_matching_line_copy_and_block_copy_pass(package):
    write(
        package,
        "pkg/flat.py",
        """\
        LIMIT = 3  # Copied from pkg.home.LIMIT


        # Copied from pkg.home.clamp with clamp->bound
        def bound(x, low=0):
            return max(low, min(x, LIMIT))
        """,
    )
    result = run_check("--root", package, package / "pkg")
    assert result.returncode == 0, result.stderr
    assert "2 marked copies match" in result.stdout


def test_a_drifted_line_copy_fails_naming_file_and_line(package):
    write(package, "pkg/flat.py", "'''A flat file.'''\n\nLIMIT = 4  # Copied from pkg.home.LIMIT\n")
    result = run_check("--root", package, package / "pkg")
    assert result.returncode == 1
    assert "pkg/flat.py:3: the copy of pkg.home.LIMIT differs from its source (pkg/home.py:1)" in result.stderr


def test_a_drifted_block_copy_fails_and_fix_rewrites_it(package):
    flat = write(
        package,
        "pkg/flat.py",
        """\
        class Holder:
            # Copied from pkg.home.clamp
            def clamp(x, low=0):
                return max(low, min(x, 5))
        """,
    )
    result = run_check("--root", package, package / "pkg")
    assert result.returncode == 1
    assert "pkg/flat.py:2: the copy of pkg.home.clamp differs" in result.stderr

    fixed = run_check("--root", package, "--fix", package / "pkg")
    assert fixed.returncode == 0, fixed.stderr
    assert "    def clamp(x, low=0):\n        return max(low, min(x, LIMIT))\n" in flat.read_text()
    assert run_check("--root", package, package / "pkg").returncode == 0


def test_fix_rewrites_a_drifted_line_copy_in_place(package):
    flat = write(package, "pkg/flat.py", "import os\n\nLIMIT = 4  # Copied from pkg.home.LIMIT\nX = 1\n")
    assert run_check("--root", package, "--fix", package / "pkg").returncode == 0
    assert flat.read_text() == "import os\n\nLIMIT = 3  # Copied from pkg.home.LIMIT\nX = 1\n"


def test_a_marker_naming_a_missing_source_fails(package):
    write(package, "pkg/flat.py", "LIMIT = 3  # Copied from pkg.home.LIMITS\n")
    result = run_check("--root", package, package / "pkg")
    assert result.returncode == 1
    assert "pkg/flat.py:1:" in result.stderr and "defines no 'LIMITS'" in result.stderr


def test_a_marker_above_nothing_fails(package):
    write(package, "pkg/flat.py", "x = 1\n# Copied from pkg.home.clamp\n\nprint(x)\n")
    result = run_check("--root", package, package / "pkg")
    assert result.returncode == 1
    assert "pkg/flat.py:2:" in result.stderr and "marks no definition" in result.stderr
