"""Specification of the command line: `digitdraw` / `python -m digitdraw` train, evaluate, predict,
info, data and list, and how it reports mistakes (one line on stderr, exit code 2).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import warnings

import numpy as np
import pytest
from PIL import Image

from digitdraw import architectures, cli, config, modelio, pendigits, reading, recipe
from digitdraw import preprocess as pp

REPO = config.REPO_ROOT


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_module(*argv, env=None, timeout=300) -> subprocess.CompletedProcess:
    """`python -m digitdraw ...` in a fresh interpreter, from the repository root."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "digitdraw", *map(str, argv)],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory, mnist):
    """Three MNIST test digits saved as PNG at canvas size, as a user's files would be."""
    folder = tmp_path_factory.mktemp("pngs")
    files = []
    for i in (0, 1, 2):  # test images 0-2: 7, 2, 1
        big = Image.fromarray(mnist.x_test[i]).resize((280, 280), Image.BILINEAR)
        files.append((folder / f"digit{i}.png", int(mnist.y_test[i])))
        big.save(files[-1][0])
    return files


# -- train -----------------------------------------------------------------------------


def test_train_writes_model_card_and_weights(capsys, tmp_path, mnist_dir):
    out = tmp_path / "tiny.keras"
    argv = [
        "train",
        "--arch",
        "dense",
        "--subset",
        "600",
        "--epochs",
        "1",
        "--seed",
        "5",
        "--out",
        out,
        "--weights",
        "--no-drawn",
        "--data-dir",
        mnist_dir,
    ]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["model"] == str(out) and summary["epochs"] == 1
    assert 0.5 < summary["test_accuracy"] <= 1.0  # 600 images, one epoch: well above chance
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.keras", "tiny.weights.h5"]

    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["command"] == "python -m digitdraw " + " ".join(map(str, argv))
    assert card["architecture"] == "dense" and card["api"] == "sequential"
    assert card["training"]["subset"] == 600 and card["training"]["seed"] == 5
    assert card["data"] == {
        "source": str(mnist_dir),
        "train_images": 600,
        "test_images": 10000,
        "pen_writers": None,
        "pen_copies": 0,
    }
    assert card["test_accuracy"] == summary["test_accuracy"]
    assert len(card["per_class_accuracy"]) == 10 and card["history"]["loss"]
    assert card["parameters"] == 101_770
    assert set(card["versions"]) >= {"tensorflow", "keras", "numpy", "python"}

    # Both files load, and give the same answers.
    x = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(modelio.load(out)(x), modelio.load(tmp_path / "tiny.weights.h5")(x))


