"""Specification of the drawn-digit scoring set's cache: rendered once, kept on disk, renewed
when the pen digits or the renderer change.

Rendering the held-out writers takes seconds, and every training run scores on them; the
rendered set is kept in the cache folder (config.cache_dir).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from digitdraw import config, drawn, pendigits

WRITER = "25"  # one held-out writer: a few hundred digits, quick to render


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    drawn.drawn_set.cache_clear()  # the in-memory copy would hide the disk
    yield tmp_path / "cache"
    drawn.drawn_set.cache_clear()


def count_renders(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = pendigits.rendered_dataset

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pendigits, "rendered_dataset", counted)
    return calls


def test_rendered_once_then_read_from_disk(cache_dir, pendigits_file, monkeypatch):
    renders = count_renders(monkeypatch)
    x, y = drawn.drawn_set(pendigits_file, WRITER)
    assert len(renders) == 1 and x.dtype == np.float32 and x.shape == (len(y), 28, 28)
    assert set(np.unique(y)) == set(range(10))
    assert len(list(cache_dir.glob("drawn-*.npz"))) == 1

    drawn.drawn_set.cache_clear()  # a new process: nothing in memory
    x2, y2 = drawn.drawn_set(pendigits_file, WRITER)
    assert len(renders) == 1  # not rendered again
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


def test_a_changed_pen_file_or_renderer_renders_again(cache_dir, pendigits_file, tmp_path, monkeypatch):
    copy = tmp_path / "train.jsonl"
    copy.write_bytes(pendigits_file.read_bytes())
    renders = count_renders(monkeypatch)
    drawn.drawn_set(copy, WRITER)
    drawn.drawn_set.cache_clear()

    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file was replaced
    drawn.drawn_set(copy, WRITER)
    assert len(renders) == 2
    drawn.drawn_set.cache_clear()

    monkeypatch.setattr(drawn, "renderer_version", lambda: "another renderer")
    drawn.drawn_set(copy, WRITER)
    assert len(renders) == 3


def test_the_renderer_version_follows_the_rendering_code():
    version = drawn.renderer_version()
    assert version == drawn.renderer_version() and len(version) == 16


def test_the_styles_split_is_rendered_once_then_read_from_disk(cache_dir, pendigits_file, monkeypatch):
    drawn.styled_sets.cache_clear()
    renders = count_renders(monkeypatch)
    sets = drawn.styled_sets(pendigits_file, WRITER)
    assert len(renders) == len(sets) > 0
    assert len(list(cache_dir.glob("styles-*.npz"))) == 1

    drawn.styled_sets.cache_clear()  # a new process: nothing in memory
    again = drawn.styled_sets(pendigits_file, WRITER)
    assert len(renders) == len(sets)  # not rendered again
    assert again.keys() == sets.keys()
    for name, (x, y) in sets.items():
        np.testing.assert_array_equal(again[name][0], x)
        np.testing.assert_array_equal(again[name][1], y)
    drawn.styled_sets.cache_clear()
