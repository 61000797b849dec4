import os

import pytest

from hf_recsys.files import write_atomically, write_text_atomically


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.json"
    write_text_atomically(path, "first")
    write_text_atomically(path, "second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["out.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_a_failing_write_keeps_the_old_content(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("old")

    def write_half_then_fail(temporary: str) -> None:
        with open(temporary, "w") as f:
            f.write("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_atomically(path, write_half_then_fail)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.onnx"]
