"""Specification of `digitdraw predict --strokes`: drawings given as pen strokes (pendigits' JSON lines)
are read the way the Draw page reads its canvas, strokes and all; each line gets its JSON answer, a bad
line an error line while the others are still read."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import CLOCKWISE_SIX, needs_pendigits

from digitdraw import cli, config, pendigits, reading, strokes

SEVEN = [[[100, 100], [400, 100], [220, 450]]]  # pendigits' box, y down
ONE = [[[250, 50], [250, 450]]]


def run(capsys, *argv) -> tuple[int, list[dict], str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def write_lines(path, *lines) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


@pytest.fixture(scope="module")
def predictors():
    return reading.load_predictors(["dense", "cnn"])


def test_each_line_is_read_like_a_canvas_drawing_with_its_strokes(capsys, tmp_path, predictors):
    src = write_lines(tmp_path / "mine.jsonl", {"label": 7, "writer": 3, "strokes": SEVEN}, {"strokes": ONE})
    code, lines, err = run(capsys, "predict", "--strokes", src)
    assert code == 0, err
    assert [line["file"] for line in lines] == [f"{src}:1", f"{src}:2"]
    assert lines[0]["label"] == 7 and "label" not in lines[1]  # the label is repeated, for scoring
    assert [line["models"]["cnn"]["text"] for line in lines] == ["7", "1"]
    # Drawn 180 px tall at the page's 18 px pen, wider than 180 / 12: read drawn thinner, and said so.
    assert lines[0]["redrawn"] is True
    # The Draw page's way: drawn centred at its pen, read with the strokes (digitdraw.redraw).
    drawing = strokes.render_centred(SEVEN)
    page = reading.read_drawing(drawing.pixels, predictors, strokes=drawing.paths, mode="number")
    for name in ("dense", "cnn"):
        np.testing.assert_allclose(
            lines[0]["models"][name]["probabilities"], page.models[name].digits[0].probabilities, atol=2e-6
        )


def test_strokes_from_a_device_whose_y_grows_upwards_are_turned_the_right_way_up(capsys, tmp_path):
    """A 7 from a y-up tablet, [x, y, time] points: read as a 7 with --y-up (the time left out)."""
    upwards = [[[x, 500 - y, 1000 + 8 * i] for i, (x, y) in enumerate(stroke)] for stroke in SEVEN]
    src = write_lines(tmp_path / "tablet.jsonl", {"label": 7, "strokes": upwards})
    code, [line], err = run(capsys, "predict", "--strokes", src, "--y-up")
    assert code == 0, err
    assert {name: m["text"] for name, m in line["models"].items()} == {"dense": "7", "cnn": "7"}
    _, [as_given], _ = run(capsys, "predict", "--strokes", src)  # upside down, without it
    assert as_given["models"]["cnn"]["text"] != "7"


def test_the_mode_can_be_chosen_a_number_is_never_mended_as_one_digit(capsys, tmp_path):
    # Read as one digit (the default for a drawing this shape), a stroke that goes on where the last one
    # ended is joined to it as a pen that skipped; that joined the digits of numbers written close
    # together (qa27: 713 read "73"). --mode number reads as the wide canvas does: nothing is joined.
    skipped_one = [[[250, 50], [250, 240]], [[250, 262], [250, 450]]]
    src = write_lines(tmp_path / "one.jsonl", {"strokes": skipped_one})
    _, [auto], _ = run(capsys, "predict", "--strokes", src)
    _, [digit], _ = run(capsys, "predict", "--strokes", src, "--mode", "digit")
    code, [number], err = run(capsys, "predict", "--strokes", src, "--mode", "number")
    assert code == 0, err
    assert auto["mended"] == digit["mended"] == 1 and "mended" not in number
    assert auto["models"]["cnn"]["text"] == digit["models"]["cnn"]["text"] == "1"


def test_an_unknown_mode_is_refused_with_the_choices(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["predict", "--strokes", str(tmp_path / "x.jsonl"), "--mode", "numbers"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "'digit'" in err and "'number'" in err


@needs_pendigits
def test_strokes_that_read_far_surer_upside_down_get_a_note_naming_y_up(capsys, tmp_path):
    # A judge's tablet file, y growing upwards, read without --y-up: sure, wrong answers (qa27: a 2
    # read "5" at 100%) and no word why. The answers stand; a note on stderr says which way to try.
    held_out = pendigits.load_pendigits(config.pendigits_path(), writers=pendigits.HOLDOUT_WRITERS)
    digits = [next(d for d in held_out if d.label == label) for label in range(10)]
    down = [{"strokes": [s.tolist() for s in d.strokes]} for d in digits]
    up = [{"strokes": [[[x, 500 - y] for x, y in s.tolist()] for s in d.strokes]} for d in digits]
    tablet = write_lines(tmp_path / "tablet.jsonl", *up)
    plain = write_lines(tmp_path / "plain.jsonl", *down)
    code, lines, err = run(capsys, "predict", "--strokes", tablet)
    assert code == 0 and len(lines) == 10 and "try with --y-up" in err
    _, _, err = run(capsys, "predict", "--strokes", tablet, "--y-up")
    assert "note" not in err
    _, _, err = run(capsys, "predict", "--strokes", plain)
    assert "note" not in err
    _, _, err = run(capsys, "predict", "--strokes", plain, "--y-up")
    assert "try without --y-up" in err


def test_short_strokes_that_may_be_quick_draw_columns_are_read_with_a_note_saying_how_to_give_them(
    capsys, tmp_path
):
    # [[x, x, x], [y, y, y]]: as points, two with a time each; read so (a sure "1"), but said (qa30).
    columns = [[[10, 20, 30], [0, 40, 80]]]
    src = write_lines(tmp_path / "qd.jsonl", {"strokes": columns}, {"strokes": SEVEN})
    code, lines, err = run(capsys, "predict", "--strokes", src)
    assert code == 0 and len(lines) == 2 and "error" not in lines[0]
    assert f"in 1 drawing ({src}:1)" in err and "[[x, y], [x, y], ...]" in err
    _, _, quiet = run(capsys, "predict", "--strokes", write_lines(tmp_path / "pen.jsonl", {"strokes": SEVEN}))
    assert "Quick, Draw!" not in quiet


def test_y_up_without_strokes_says_what_it_is_for(capsys, tmp_path):
    code, lines, err = run(capsys, "predict", tmp_path / "seven.png", "--y-up")
    assert code == 2 and not lines and "--y-up turns pen strokes" in err and "--strokes" in err


def test_with_strokes_each_model_reads_the_pens_path_too_and_says_so(capsys, tmp_path):
    src = write_lines(tmp_path / "mine.jsonl", {"strokes": SEVEN})
    _, [line], _ = run(capsys, "predict", "--strokes", src)
    for name in ("dense", "cnn"):  # both shipped models have a pen-path reader (digitdraw.penpath)
        assert line["models"][name]["digits"][0]["pen_path"] is True


def test_a_six_whose_loop_goes_round_the_other_way_is_still_a_six(capsys):
    """Drawn by hand in one stroke, the loop clockwise, as many left-handed people draw it (every
    pen-digit writer goes round the other way): the pen-path reader, trained on loops drawn both ways
    (penpath.loops_reversed), reads it as a 6 too, and tips no unsure pixels towards a 5."""
    _, lines, _ = run(capsys, "predict", "--strokes", CLOCKWISE_SIX)
    assert len(lines) == 2  # as drawn, and the same stroke drawn backwards
    for line in lines:
        assert {name: m["text"] for name, m in line["models"].items()} == {"dense": "6", "cnn": "6"}


def test_an_image_has_no_strokes_and_is_read_from_its_pixels_alone(capsys, tmp_path):
    from PIL import Image

    image = tmp_path / "seven.png"
    Image.fromarray(strokes.render_centred(SEVEN).pixels).save(image)
    _, [line], _ = run(capsys, "predict", image)
    assert line["models"]["cnn"]["text"] == "7"
    assert line["models"]["cnn"]["digits"][0]["pen_path"] is False


def side_by_side(*digits, gap: float) -> list:
    """Stroke sets written left to right, `gap` apart (pendigits' units), as one drawing."""
    out, x = [], 0.0
    for digit in digits:
        pts = np.concatenate([np.asarray(s, float) for s in digit])
        shift = x - pts[:, 0].min()
        out += [(np.asarray(s, float) + (shift, 0)).tolist() for s in digit]
        x = pts[:, 0].max() + shift + gap
    return out


def test_a_number_written_wide_is_drawn_at_full_height_not_shrunk_until_its_digits_touch(capsys, tmp_path):
    # Four digits a little apart (50 units: 26 px at the page's height, more than its 18 px pen).
    # Shrunk into the square canvas, the gaps fell under the pen's width and digits ran together.
    number = side_by_side(SEVEN, ONE, SEVEN, ONE, gap=50)
    drawing = strokes.render_centred(number)
    rows = np.flatnonzero(drawing.pixels[..., 0].max(axis=1))
    assert drawing.pixels.shape[0] == strokes.CANVAS < drawing.pixels.shape[1]
    assert rows[-1] - rows[0] + 1 == pytest.approx(180 + strokes.IMPORT_PEN, abs=2)  # the page's height
    code, lines, err = run(
        capsys, "predict", "--strokes", write_lines(tmp_path / "n.jsonl", {"strokes": number})
    )
    assert code == 0, err
    assert lines[0]["status"] == "number"
    assert [lines[0]["models"][m]["text"] for m in ("dense", "cnn")] == ["7171", "7171"]
    # A single digit is drawn on the square canvas as before, and so is one stroke however wide.
    for one_stroke in (SEVEN, [[[0, 240], [500, 250]]]):
        assert strokes.render_centred(one_stroke).pixels.shape[:2] == (strokes.CANVAS, strokes.CANVAS)


def test_a_bad_line_gets_an_error_line_and_the_others_are_still_read(capsys, tmp_path):
    src = write_lines(
        tmp_path / "mixed.jsonl",
        {"strokes": SEVEN},
        "",  # blank: skipped, the line numbers still count it
        "not json",
        {"label": 4},
        {"label": 3, "strokes": []},
        [1, 2, 3],
        {"strokes": [[[5, 5]]]},  # one tap: too small to be a digit
        {"strokes": ONE},
    )
    code, lines, _ = run(capsys, "predict", "--strokes", src)
    assert code == 1
    by_line = {line["file"].rsplit(":", 1)[1]: line for line in lines}
    assert set(by_line) == {"1", "3", "4", "5", "6", "7", "8"}
    assert by_line["1"]["models"]["cnn"]["text"] == "7" and by_line["8"]["models"]["cnn"]["text"] == "1"
    assert by_line["3"]["error"].startswith("not a JSON line:")
    for k in ("4", "6"):
        assert (
            by_line[k]["error"]
            == 'not a drawing: each line must be a JSON object with "strokes": [[[x, y], ...], ...]'
        )
    assert by_line["5"]["error"].startswith("not a drawing: strokes must be a non-empty list")
    assert by_line["5"]["label"] == 3  # repeated on an error line too, so a scorer can count it
    assert "too small" in by_line["7"]["error"]


def test_a_missing_or_empty_strokes_file_is_one_error_line(capsys, tmp_path):
    empty = write_lines(tmp_path / "empty.jsonl", "")
    code, lines, _ = run(capsys, "predict", "--strokes", tmp_path / "nope.jsonl", "--strokes", empty)
    assert code == 1
    assert lines == [
        {"file": str(tmp_path / "nope.jsonl"), "error": "cannot read the strokes: No such file or directory"},
        {"file": empty, "error": "cannot read the strokes: no drawings in it (one JSON line a drawing)"},
    ]


def test_strokes_come_from_standard_input_too(capsys, monkeypatch):
    class Stdin:
        buffer = io.BytesIO((json.dumps({"strokes": ONE}) + "\n").encode())

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stdin", Stdin())
    code, lines, _ = run(capsys, "predict", "--strokes", "-")
    assert code == 0
    assert lines[0]["file"] == "<stdin>:1" and lines[0]["models"]["dense"]["text"] == "1"


def test_a_json_file_of_one_drawing_or_a_list_is_read_whole_pretty_printed_or_not(capsys, tmp_path):
    # A `.json` file, as a person saves one: not one error line for each of its lines.
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"label": 7, "strokes": SEVEN}, indent=2))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"strokes": ONE}, {"label": 7, "strokes": SEVEN}], indent=1))
    code, lines, err = run(capsys, "predict", "--strokes", one, "--strokes", many)
    assert code == 0, err
    assert [(line["file"], line["models"]["cnn"]["text"]) for line in lines] == [
        (f"{one}:1", "7"),
        (f"{many}:1", "1"),
        (f"{many}:2", "7"),
    ]
    assert lines[0]["label"] == 7 and lines[2]["label"] == 7
    # Cut short, it is one error line that says what it is not.
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"strokes": SEVEN}, indent=2)[:-10])
    code, lines, _ = run(capsys, "predict", "--strokes", broken)
    assert code == 1 and len(lines) == 1
    assert lines[0]["error"].startswith("cannot read the strokes: not JSON lines, and not one JSON document")