def test_train_refuses_an_out_path_that_is_not_keras(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--arch", "dense", "--out", tmp_path / "m.h5")
    assert code == 2
    assert err.startswith("digitdraw: error: --out") and ".keras" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", [" padded", "tab\there"])
def test_train_refuses_an_out_name_no_model_can_have_before_training(capsys, tmp_path, name):
    code, _, err = run(capsys, "train", "--arch", "dense", "--out", tmp_path / f"{name}.keras")
    assert code == 2
    assert err.startswith("digitdraw: error: The model name") and "Training" not in err
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_a_finetune_phase_without_pen_digits(capsys, tmp_path):
    code, _, err = run(
        capsys, "train", "--arch", "dense", "--finetune-epochs", "2", "--out", tmp_path / "m.keras"
    )
    assert code == 2
    assert "--finetune-epochs" in err and "--pen-writers" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--elastic", "--label-smoothing", "--weight-decay"])
def test_options_measured_and_not_kept_are_gone(capsys, flag):
    # Their history is in docs/experiments.md; the CLI no longer takes them.
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--arch", "dense", flag, "0.1"])
    assert info.value.code == 2
    assert f"unrecognized arguments: {flag}" in capsys.readouterr().err


def test_train_refuses_a_finetune_blend_outside_zero_to_one(capsys, tmp_path):
    code, _, err = run(
        capsys, "train", "--arch", "dense", "--finetune-blend", "2", "--out", tmp_path / "m.keras"
    )
    assert code == 2
    assert "--finetune-blend" in err and "from 0 to 1 (asked for 2)" in err
    assert list(tmp_path.iterdir()) == []


def test_train_by_module_saves_in_the_user_models_folder(tmp_path, mnist_dir):
    """The one end-to-end run through a fresh `python -m digitdraw` process."""
    users = tmp_path / "users"
    result = run_module(
        "train",
        "--arch",
        "dense",
        "--subset",
        "300",
        "--epochs",
        "1",
        "--no-drawn",
        env={config.USER_MODELS_ENV: str(users), config.DATA_DIR_ENV: str(mnist_dir)},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    saved = sorted(users.iterdir())
    assert [p.suffix for p in saved] == [".json", ".keras"]
    assert summary["model"] == str(saved[1]) and saved[1].name.startswith("dense-")
    card = json.loads(saved[0].read_text())
    assert card["command"] == "python -m digitdraw train --arch dense --subset 300 --epochs 1 --no-drawn"
    assert "Traceback" not in result.stderr and "UserWarning" not in result.stderr
    assert_no_tensorflow_log_lines(result.stderr)
    # Not a terminal: one plain line an epoch, no bar redrawn with carriage returns or escape codes.
    assert re.search(
        r"^epoch 1/1: accuracy \d\.\d{4}, loss \d\.\d{4} \(\d+\.\d s\)$", result.stdout, re.MULTILINE
    )
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    # The recipe, as flags that give back the run's recipe when pasted after `digitdraw train`.
    (recipe_line,) = [
        line for line in result.stderr.splitlines() if line.startswith("Recipe: digitdraw train ")
    ]
    flags = shlex.split(recipe_line.removeprefix("Recipe: digitdraw train "))
    again = recipe.config_from_flags(cli.build_parser().parse_args(["train", *flags]))
    assert dataclasses.asdict(again) == card["training"]


# TensorFlow's own start-up lines: absl's preamble, C++ log lines, the oneDNN and CUDA notices.
TF_LOG_MARKERS = ("absl::InitializeLog", "I0000 ", "W0000 ", "E0000 ", "oneDNN", "cuda", "cpu_feature_guard")


def assert_no_tensorflow_log_lines(stderr: str) -> None:
    for marker in TF_LOG_MARKERS:
        assert marker not in stderr, stderr[-600:]


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    assert cli.is_terminal(Stream(tty=True))  # Keras's updating bar
    assert not cli.is_terminal(Stream(tty=False))  # one plain line an epoch
    assert not cli.is_terminal(object())  # a stream that cannot tell


# -- evaluate --------------------------------------------------------------------------


def test_evaluate_prints_accuracy_per_class_and_confusion(capsys, model_files, mnist_dir):
    code, out, err = run(capsys, "evaluate", model_files["dense"], "--data-dir", mnist_dir)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("dense: MNIST test accuracy ") and lines[0].endswith("%")
    accuracy = float(lines[0].split()[-1].rstrip("%")) / 100
    assert accuracy > 0.8
    assert lines[1].strip().startswith("per class: 0:")
    assert "confusion" in lines[2]
    rows = [[int(n) for n in line.split()] for line in lines[3:13]]
    assert len(rows) == 10 and all(len(r) == 10 for r in rows)
    assert sum(map(sum, rows)) == 10000
    assert [sum(r) for r in rows] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_evaluate_json_one_object_a_model(capsys, model_files, mnist_dir):
    code, out, err = run(
        capsys, "evaluate", model_files["dense"], model_files["cnn"], "--json", "--data-dir", mnist_dir
    )
    assert code == 0, err
    results = json_lines(out)
    assert [r["model"] for r in results] == ["dense", "cnn"]
    for r in results:
        confusion = np.array(r["confusion_matrix"])
        assert confusion.shape == (10, 10) and confusion.sum() == 10000
        assert r["accuracy"] == pytest.approx(np.trace(confusion) / 10000, abs=1e-6)
        assert len(r["per_class_accuracy"]) == 10


def test_evaluate_record_writes_the_measured_figures_into_the_card(capsys, model_files, mnist_dir, tmp_path):
    from digitdraw import modelio

    shutil.copy(model_files["dense"], tmp_path / "mine.keras")
    card = modelio.read_card(model_files["dense"])
    modelio.write_json(tmp_path / "mine.json", {**card, "test_accuracy": 0.5, "created": "then"})
    code, out, err = run(capsys, "evaluate", tmp_path / "mine.keras", "--record", "--data-dir", mnist_dir)
    assert code == 0, err
    assert f"recorded in {tmp_path / 'mine.json'}: test_accuracy, per_class_accuracy" in out
    measured = float(out.splitlines()[0].split()[-1].rstrip("%")) / 100
    recorded = modelio.read_card(tmp_path / "mine.keras")
    assert recorded["test_accuracy"] == pytest.approx(measured, abs=5e-5)
    assert recorded["created"] == "then" and recorded["command"] == card["command"]  # the rest stays
    assert "drawn_digit_accuracy" not in recorded or recorded["drawn_digit_accuracy"] == card.get(
        "drawn_digit_accuracy"
    )  # not measured without --drawn: left as it was


# -- predict ---------------------------------------------------------------------------


def test_predict_one_json_line_per_image(capsys, model_files, digit_pngs):
    code, out, err = run(
        capsys,
        "predict",
        *(p for p, _ in digit_pngs),
        "--model",
        model_files["dense"],
        "--model",
        model_files["cnn"],
    )
    assert code == 0, err
    lines = json_lines(out)
    assert [line["file"] for line in lines] == [str(p) for p, _ in digit_pngs]
    for line in lines:
        assert set(line) == {"file", "status", "models"}
        assert set(line["models"]) == {"dense", "cnn"}
        for answer in line["models"].values():
            assert answer["digit"] in range(10)
            probs = answer["probabilities"]
            assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-4)
            assert answer["digit"] == int(np.argmax(probs))
    # The trained dense model reads these clear digits.
    assert (
        sum(
            line["models"]["dense"]["digit"] == label
            for line, (_, label) in zip(lines, digit_pngs, strict=True)
        )
        >= 2
    )


def test_predict_unreadable_files_get_error_lines_and_the_others_answers(
    capsys, tmp_path, model_files, digit_pngs
):
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a PNG")
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 0).save(blank)
    missing = tmp_path / "missing.png"
    good = digit_pngs[0][0]
    code, out, err = run(
        capsys,
        "predict",
        broken,
        good,
        missing,
        blank,
        good,
        "--model",
        model_files["dense"],
        "--model",
        model_files["cnn"],
    )
    assert code == 1
    lines = json_lines(out)
    assert [line["file"] for line in lines] == [str(p) for p in (broken, good, missing, blank, good)]
    for i in (0, 2, 3):
        assert set(lines[i]) == {"file", "error"} and lines[i]["error"]
    assert "not an image" in lines[0]["error"]
    for i in (1, 4):
        assert set(lines[i]["models"]) == {"dense", "cnn"}
    assert lines[1] == lines[4]
    assert "Traceback" not in err


