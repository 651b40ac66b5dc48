"""`python -m digitdraw` / `digitdraw`: train, evaluate, predict, info and data, without a browser."""

# The commands import the modules that load TensorFlow (data aside, all of them) inside their
# functions: the parser alone must answer `--help` or a usage error at once (about 0.5 s, not 6 s).

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from digitdraw import config, data, pendigits, preprocess, recipe


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"folder with the MNIST IDX files or mnist.npz (default: ${config.DATA_DIR_ENV}, "
        "else Keras's download)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitdraw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it with its card")
    t.add_argument(
        "--preset",
        choices=list(recipe.PRESETS),
        default="quick",
        help="recipe the other options start from (default: quick)",
    )
    recipe.add_flags(t)
    t.add_argument("--pendigits", help=f"pendigits train.jsonl (default: ${config.PENDIGITS_ENV})")
    t.add_argument("--out", help="model path, .keras (default: user models folder, timestamped name)")
    t.add_argument("--weights", action="store_true", help="also save the weights alone (.weights.h5)")
    t.add_argument(
        "--drawn",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure drawn-digit accuracy for the card (needs pendigits)",
    )
    _add_data_dir(t)

    e = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix")
    e.add_argument("models", nargs="*", default=list(config.DEFAULT_MODELS), help="names or paths")
    e.add_argument("--drawn", action="store_true", help="also score real pen-drawn digits")
    e.add_argument("--pendigits")
    e.add_argument("--json", action="store_true", help="one JSON object a model")
    _add_data_dir(e)

    p = sub.add_parser("predict", help="read digits from image files; one JSON line each")
    p.add_argument("images", nargs="+")
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help="model to ask (repeatable; default: dense and cnn)",
    )

    i = sub.add_parser("info", help="a model's card and layer summary")
    i.add_argument("model", nargs="?", default="cnn")

    d = sub.add_parser("data", help="dataset statistics and a PNG grid of samples per class")
    d.add_argument("--grid", default="mnist_samples.png", help="where to write the PNG grid")
    d.add_argument("--per-class", type=int, default=10)
    _add_data_dir(d)

    sub.add_parser("list", help="the models the app and CLI can use")

    fb = sub.add_parser("feedback", help="the corrections database: import, list or export drawings")
    fb_sub = fb.add_subparsers(dest="feedback_command", required=True)
    fb_import = fb_sub.add_parser(
        "import", help="store pendigits JSONL lines as corrections (all of them, or none if a line is bad)"
    )
    fb_import.add_argument("file", help='JSONL, one {"label": 4, "strokes": [[[x, y], ...]]} a line')
    fb_list = fb_sub.add_parser("list", help="every stored drawing, newest first, and each model's accuracy")
    fb_export = fb_sub.add_parser("export", help="every stored drawing as pendigits JSONL (oldest first)")
    fb_export.add_argument("--out", help="the JSONL file to write (default: standard output)")
    for fp in (fb_import, fb_list, fb_export):
        fp.add_argument(
            "--db",
            default=None,
            help="SQLAlchemy URL of the database (default: $DIGITDRAW_DB_URL, else SQLite in the user "
            "data folder)",
        )

    ft = sub.add_parser(
        "finetune",
        help="fine-tune a model on every stored correction (digitdraw.finetune) and save it with its card",
    )
    ft.add_argument(
        "--base", required=True, metavar="MODEL", help="the model to start from: a name or a path"
    )
    ft.add_argument("--out", required=True, metavar="FILE", help="where to save the new model (.keras)")
    ft.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL of the corrections database (default: $DIGITDRAW_DB_URL, else SQLite in "
        "the user data folder)",
    )
    ft.add_argument("--seed", type=int, default=0, help="seeds the held-out split and the training")
    ft.add_argument("--pendigits", help=f"pendigits train.jsonl, replayed (default: ${config.PENDIGITS_ENV})")
    ft.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="advanced: change one FinetuneSettings field (repeatable), e.g. --set epochs=1 --set copies=2 "
        "--set pen_replay=0",
    )
    _add_data_dir(ft)
    return parser


def _fail(message: str) -> int:
    print(f"digitdraw: error: {message}", file=sys.stderr)
    return 2


def _load_predictors(specs):
    from digitdraw import modelio
    from digitdraw.predict import Predictor

    predictors = {}
    for spec in specs:
        path = modelio.resolve(spec)
        name = (modelio.model_name(spec) or str(spec)) if Path(spec).is_file() else str(spec)
        predictors[name] = Predictor(modelio.load(path))
    return predictors


