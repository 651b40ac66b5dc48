"""Specification of `digitdraw feedback import|list|export`: pendigits JSONL in, the same JSONL out,
and every mistake reported as one `digitdraw: error:` line with exit code 2 and nothing stored.
"""

from __future__ import annotations

import gzip
import json

import pytest

from digitdraw import cli, feedback
from digitdraw.feedback import FeedbackStore

# Strokes in pendigits' tablet box (ints, as in train.jsonl) and in canvas pixels (floats).
LINES = [
    {"label": 4, "writer": 12, "strokes": [[[100, 400], [100, 200], [300, 200]], [[250, 100], [250, 450]]]},
    {"label": 7, "strokes": [[[80.5, 50.25], [210.0, 50.0], [120.125, 240.0]]]},
    {"label": 1, "writer": 3, "strokes": [[[250, 50], [250, 450]]]},
]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_jsonl(path, records) -> str:
    text = "".join(feedback.to_jsonl_line(r["label"], r["strokes"], r.get("writer")) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return text


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


def test_import_list_export_round_trip_is_bit_identical(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    text = write_jsonl(src, LINES)

    code, out, err = run(capsys, "feedback", "import", src, "--db", db)
    assert code == 0, err
    assert f"imported {len(LINES)} drawing(s)" in out

    code, out, err = run(capsys, "feedback", "list", "--db", db)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == len(LINES)
    # Newest first: label and writer columns, in reverse file order.
    assert [(r[5], r[4]) for r in rows] == [
        (str(r["label"]), str(r.get("writer", "-"))) for r in reversed(LINES)
    ]
    assert {r[2] for r in rows} == {"import"}
    assert f"{len(LINES)} drawing(s)" in err
    # The columns are named above the rows on a terminal, and stay out of a pipe's data.
    assert (
        err.splitlines()[0].split("\t")
        == list(cli.LIST_COLUMNS)
        == ["id", "saved (UTC)", "source", "browser", "writer", "label", "answers"]
    )

    out_file = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "feedback", "export", "--out", out_file, "--db", db)
    assert code == 0, err
    assert out_file.read_bytes() == text.encode("utf-8")
    assert [json.loads(line) for line in out_file.read_text().splitlines()] == LINES


def test_export_to_stdout_writes_the_same_lines(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    text = write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    code, out, _ = run(capsys, "feedback", "export", "--db", db)
    assert code == 0
    assert out == text


def test_imported_drawings_are_rendered_like_a_canvas_drawing(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    write_jsonl(src, LINES[:1])
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    store = FeedbackStore(db)
    (drawing,) = store.list_drawings(None)
    store.close()
    rendered = feedback.strokes_mod.render_centred(LINES[0]["strokes"])
    expected = feedback.strokes_mod.model_input(rendered.pixels, rendered.paths)
    assert drawing.image.shape == (28, 28)
    assert drawing.image.max() > 0.5  # ink, not a blank input
    assert (drawing.image == expected).all()


def test_the_db_defaults_to_the_configured_url(capsys, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'from_env.sqlite3'}"
    monkeypatch.setenv(feedback.DB_URL_ENV, url)
    src = tmp_path / "mine.jsonl"
    write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src)[0] == 0
    store = FeedbackStore(url)
    assert store.count() == len(LINES)
    store.close()


def test_a_bad_line_is_named_and_nothing_is_imported(capsys, tmp_path, db):
    src = tmp_path / "bad.jsonl"
    good = feedback.to_jsonl_line(4, LINES[0]["strokes"])
    src.write_text(f'{good}\n{{"label": 12, "strokes": [[[1, 2]]]}}\n{good}\n', encoding="utf-8")
    code, out, err = run(capsys, "feedback", "import", src, "--db", db)
    assert code == 2
    assert out == ""
    assert err.startswith("digitdraw: error: ")
    assert "line 2" in err and "label" in err
    assert "line 1" not in err and "line 3" not in err
    store = FeedbackStore(db)
    assert store.count() == 0
    store.close()


def test_a_missing_file_is_an_error(capsys, tmp_path, db):
    code, _, err = run(capsys, "feedback", "import", tmp_path / "nope.jsonl", "--db", db)
    assert code == 2
    assert err.startswith("digitdraw: error: ") and "nope.jsonl" in err


def test_a_url_that_is_not_a_database_is_an_error(capsys):
    code, _, err = run(capsys, "feedback", "list", "--db", "not a url")
    assert code == 2
    assert err.startswith("digitdraw: error: ") and "not a database URL" in err


def test_export_to_an_unwritable_place_is_an_error_and_keeps_the_drawings(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    # A file where its folder should be: nothing can be written under it.
    code, _, err = run(capsys, "feedback", "export", "--out", src / "x.jsonl", "--db", db)
    assert code == 2
    assert err.startswith("digitdraw: error: --out ")
    assert run(capsys, "feedback", "export", "--db", db)[1].count("\n") == len(LINES)


def test_feedback_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["feedback"])
    assert exc.value.code == 2
    assert "import" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["list", "export"])
def test_reading_a_database_that_does_not_exist_is_an_error_and_creates_nothing(capsys, tmp_path, command):
    missing = tmp_path / "no" / "such" / "typo.sqlite3"
    code, out, err = run(capsys, "feedback", command, "--db", f"sqlite:///{missing}")
    assert code == 2 and out == ""
    assert err.startswith(f"digitdraw: error: no corrections database at {missing} ")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its folders


def test_the_default_database_is_not_created_by_list(capsys, monkeypatch, tmp_path):
    url_file = tmp_path / "never_written.sqlite3"
    monkeypatch.setenv(feedback.DB_URL_ENV, f"sqlite:///{url_file}")
    code, _, err = run(capsys, "feedback", "list")
    assert code == 2 and "no corrections database at" in err and feedback.DB_URL_ENV in err
    assert not url_file.exists()


def test_export_with_a_mistyped_database_keeps_the_out_file(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    out_file = tmp_path / "good.jsonl"
    assert run(capsys, "feedback", "export", "--out", out_file, "--db", db)[0] == 0
    good = out_file.read_bytes()
    typo = tmp_path / "cli.sqlite"  # the db fixture's file is cli.sqlite3
    code, _, err = run(
        capsys, "feedback", "export", "--out", out_file, "--db", f"sqlite:///{typo}", "--force"
    )
    assert code == 2 and "no corrections database at" in err
    assert out_file.read_bytes() == good and not typo.exists()


def test_export_keeps_an_existing_out_file_unless_forced(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    text = write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    out_file = tmp_path / "notes.txt"
    out_file.write_text("someone's notes\n")
    code, out, err = run(capsys, "feedback", "export", "--out", out_file, "--db", db)
    assert code == 2 and out == ""
    assert err.startswith(f"digitdraw: error: --out {out_file} exists already; choose another --out")
    assert err.endswith("or add --force to replace it.\n")
    assert out_file.read_text() == "someone's notes\n"
    code, _, err = run(capsys, "feedback", "export", "--out", out_file, "--db", db, "--force")
    assert code == 0, err
    assert out_file.read_text() == text


# -- before anything is saved: the default database does not exist yet ---------------------


@pytest.fixture
def fresh_install(monkeypatch, tmp_path):
    """No $DIGITDRAW_DB_URL and no default database yet, as on a machine where nothing was saved."""
    monkeypatch.delenv(feedback.DB_URL_ENV, raising=False)
    default = tmp_path / "data" / feedback.DB_FILENAME
    monkeypatch.setattr(feedback, "default_db_url", lambda: f"sqlite:///{default}")
    return default


def test_list_before_anything_is_saved_is_an_empty_list_and_creates_nothing(capsys, fresh_install):
    code, out, err = run(capsys, "feedback", "list")
    assert code == 0, err
    assert out == ""
    assert err.startswith("0 drawing(s): no corrections saved yet") and err.count("\n") == 1
    assert not fresh_install.parent.exists()


def test_export_before_anything_is_saved_writes_nothing_to_standard_output(capsys, fresh_install):
    code, out, err = run(capsys, "feedback", "export")
    assert code == 0, err
    assert out == ""
    assert err.startswith("exported 0 drawing(s): no corrections saved yet")
    assert not fresh_install.parent.exists()


def test_export_before_anything_is_saved_writes_an_empty_file(capsys, tmp_path, fresh_install):
    out_file = tmp_path / "mine.jsonl"
    code, _, err = run(capsys, "feedback", "export", "--out", out_file)
    assert code == 0, err
    assert out_file.read_bytes() == b""
    assert err.startswith(f"exported 0 drawing(s) to {out_file}: no corrections saved yet")
    assert not fresh_install.parent.exists()
    # An existing file is still kept without --force: nothing saved is no reason to lose it.
    out_file.write_text("someone's notes\n")
    code, _, err = run(capsys, "feedback", "export", "--out", out_file)
    assert code == 2 and "exists already" in err
    assert out_file.read_text() == "someone's notes\n"


def test_export_creates_the_folders_of_out_like_the_commands_that_save_models(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl"
    text = write_jsonl(src, LINES)
    assert run(capsys, "feedback", "import", src, "--db", db)[0] == 0
    out_file = tmp_path / "new" / "folder" / "mine.jsonl"
    code, _, err = run(capsys, "feedback", "export", "--out", out_file, "--db", db)
    assert code == 0, err
    assert out_file.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_file_saved_by_windows_tools_imports_like_utf_8(capsys, tmp_path, db, encoding):
    # PowerShell 5's `>` writes UTF-16 with a byte-order mark; Notepad may add one to UTF-8.
    text = "".join(feedback.to_jsonl_line(r["label"], r["strokes"], r.get("writer")) + "\n" for r in LINES)
    src = tmp_path / "mine.jsonl"
    mark = {"utf-16-be": "\ufeff"}.get(encoding, "")  # Python writes no mark for an explicit byte order
    src.write_bytes((mark + text.replace("\n", "\r\n")).encode(encoding))
    code, out, err = run(capsys, "feedback", "import", src, "--db", db)
    assert code == 0, err
    assert f"imported {len(LINES)} drawing(s)" in out
    assert run(capsys, "feedback", "export", "--db", db)[1] == text


def test_a_file_that_is_not_text_is_named_as_such_and_nothing_is_imported(capsys, tmp_path, db):
    src = tmp_path / "mine.jsonl.gz"
    src.write_bytes(gzip.compress(b'{"label": 1, "strokes": [[[250, 50], [250, 450]]]}\n'))
    code, _, err = run(capsys, "feedback", "import", src, "--db", db)
    assert code == 2
    assert "not UTF-8 text" in err and "save it as UTF-8" in err and "codec" not in err


def test_a_sqlite_url_in_the_home_folder_is_the_same_database_for_every_command(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    src = tmp_path / "mine.jsonl"
    text = write_jsonl(src, LINES)
    code, _, err = run(capsys, "feedback", "import", src, "--db", "sqlite:///~/mine.sqlite3")
    assert code == 0, err
    assert (tmp_path / "mine.sqlite3").is_file()
    code, out, err = run(capsys, "feedback", "export", "--db", "sqlite:///~/mine.sqlite3")
    assert code == 0, err
    assert out == text


def test_a_file_path_given_as_db_is_answered_with_its_sqlite_url(capsys, tmp_path):
    path = tmp_path / "mine.sqlite3"
    code, _, err = run(capsys, "feedback", "import", tmp_path / "x.jsonl", "--db", path)
    assert code == 2
    assert f"for a SQLite file write sqlite:///{path}" in err