@pytest.mark.parametrize(
    "encoding, mark", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")]
)
def test_a_strokes_file_from_a_windows_tool_is_read_as_feedback_import_reads_it(
    capsys, tmp_path, encoding, mark
):
    # Notepad's UTF-8 with a byte-order mark, PowerShell 5's `>` (UTF-16 with one).
    text = "".join(json.dumps(x) + "\r\n" for x in ({"strokes": ONE}, {"strokes": SEVEN}))
    path = tmp_path / "windows.jsonl"
    path.write_bytes(mark + text.encode(encoding))
    code, lines, err = run(capsys, "predict", "--strokes", path)
    assert code == 0, err
    assert [line["models"]["cnn"]["text"] for line in lines] == ["1", "7"]


def test_an_image_named_as_strokes_is_one_error_line_and_a_stray_byte_spoils_nothing_else(capsys, tmp_path):
    image = tmp_path / "digit.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    code, lines, _ = run(capsys, "predict", "--strokes", image)
    assert code == 1 and len(lines) == 1 and "not UTF-8 text" in lines[0]["error"]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(
        b'{"strokes": [[[1, 1], [2, 2]]], "note": "\xe9"}\n' + json.dumps({"strokes": ONE}).encode()
    )
    code, lines, _ = run(capsys, "predict", "--strokes", mixed)  # not UTF-8, but no binary: read line by line
    assert code == 0 and [line["file"] for line in lines] == [f"{mixed}:1", f"{mixed}:2"]
    assert lines[1]["models"]["cnn"]["text"] == "1"


def test_images_and_strokes_are_read_in_one_run_and_nothing_to_read_is_refused(capsys, tmp_path):
    code, lines, err = run(capsys, "predict")
    assert code == 2 and lines == []
    assert "nothing to read: name image files, folders or patterns, or --strokes FILE.jsonl" in err
    code, _, err = run(capsys, "predict", "-", "--strokes", "-")
    assert code == 2 and "standard input (-) can be read once" in err


def test_a_drawing_that_breaks_the_reading_is_said_on_its_line_and_the_rest_are_read(
    capsys, tmp_path, monkeypatch
):
    real = reading.read_drawing
    calls = []

    def breaks_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "read_drawing", breaks_once)
    src = write_lines(tmp_path / "two.jsonl", {"label": 7, "strokes": SEVEN}, {"strokes": ONE})
    code, lines, _ = run(capsys, "predict", "--strokes", src)
    assert code == 1
    assert lines[0] == {
        "file": f"{src}:1",
        "label": 7,
        "error": "could not read this drawing (RuntimeError: a bug)",
    }
    assert lines[1]["models"]["cnn"]["text"] == "1"