def cmd_train(args) -> int:
    from digitdraw import runs, training

    cfg = recipe.config_from_flags(args, args.preset)
    problems = recipe.recipe_problems(cfg)
    if problems:
        return _fail("; ".join(problems) + ".")
    out = Path(args.out) if args.out else runs.new_model_path(cfg.architecture)
    if out.suffix != ".keras":
        return _fail(f"--out {out}: use a .keras path (weights are saved beside it with --weights).")

    mnist = data.load_mnist(args.data_dir)
    pen = config.pendigits_path(args.pendigits, args.data_dir)
    print(f"Training {cfg.architecture} ({cfg.api}) on {mnist.source}: {cfg}", file=sys.stderr)
    try:
        result = training.train(cfg, mnist, verbose=1, pendigits_path=pen)
    except KeyboardInterrupt:  # Ctrl-C: Keras stops mid-batch, so nothing is worth saving
        print("Cancelled; nothing was saved.", file=sys.stderr)
        return 130
    saved = runs.evaluate_and_save(
        result,
        mnist,
        out,
        command="python -m digitdraw " + shlex.join(args.argv),
        pendigits_path=pen,
        measure_drawn=args.drawn,
        weights=args.weights,
    )
    for note in saved.notes:
        print(note, file=sys.stderr)
    print(
        json.dumps(
            {
                "model": str(out),
                "test_accuracy": saved.card["test_accuracy"],
                "drawn_digit_accuracy": saved.drawn_accuracy,
                "training_seconds": saved.card["training_seconds"],
                "epochs": saved.card["epochs"],
            }
        )
    )
    return 0


def cmd_evaluate(args) -> int:
    from digitdraw import drawn
    from digitdraw.evaluate import evaluate

    mnist = data.load_mnist(args.data_dir)
    for name, predictor in _load_predictors(args.models).items():
        result = {"model": name, **evaluate(predictor, mnist.x_test, mnist.y_test).summary()}
        if args.drawn:
            pen = config.pendigits_path(args.pendigits, args.data_dir)
            if pen is None or not pen.is_file():
                return _fail(f"--drawn needs the pendigits file: {pendigits.missing_file_message(pen)}")
            result["drawn"] = drawn.drawn_evaluation(predictor, pen).summary()
        if args.json:
            print(json.dumps(result))
            continue
        print(f"{name}: MNIST test accuracy {result['accuracy']:.2%}")
        print("  per class: " + "  ".join(f"{d}:{a:.1%}" for d, a in enumerate(result["per_class_accuracy"])))
        print("  confusion (rows true 0-9, columns predicted 0-9):")
        for row in result["confusion_matrix"]:
            print("   " + " ".join(f"{n:5d}" for n in row))
        if args.drawn:
            print(f"  drawn digits (writers {pendigits.HOLDOUT_WRITERS}): {result['drawn']['accuracy']:.2%}")
    return 0


def cmd_predict(args) -> int:
    predictors = _load_predictors(args.model or config.DEFAULT_MODELS)
    status = 0
    for image in args.images:
        try:
            pre = preprocess.preprocess(preprocess.load_image_file(image))
        except (preprocess.ImageError, OSError) as exc:
            print(json.dumps({"file": image, "error": str(exc)}))
            status = 1
            continue
        if pre.empty:
            print(json.dumps({"file": image, "error": pre.reason}))
            status = 1
            continue
        answers = {name: p.predict_one(pre.image).as_dict() for name, p in predictors.items()}
        print(json.dumps({"file": image, "models": answers}))
    return status


def cmd_info(args) -> int:
    from digitdraw import modelio

    path = modelio.resolve(args.model)
    model = modelio.load(path)
    card = modelio.read_card(path)
    print(f"# {path}")
    if card:
        shown = {k: v for k, v in card.items() if k != "history"}
        print(json.dumps(shown, indent=2))
    else:
        print("(no model card)")
    model.summary(print_fn=lambda line, **_: print(line))
    return 0


def cmd_data(args) -> int:
    mnist = data.load_mnist(args.data_dir)
    print(f"source: {mnist.source}")
    for split, x, y in (("train", mnist.x_train, mnist.y_train), ("test", mnist.x_test, mnist.y_test)):
        counts = np.bincount(y, minlength=10)
        print(
            f"{split}: {len(x)} images {x.shape[1]}x{x.shape[2]} {x.dtype}, "
            f"mean pixel {x.mean():.1f}, per class " + " ".join(str(c) for c in counts)
        )
    n = args.per_class
    grid = np.zeros((10 * 28, n * 28), np.uint8)
    for digit in range(10):
        idx = np.flatnonzero(mnist.y_train == digit)[:n]
        for j, k in enumerate(idx):
            grid[digit * 28 : (digit + 1) * 28, j * 28 : (j + 1) * 28] = mnist.x_train[k]
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(args.grid)
    print(f"grid: {args.grid} (rows 0-9, {n} samples each)")
    return 0


def cmd_list(args) -> int:
    from digitdraw import modelio

    for entry in modelio.available_models():
        # printable(): a name with a line break or other control character stays on its line.
        print("\t".join(modelio.printable(x) for x in (entry.name, str(entry.path), entry.label)))
    return 0