def test_predict_says_why_a_dot_and_a_filled_square_are_not_read(capsys, tmp_path, model_files):
    dot, square = tmp_path / "dot.png", tmp_path / "square.png"
    image = Image.new("L", (280, 280), 0)
    image.paste(255, (134, 134, 146, 146))  # a 12 px tap of the pen
    image.save(dot)
    image.paste(255, (60, 60, 220, 220))  # a filled square, half the image wide
    image.save(square)
    code, out, _ = run(capsys, "predict", dot, square, "--model", model_files["dense"])
    assert code == 1
    assert [line["error"] for line in json_lines(out)] == [reading.TOO_SMALL_IMAGE, pp.FILLED_REASON]


def test_predict_by_module_prints_only_json(model_files, digit_pngs):
    result = run_module("predict", digit_pngs[0][0], "--model", model_files["dense"])
    assert result.returncode == 0, result.stderr
    (line,) = json_lines(result.stdout)
    assert line["file"] == str(digit_pngs[0][0]) and set(line["models"]) == {"dense"}
    assert_no_tensorflow_log_lines(result.stderr)


# -- info, data, list ------------------------------------------------------------------


def test_info_prints_the_card_and_the_summary(capsys, model_files):
    code, out, err = run(capsys, "info", model_files["dense"])
    assert code == 0, err
    assert out.startswith(f"# {model_files['dense']}\n")
    card_text = out[out.index("{") : out.index("\n}\n") + 2]
    card = json.loads(card_text)
    assert card["architecture"] == "dense" and "history" not in card
    assert card["command"] == "fixture dense"
    assert "Total params: 101,770" in out
    assert "dense_128" in out and "probabilities" in out


def test_info_without_a_card(capsys, tmp_path):
    path = modelio.save(architectures.build("cnn"), tmp_path / "bare.keras")
    code, out, _ = run(capsys, "info", path)
    assert code == 0
    assert "(no model card)" in out and "conv1" in out


