import pytest

from fpgaflow.core.atomic import atomic_dir, atomic_write_text


def test_failed_build_leaves_nothing(tmp_path):
    final = tmp_path / "hls4ml"
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "half.cpp").write_text("int x;")
            raise RuntimeError("converter failed")
    assert list(tmp_path.iterdir()) == []


def test_failed_rebuild_keeps_previous(tmp_path):
    final = tmp_path / "hls4ml"
    with atomic_dir(final) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final) as tmp:
            (tmp / "v").write_text("2")
            raise KeyboardInterrupt
    assert (final / "v").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["hls4ml"]


def test_success_replaces(tmp_path):
    final = tmp_path / "out"
    for version in ("1", "2"):
        with atomic_dir(final) as tmp:
            (tmp / "v").write_text(version)
    assert (final / "v").read_text() == "2" and [p.name for p in tmp_path.iterdir()] == ["out"]
    atomic_write_text(tmp_path / "f.json", "{}")
    assert (tmp_path / "f.json").read_text() == "{}"
