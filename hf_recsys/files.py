"""Writing files so that an interrupted write never leaves a half-written one behind."""

from __future__ import annotations

import os
import tempfile
from typing import Callable, Union

PathLike = Union[str, os.PathLike]


def write_atomically(path: PathLike, write: Callable[[str], object]) -> str:
    """Call ``write(temporary_path)`` on a temporary file next to ``path``, then rename it over
    ``path`` (an atomic replace on one file system). On any error the temporary file is removed
    and ``path`` keeps its old content. Returns ``path`` as a string."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    # the temporary name ends in the real suffix: writers such as torch.export.save check it
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                             suffix=".tmp" + os.path.splitext(path)[1])
    os.close(descriptor)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp files are private by default
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_text_atomically(path: PathLike, text: str) -> str:
    """``write_atomically`` for a UTF-8 text file."""

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)

    return write_atomically(path, write)