def test_info_by_name_from_the_user_models_folder(capsys, tmp_path, monkeypatch, model_files):
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    modelio.save(modelio.load(model_files["dense"]), tmp_path / "mine.keras", {"architecture": "dense"})
    code, out, _ = run(capsys, "info", "mine")
    assert code == 0 and out.startswith(f"# {tmp_path / 'mine.keras'}")


def test_data_prints_statistics_and_writes_the_grid(capsys, tmp_path, mnist_dir):
    grid = tmp_path / "grid.png"
    code, out, err = run(capsys, "data", "--data-dir", mnist_dir, "--grid", grid, "--per-class", "6")
    assert code == 0, err
    assert f"source: {mnist_dir}" in out
    assert "train: 60000 images 28x28 uint8" in out
    assert "per class 5923 6742 5958 6131 5842 5421 5918 6265 5851 5949" in out
    assert "test: 10000 images" in out and "per class 980 1135 1032" in out
    with Image.open(grid) as im:
        assert im.format == "PNG" and im.size == (6 * 28 * 2, 10 * 28 * 2)
        pixels = np.asarray(im)
    # Every row of the grid holds digits (ink), none is left empty.
    for digit in range(10):
        assert pixels[digit * 56 : (digit + 1) * 56].max() > 200


def test_list_shows_trained_models(capsys, tmp_path, monkeypatch, model_files):
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path))
    modelio.save(
        modelio.load(model_files["dense"]),
        tmp_path / "mine.keras",
        {"architecture": "dense", "test_accuracy": 0.9},
    )
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert f"mine\t{tmp_path / 'mine.keras'}\tmine (trained here, MNIST 90.00%)" in out.splitlines()


# -- Mistakes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "x.png", "--model", "no-such-model"],
        ["evaluate", "no-such-model"],
        ["info", "no-such-model"],
    ],
    ids=["predict", "evaluate", "info"],
)
def test_unknown_model_name_is_a_clear_error(capsys, argv, mnist_dir):
    code, out, err = run(capsys, *argv, *(["--data-dir", mnist_dir] if argv[0] == "evaluate" else []))
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]  # one line
    assert err.startswith("digitdraw: error: No model named 'no-such-model'; known models:")
    assert out == ""


def test_missing_model_path_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "info", tmp_path / "gone.keras")
    assert code == 2 and "gone.keras: no such model file" in err


def test_unknown_architecture_and_command_are_usage_errors(capsys):
    for argv in (["train", "--arch", "resnet"], ["frobnicate"], []):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    assert "usage: digitdraw" in capsys.readouterr().err


SUBCOMMANDS = (
    "train",
    "evaluate",
    "predict",
    "combine",
    "export",
    "calibrate",
    "penpath",
    "info",
    "data",
    "list",
    "feedback",
    "finetune",
)