def cmd_feedback(args) -> int:
    from digitdraw.feedback import FeedbackImportError, FeedbackStore, FeedbackStoreError

    try:
        store = FeedbackStore(args.db)
        try:
            return _FEEDBACK_COMMANDS[args.feedback_command](store, args)
        finally:
            store.close()
    except (FeedbackStoreError, FeedbackImportError) as exc:
        return _fail(str(exc))


def _feedback_import(store, args) -> int:
    ids = store.import_jsonl(args.file)
    print(f"imported {len(ids)} drawing(s) from {args.file} into {store.where}")
    return 0


def _feedback_list(store, args) -> int:
    drawings = store.list_drawings(None)
    for d in drawings:
        said = " ".join(f"{a.model}={a.answer}" for a in d.answers) or "-"
        writer = "-" if d.writer is None else str(d.writer)
        when = f"{d.created_at:%Y-%m-%d %H:%M:%S}"
        print("\t".join([str(d.id), when, d.source, d.browser_id, writer, str(d.label), said]))
    accuracy = "; ".join(f"{a.model} {a.correct}/{a.total} ({a.accuracy:.1%})" for a in store.accuracy())
    print(
        f"{len(drawings)} drawing(s) in {store.where}" + (f"; accuracy: {accuracy}" if accuracy else ""),
        file=sys.stderr,
    )
    return 0


def _feedback_export(store, args) -> int:
    import io

    buf = io.StringIO()  # all read before the file is touched: a failed read leaves no half file
    n = store.export_jsonl(buf)
    if args.out is None:
        sys.stdout.write(buf.getvalue())
    else:
        try:
            Path(args.out).write_text(buf.getvalue(), encoding="utf-8", newline="\n")
        except OSError as exc:
            return _fail(f"--out {args.out}: cannot write it: {exc.strerror}")
        print(f"exported {n} drawing(s) from {store.where} to {args.out}", file=sys.stderr)
    return 0


_FEEDBACK_COMMANDS = {"import": _feedback_import, "list": _feedback_list, "export": _feedback_export}


def cmd_finetune(args) -> int:
    import dataclasses

    from digitdraw.feedback import FeedbackStore, FeedbackStoreError
    from digitdraw.finetune import FinetuneError, FinetuneSettings, finetune_on_corrections

    fields = {f.name: f for f in dataclasses.fields(FinetuneSettings)}
    changes = {}
    for pair in args.set:  # NAME=VALUE, typed like the field's default
        name, _, text = pair.partition("=")
        if name not in fields or not text:
            return _fail(f"--set {pair}: use NAME=VALUE with NAME one of {', '.join(fields)}.")
        default = fields[name].default
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                changes[name] = text.lower() in ("true", "1")
            else:
                changes[name] = (float if default is None else type(default))(text)
        except ValueError:
            return _fail(f"--set {pair}: {text!r} is not a valid {name}.")
    settings = FinetuneSettings(**changes)
    from digitdraw import modelio

    modelio.resolve(args.base)  # an unknown model is refused before MNIST is loaded
    try:
        store = FeedbackStore(args.db)
        try:
            corrections = store.list_drawings(None)
        finally:
            store.close()
        mnist = data.load_mnist(args.data_dir)
        pen = config.pendigits_path(args.pendigits, args.data_dir)
        result = finetune_on_corrections(
            args.base,
            corrections,
            mnist,
            pen if settings.pen_replay else None,
            out=args.out,
            seed=args.seed,
            settings=settings,
            command="python -m digitdraw " + shlex.join(args.argv),
            verbose=1,
        )
    except (FinetuneError, FeedbackStoreError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:  # Ctrl-C: nothing is saved
        print("Cancelled; nothing was saved.", file=sys.stderr)
        return 130
    card = result.card
    line = f"{result.trained_on} corrections trained on, {result.held_out} held out"
    if result.before is not None and result.after is not None:
        line += f"; held-out accuracy {result.before:.1%} -> {result.after:.1%}"
    print(line)
    base_test, test = card["base_model"].get("test_accuracy"), card["test_accuracy"]
    if test is not None:
        print(f"MNIST test {'?' if base_test is None else f'{base_test:.2%}'} -> {test:.2%}")
    print(
        json.dumps(
            {
                "model": str(result.path),
                "training_seconds": card["training_seconds"],
                "held_out_before": result.before,
                "held_out_after": result.after,
                "test_accuracy": test,
            }
        )
    )
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "info": cmd_info,
    "data": cmd_data,
    "list": cmd_list,
    "feedback": cmd_feedback,
    "finetune": cmd_finetune,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in the model card
    from digitdraw.modelio import ModelFileError

    try:
        return COMMANDS[args.command](args)
    except (data.DataError, ModelFileError, FileNotFoundError, FileExistsError) as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    raise SystemExit(main())