def test_help_answers_without_importing_tensorflow():
    # The parser is built from modules that do not load TensorFlow: `--help` is instant, for
    # the program and for every command.
    probe = (
        "import sys\n"
        "from digitdraw import cli\n"
        "for argv in ARGVS:\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (argv, e.code)\n"
        "print('LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    argvs = [["--help"], *([name, "--help"] for name in SUBCOMMANDS)]
    result = subprocess.run(
        [sys.executable, "-c", probe.replace("ARGVS", repr(argvs))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("usage: digitdraw") == len(argvs)
    for name in SUBCOMMANDS:
        assert f"usage: digitdraw {name}" in result.stdout
    assert "LOADED []" in result.stdout, result.stdout[-300:]
    assert set(SUBCOMMANDS) == set(cli.COMMANDS)


def test_list_reads_the_cards_without_importing_tensorflow():
    # `digitdraw list` reads files and cards only: it answers at once, not after TensorFlow's import.
    probe = (
        "import sys\n"
        "from digitdraw import cli\n"
        "code = cli.main(['list'])\n"
        "print('CODE', code, 'LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "cnn\t" in result.stdout and "dense\t" in result.stdout  # the shipped models are listed
    assert "CODE 0 LOADED []" in result.stdout, result.stdout[-300:]


def test_console_script_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["digitdraw"] == "digitdraw.cli:main"
    assert cli.main is not None


# -- export ----------------------------------------------------------------------------


def test_export_choices_are_the_exporters_own():
    from digitdraw import export

    assert cli.EXPORT_FORMATS == export.FORMATS
    assert set(cli.EXPORT_QUANTIZATIONS) == set(export.QUANTIZATIONS)


def test_export_writes_the_artifact_and_its_card_and_prints_size_and_parity(
    capsys, tmp_path, model_files, mnist_dir
):
    out = tmp_path / "dense.tflite"
    argv = ["export", model_files["dense"], "--format", "tflite", "--out", out, "--data-dir", mnist_dir]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    card = json.loads((tmp_path / "dense.tflite.json").read_text())
    assert card["format"] == "tflite" and card["meets_targets"] is True
    assert out.stat().st_size == card["size_bytes"]
    assert f"{card['size_bytes']:,} bytes" in stdout
    assert f"same digit {card['parity']['same_digit']:.2%}" in stdout and "meets the targets" in stdout

    # Once there, it is kept unless --force says otherwise.
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("digitdraw: error:") and "--force" in err
    code, _, err = run(capsys, *argv, "--force")
    assert code == 0, err


def test_export_refuses_a_quantization_its_format_lacks(capsys, tmp_path, model_files):
    code, _, err = run(
        capsys,
        "export",
        model_files["dense"],
        "--format",
        "onnx",
        "--quantize",
        "int8",
        "--out",
        tmp_path / "d.onnx",
    )
    assert code == 2 and err.startswith("digitdraw: error:") and "int8" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


# -- Bad input: one line, exit code 2, nothing written, before any slow work -----------------------


def copy_model(src, folder):
    """A model file and its card copied into `folder` (a test never changes the session's files)."""
    import shutil

    dst = folder / src.name
    shutil.copy(src, dst)
    shutil.copy(modelio.card_path(src), modelio.card_path(dst))
    return dst


def pendigits_subset(pendigits_file, path, writers) -> str:
    """The lines of `writers` from the configured pendigits file, written to `path`."""
    keep = set(writers)
    lines = [line for line in pendigits_file.read_text().splitlines() if json.loads(line)["writer"] in keep]
    path.write_text("\n".join(lines) + "\n")
    return path.read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["finetune", "--base", "dense", "--out", "f.keras", "--seed", "-1"],
            "argument --seed: must be from 0",
        ),
        (["data", "--per-class", "0"], "argument --per-class: must be from 1 to 100 (got 0)"),
        (["data", "--per-class", "-1"], "argument --per-class: must be from 1 to 100 (got -1)"),
        (["data", "--per-class", "100000"], "argument --per-class: must be from 1 to 100 (got 100000)"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seed", "-1"], "the seed must be from 0 to 4294967295 (asked for -1)"),
        (["--seed", str(2**32)], f"the seed must be from 0 to 4294967295 (asked for {2**32})"),
        (["--mnist-piped", "-1"], "piped MNIST (--mnist-piped) cannot be negative (asked for -1)"),
        (["--pen-copies", "-1"], "pen renderings (--pen-copies) cannot be negative (asked for -1)"),
    ],
)
def test_a_recipe_number_out_of_range_is_refused_before_any_work(
    capsys, tmp_path, monkeypatch, argv, message
):
    # The recipe's own check (recipe.recipe_problems), which the app's runs share.
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "writers, message",
    [
        ("abc", "--pen-writers: writers 'abc': 'abc' is not a writer number"),
        ("5-1", "the range 5-1 runs backwards (write 1-5)"),
        ("0", "writers are numbered from 1"),
        ("40-50", "no pen digits for writers 40-50"),
    ],
)
def test_train_refuses_pen_writers_it_has_no_digits_of(capsys, tmp_path, pendigits_file, writers, message):
    argv = ["train", "--arch", "dense", "--pen-writers", writers, "--out", tmp_path / "m.keras"]
    code, _, err = run(capsys, *argv, "--pendigits", pendigits_file)
    assert code == 2
    assert err.startswith("digitdraw: error: ") and message in err and err.count("\n") == 1, err
    if writers == "40-50":  # says which writers the file has, from the file
        assert (
            f"(the file has writers {pendigits.describe_writers(pendigits.writers_in(pendigits_file))})"
            in err
        )
    assert "Training" not in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["train", "evaluate", "combine", "calibrate", "penpath", "finetune"])
def test_a_malformed_pendigits_file_is_named_with_its_line(
    capsys, tmp_path, model_files, mnist_dir, pendigits_file, command
):
    bad = tmp_path / "bad.jsonl"
    good = pendigits_file.read_text().splitlines()[0]
    bad.write_text(f"{good}\nnot a record\n{good}\n")
    work = tmp_path / "work"
    work.mkdir()
    dense = copy_model(model_files["dense"], work)
    card = modelio.card_path(dense).read_text()
    out = tmp_path / "out.keras"
    argv = {
        "train": ["train", "--arch", "dense", "--pen-writers", "1-24", "--out", out],
        "evaluate": ["evaluate", dense, "--drawn"],
        "combine": ["combine", dense, model_files["dense"], "--out", out],
        "calibrate": ["calibrate", dense],
        "penpath": ["penpath", dense],
        "finetune": ["finetune", "--base", dense, "--out", out],
    }[command]
    code, stdout, err = run(capsys, *argv, "--pendigits", bad, "--data-dir", mnist_dir)
    assert code == 2, err
    assert (
        err
        == f"digitdraw: error: {bad}:2: not a pendigits record (Expecting value: line 1 column 1 (char 0))\n"
    )
    assert stdout == "" and not out.exists()
    assert modelio.card_path(dense).read_text() == card


@pytest.mark.parametrize("writers", [[25, 1], [1, 2, 3, 4]])
def test_calibrate_refuses_too_few_writers_before_the_slow_fit(
    capsys, tmp_path, model_files, pendigits_file, writers
):
    few = tmp_path / "few.jsonl"
    pendigits_subset(pendigits_file, few, writers)
    dense = copy_model(model_files["dense"], tmp_path)
    card = modelio.card_path(dense).read_text()
    code, out, err = run(capsys, "calibrate", dense, "--pendigits", few)
    assert code == 2 and out == ""
    assert err.startswith("digitdraw: error: calibrate needs pen digits of the held-out writers 25-30")
    assert f"{few} has writers {pendigits.describe_writers(writers)}." in err
    assert "Calibrating" not in err  # refused before the fit started
    assert modelio.card_path(dense).read_text() == card


@pytest.mark.parametrize("as_json", [False, True])
def test_evaluate_drawn_without_the_held_out_writers_says_so_and_prints_no_nan(
    capsys, tmp_path, model_files, mnist_dir, pendigits_file, as_json
):
    tune_only = tmp_path / "tune.jsonl"
    pendigits_subset(pendigits_file, tune_only, [1, 2])
    argv = ["evaluate", model_files["dense"], "--drawn", "--pendigits", tune_only, "--data-dir", mnist_dir]
    code, out, err = run(capsys, *argv, *(["--json"] if as_json else []))
    assert code == 2 and out == "" and "nan" not in err.lower()
    assert err.startswith(f"digitdraw: error: {tune_only} has no drawings of the held-out writers 25-30")
    assert "(its writers: 1-2)" in err


def saving_command(command: str, model_files, out) -> list:
    """The shortest `command` line that would save a model at `out`."""
    return {
        "train": ["train", "--arch", "dense", "--out", out],
        "combine": ["combine", model_files["dense"], model_files["dense"], "--out", out],
        "finetune": ["finetune", "--base", model_files["dense"], "--out", out],
    }[command]


@pytest.mark.parametrize("command", ["train", "combine", "finetune"])
def test_an_out_under_a_file_is_refused_before_any_work(capsys, tmp_path, model_files, mnist_dir, command):
    blocker = tmp_path / "some_file.png"
    blocker.write_bytes(b"not a folder")
    out = blocker / "x.keras"
    argv = saving_command(command, model_files, out)
    code, _, err = run(capsys, *argv, "--data-dir", mnist_dir)
    assert code == 2
    assert err.startswith(f"digitdraw: error: --out {out}: {blocker} is a file, not a folder")
    assert sorted(tmp_path.iterdir()) == [blocker] and blocker.read_bytes() == b"not a folder"


@pytest.mark.parametrize("command", ["train", "combine", "finetune"])
def test_an_existing_out_model_is_kept_unless_forced(capsys, tmp_path, model_files, mnist_dir, command):
    out = copy_model(model_files["cnn"], tmp_path)  # someone's model, at the --out path
    model_bytes, card = out.read_bytes(), modelio.card_path(out).read_text()
    argv = saving_command(command, model_files, out)
    code, _, err = run(capsys, *argv, "--data-dir", mnist_dir)
    assert code == 2
    assert err.startswith(f"digitdraw: error: --out {out} exists already; choose another --out")
    assert err.endswith("or add --force to replace it.\n")
    assert out.read_bytes() == model_bytes and modelio.card_path(out).read_text() == card


def test_train_with_force_replaces_the_model_at_out(capsys, tmp_path, mnist_dir):
    out = tmp_path / "tiny.keras"
    out.write_bytes(b"an old file")
    argv = ["train", "--arch", "dense", "--subset", "300", "--epochs", "1", "--no-drawn", "--out", out]
    code, stdout, err = run(capsys, *argv, "--force", "--data-dir", mnist_dir)
    assert code == 0, err
    assert json.loads(stdout.splitlines()[-1])["model"] == str(out)
    assert modelio.load(out).output_shape == (None, 10) and modelio.read_card(out)["architecture"] == "dense"


def test_training_on_held_out_writers_warns_and_records_no_drawn_accuracy(
    capsys, tmp_path, mnist_dir, pendigits_file
):
    out = tmp_path / "all.keras"
    argv = ["train", "--arch", "dense", "--subset", "300", "--epochs", "1", "--pen-writers", "24-25"]
    code, stdout, err = run(
        capsys, *argv, "--out", out, "--pendigits", pendigits_file, "--data-dir", mnist_dir
    )
    assert code == 0, err
    assert "warning: --pen-writers 24-25 includes the held-out writers 25" in err
    summary, card = json.loads(stdout.splitlines()[-1]), modelio.read_card(out)
    note = "not measured: the model trained on writers 25 of the held-out writers 25-30 it is measured on"
    assert summary["drawn_digit_accuracy"] is None and summary["drawn_digit_accuracy_note"] == note
    assert card["drawn_digit_accuracy"] is None and card["drawn_digit_accuracy_note"] == note
    assert "styles_accuracy" not in card  # measured on the same writers: not recorded either
    assert card["training"]["pen_writers"] == "24-25"  # the run did train on them


@pytest.mark.parametrize(
    "setting, message",
    [
        ("learning_rate=nan", "learning_rate must be a positive number, got nan."),
        ("learning_rate=-1", "learning_rate must be a positive number, got -1.0."),
        ("mnist_replay=-5", "mnist_replay and pen_replay are counts of images, 0 or more (got -5 and"),
        ("pen_replay=-1", "counts of images, 0 or more"),
        ("time_budget=-5", "time_budget must be a positive number of seconds, got -5.0."),
        ("time_budget=inf", "time_budget must be a positive number of seconds, got inf."),
    ],
)
def test_finetune_refuses_settings_no_finetune_can_use(capsys, tmp_path, model_files, setting, message):
    out = tmp_path / "f.keras"
    code, _, err = run(capsys, "finetune", "--base", model_files["dense"], "--out", out, "--set", setting)
    assert code == 2 and message in err, err
    assert err.startswith("digitdraw: error: ") and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "grid, message",
    [
        ("x.txt", "--grid {}: .txt is not an image type to write; use .png or .jpg."),
        ("noext", "--grid {}: no extension is not an image type to write; use .png or .jpg."),
        ("no/such/g.png", "--grid {}: there is no folder"),
    ],
)
def test_data_refuses_a_grid_it_cannot_write_before_reading_mnist(capsys, tmp_path, grid, message):
    path = tmp_path / grid
    code, out, err = run(capsys, "data", "--grid", path, "--data-dir", tmp_path / "no-mnist-here")
    assert code == 2 and out == ""
    assert err.startswith("digitdraw: error: " + message.format(path))  # not the missing MNIST
    assert list(tmp_path.iterdir()) == []


def test_data_given_a_folder_for_its_grid_says_to_name_a_file_in_it(capsys, tmp_path):
    code, _, err = run(capsys, "data", "--grid", tmp_path, "--data-dir", tmp_path / "no-mnist-here")
    assert code == 2
    assert err.startswith(f"digitdraw: error: --grid {tmp_path} is a folder; give the image file to write")
    assert str(tmp_path / "grid.png") in err


def test_library_warnings_show_only_with_verbose(monkeypatch):
    def chatty(args) -> int:
        warnings.warn_explicit("library chatter", FutureWarning, "lib.py", 1, module="somelib")
        warnings.warn_explicit("ours", UserWarning, "x.py", 1, module="digitdraw.x")
        return 0

    monkeypatch.setitem(cli.COMMANDS, "data", chatty)  # `data` loads no TensorFlow
    for argv, shown in ((["data"], ["ours"]), (["data", "--verbose"], ["library chatter", "ours"])):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert cli.main(argv) == 0
        assert sorted(str(w.message) for w in seen) == shown
