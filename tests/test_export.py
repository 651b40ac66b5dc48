"""Exports of the shipped models answer like the Keras models, each in its own runtime.

Every format is exported once per module (both shipped models, read-only; the exports go to a
temporary folder) and loaded here directly with its runtime's own API, not through
digitdraw.export, so that the export code does not check itself: `tf.saved_model.load` for
the SavedModel (called the way TensorFlow Serving calls it), the LiteRT interpreter for
.tflite and onnxruntime for .onnx, in Python and, with onnxruntime-web, in Chromium.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx_web
import pytest
from browser import launch_chromium
from conftest import require

from digitdraw import config, data, export, modelio
from digitdraw.predict import Predictor

MODELS = ("dense", "cnn")
# (format, quantize, file name) of each export the module makes per model.
EXPORTS = {
    "savedmodel": ("savedmodel", None, "savedmodel"),
    "tflite": ("tflite", None, "model.tflite"),
    "tflite-int8": ("tflite", "int8", "model-int8.tflite"),
    "onnx": ("onnx", None, "model.onnx"),
}
FLOAT_EXPORTS = ("savedmodel", "tflite", "onnx")
IMAGES = 1000

pytestmark = [
    # TensorFlow's TFLite converter calibrates int8 with its own (deprecated) interpreter; the
    # tests themselves use ai_edge_litert.
    pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning"),
    # Keras's tf2onnx shim probes np.object, which NumPy 2 warns about.
    pytest.mark.filterwarnings("ignore:In the future `np.object`:FutureWarning"),
]


def _require_runtimes() -> None:
    for module in ("tf2onnx", "onnxruntime", "ai_edge_litert"):
        require(
            importlib.util.find_spec(module) is not None,
            f"{module} is not installed (pip install -r requirements-export.txt)",
        )


@pytest.fixture(scope="module")
def test_images(mnist_dir):
    mnist = data.load_mnist(mnist_dir)
    return data.to_model_input(mnist.x_test[:IMAGES]), mnist.y_test[:IMAGES]


@pytest.fixture(scope="module")
def keras_probabilities(test_images):
    x, _ = test_images
    return {
        name: Predictor(modelio.load(config.SHIPPED_MODELS_DIR / f"{name}.keras")).probabilities(x)
        for name in MODELS
    }


@pytest.fixture(scope="module")
def exports(tmp_path_factory, mnist_dir):
    """{(model, export key): (path, card)}: every format of both shipped models, made once."""
    _require_runtimes()
    folder = tmp_path_factory.mktemp("exports")
    made = {}
    for name in MODELS:
        for key, (fmt, quantize, file_name) in EXPORTS.items():
            out = folder / name / file_name
            card = export.run_export(name, fmt, out, quantize, data_dir=mnist_dir, images=IMAGES)
            made[name, key] = out, card
    return made


# -- Each runtime's own API ------------------------------------------------------------------


def saved_model_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return signature(image=tf.constant(x))["output_0"].numpy()


def litert_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (detail,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(detail["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def onnx_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


RUNTIMES = {
    "savedmodel": saved_model_probabilities,
    "tflite": litert_probabilities,
    "tflite-int8": litert_probabilities,
    "onnx": onnx_probabilities,
}


# -- Parity ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", FLOAT_EXPORTS)
@pytest.mark.parametrize("name", MODELS)
def test_float_export_gives_the_keras_digit_and_probabilities(
    exports, test_images, keras_probabilities, name, key
):
    path, _ = exports[name, key]
    x, _ = test_images
    reference = keras_probabilities[name]
    probabilities = RUNTIMES[key](path, x)
    assert probabilities.shape == (IMAGES, 10)
    same_digit = np.mean(probabilities.argmax(1) == reference.argmax(1))
    assert same_digit >= 0.999, f"{name} {key}: same digit for {same_digit:.2%} of {IMAGES} images"
    np.testing.assert_allclose(probabilities, reference, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_int8_tflite_loses_at_most_0_2_points_and_is_integer_inside(
    exports, test_images, keras_probabilities, name
):
    path, _ = exports[name, "tflite-int8"]
    x, labels = test_images
    keras_right = int(np.sum(keras_probabilities[name].argmax(1) == labels))
    int8_right = int(np.sum(litert_probabilities(path, x).argmax(1) == labels))
    # Counted in images: at most 0.2% of them (2 of 1,000) read right by Keras and wrong in int8.
    assert keras_right - int8_right <= 0.002 * len(labels), f"{name}: {keras_right} -> {int8_right} right"

    from ai_edge_litert.interpreter import Interpreter

    # Integer inside: weights and activations int8 (biases, shapes int32); float only at the edges.
    interpreter = Interpreter(model_path=str(path))
    edges = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    tensors = interpreter.get_tensor_details()
    floats = [t["name"] for t in tensors if t["dtype"] == np.float32 and t["index"] not in edges]
    assert floats == [], f"{name}: float tensors inside the int8 model: {floats}"
    assert sum(t["dtype"] == np.int8 for t in tensors) >= 5
    float_size = exports[name, "tflite"][0].stat().st_size
    assert path.stat().st_size < float_size / 2.5  # int8 weights: about a quarter of float32


@pytest.mark.parametrize("key", EXPORTS)
@pytest.mark.parametrize("name", MODELS)
def test_each_export_has_a_card_beside_it_with_what_was_measured(
    exports, test_images, keras_probabilities, name, key
):
    path, card = exports[name, key]
    fmt, quantize, _ = EXPORTS[key]
    assert json.loads(export.card_path(path).read_text()) == card
    assert card["source_model"] == str(config.SHIPPED_MODELS_DIR / f"{name}.keras")
    assert (card["format"], card["quantize"], card["path"]) == (fmt, quantize, path.name)
    on_disk = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else None
    assert card["size_bytes"] == (on_disk or path.stat().st_size) > 0
    # The card's figures are those this test measures with the runtime's own API.
    x, labels = test_images
    probabilities = RUNTIMES[key](path, x)
    reference = keras_probabilities[name]
    figures = card["parity"]
    assert figures["images"] == IMAGES
    assert figures["same_digit"] == pytest.approx(np.mean(probabilities.argmax(1) == reference.argmax(1)))
    assert figures["export_accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == labels))
    assert figures["max_probability_difference"] == pytest.approx(
        np.max(np.abs(probabilities - reference)), abs=1e-6
    )
    assert card["meets_targets"] is True
    # What the app adds and the export does not carry is said, not silently dropped.
    shipped = modelio.read_card(config.SHIPPED_MODELS_DIR / f"{name}.keras")
    assert card["left_out"]["temperature"] == shipped["calibration"]["temperature"]
    assert card["left_out"]["not_a_digit"] is True
    assert card["left_out"]["pen_path_reader"] == shipped["pen_path"]["file"]


def test_downloads_are_the_file_itself_or_the_savedmodel_folder_zipped(exports, tmp_path):
    import zipfile

    onnx_path, _ = exports["dense", "onnx"]
    assert export.as_download(onnx_path) == ("model.onnx", onnx_path.read_bytes())

    folder, _ = exports["dense", "savedmodel"]
    name, content = export.as_download(folder)
    assert name == "savedmodel.zip"
    archive = tmp_path / name
    archive.write_bytes(content)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unpacked")
    unpacked = tmp_path / "unpacked" / "savedmodel"
    expected = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert sorted(p.relative_to(unpacked) for p in unpacked.rglob("*") if p.is_file()) == expected
    assert (unpacked / "saved_model.pb").read_bytes() == (folder / "saved_model.pb").read_bytes()


# -- TensorFlow Serving ----------------------------------------------------------------------


def tf_serving_predict(saved_model: Path, request_body: str) -> dict:
    """What TensorFlow Serving's REST API does with POST /v1/models/NAME:predict in the row format
    ({"instances": [...]}): load the "serve" MetaGraph, take its signature "serving_default"
    (the request names none), build the one input tensor from the instances with the dtype the
    SignatureDef declares, and answer {"predictions": [...]}."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((saved_model / "saved_model.pb").read_bytes())
    (meta_graph,) = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags]
    signature_def = meta_graph.signature_def["serving_default"]
    ((input_name, input_info),) = signature_def.inputs.items()
    ((output_name, _),) = signature_def.outputs.items()

    request = json.loads(request_body)
    tensor = tf.constant(request["instances"], dtype=tf.dtypes.as_dtype(input_info.dtype))
    signature = tf.saved_model.load(str(saved_model), tags=["serve"]).signatures["serving_default"]
    outputs = signature(**{input_name: tensor})
    return {"predictions": outputs[output_name].numpy().tolist()}


@pytest.mark.parametrize("name", MODELS)
def test_savedmodel_declares_the_serving_signature_tf_serving_reads(exports, name):
    from tensorflow.core.protobuf import saved_model_pb2

    path, _ = exports[name, "savedmodel"]
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    (meta_graph,) = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags]
    signature_def = meta_graph.signature_def["serving_default"]
    assert signature_def.method_name == "tensorflow/serving/predict"
    assert list(signature_def.inputs) == ["image"]
    image = signature_def.inputs["image"]
    assert image.dtype == 1  # DT_FLOAT
    assert [d.size for d in image.tensor_shape.dim] == [-1, 28, 28]
    ((_, output),) = signature_def.outputs.items()
    assert [d.size for d in output.tensor_shape.dim] == [-1, 10]


@pytest.mark.parametrize("name", MODELS)
def test_savedmodel_answers_a_tf_serving_rest_request_like_keras(
    exports, test_images, keras_probabilities, name
):
    path, _ = exports[name, "savedmodel"]
    x, _ = test_images
    body = json.dumps({"instances": x[:8].tolist()})  # what a client POSTs: nested lists of floats
    response = tf_serving_predict(path, body)
    predictions = np.array(response["predictions"], np.float32)
    assert predictions.shape == (8, 10)
    np.testing.assert_allclose(predictions, keras_probabilities[name][:8], rtol=0, atol=1e-4)
    assert list(predictions.argmax(1)) == list(keras_probabilities[name][:8].argmax(1))


# -- In the browser: the ONNX export in onnxruntime-web --------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_runs_in_chromium_with_onnxruntime_web_like_keras(
    exports, test_images, keras_probabilities, tmp_path, name
):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    require(onnx_web.available(), f"onnxruntime-web is not installed: {onnx_web.INSTALL}")
    n = 16
    x, _ = test_images
    errors: list[str] = []
    with onnx_web.serve(exports[name, "onnx"][0], tmp_path / "site") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.evaluate("() => window.loadModel()")
            flat = page.evaluate("([pixels, n]) => window.classify(pixels, n)", [x[:n].ravel().tolist(), n])
        finally:
            browser.close()
    assert not errors, errors
    in_browser = np.array(flat, np.float32).reshape(n, 10)
    reference = keras_probabilities[name][:n]
    assert list(in_browser.argmax(1)) == list(reference.argmax(1))
    np.testing.assert_allclose(in_browser, reference, rtol=0, atol=1e-4)


# -- Requests that cannot be done: a clear message, and nothing written or lost ---------------


@pytest.mark.parametrize(
    ("fmt", "out", "quantize", "message"),
    [
        ("tfjs", "m.json", None, "Unknown export format 'tfjs'; choose one of: savedmodel, tflite, onnx"),
        ("tflite", "m.tflite", "int4", "Unknown quantization 'int4'"),
        ("onnx", "m.onnx", "int8", "--quantize int8 is offered for tflite only, not onnx"),
        ("savedmodel", "m", "int8", "--quantize int8 is offered for tflite only, not savedmodel"),
        ("tflite", "m.onnx", None, "the tflite export is one file whose name ends in .tflite"),
        ("onnx", "m", None, "the onnx export is one file whose name ends in .onnx"),
        ("savedmodel", "m.keras", None, "a SavedModel is a folder; give a folder name without .keras"),
    ],
)
def test_an_impossible_request_is_refused_before_any_work(tmp_path, fmt, out, quantize, message):
    with pytest.raises(export.ExportError, match=re.escape(message)):
        export.run_export("dense", fmt, tmp_path / out, quantize)
    assert list(tmp_path.iterdir()) == []


def test_an_int8_export_from_the_cli_prints_no_library_chatter_without_verbose(mnist_dir, tmp_path):
    # TensorFlow Lite's converter printed its settings ("fully_quantize: 0, ...") and its interpreter
    # "INFO: Created TensorFlow Lite XNNPACK delegate" straight to stderr; --verbose is for those.
    _require_runtimes()
    out = tmp_path / "d.tflite"
    command = [
        sys.executable,
        "-m",
        "digitdraw",
        "export",
        "dense",
        "--format",
        "tflite",
        "--quantize",
        "int8",
    ]
    result = subprocess.run(
        [*command, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, config.DATA_DIR_ENV: str(mnist_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "parity with Keras" in result.stdout
    assert result.stderr == ""


def test_an_existing_export_is_not_overwritten_unless_asked(tmp_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier export")
    with pytest.raises(export.ExportError, match="exists already"):
        export.run_export("dense", "onnx", out)
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_overwriting_never_empties_a_folder_that_is_not_a_savedmodel(tmp_path):
    mine = tmp_path / "my files"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(export.ExportError, match="is a folder but not a SavedModel; it is not replaced"):
        export.run_export("dense", "savedmodel", mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my files"]


def test_a_missing_model_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(modelio.ModelFileError, match="no such model file"):
        export.run_export(tmp_path / "nowhere.keras", "onnx", tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_runtime_package_says_what_to_install(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    with pytest.raises(export.ExportError, match="'onnxruntime'.*pip install -r requirements-export.txt"):
        export.run_export("dense", "onnx", tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_int8_without_calibration_images_is_refused(tmp_path):
    model = modelio.load(config.SHIPPED_MODELS_DIR / "dense.keras")
    with pytest.raises(export.ExportError, match="int8 quantization needs representative images"):
        export.export_model(model, "tflite", tmp_path / "m.tflite", "int8", representative=None)
    assert list(tmp_path.iterdir()) == []


class _FailingModel:
    """A model whose export breaks halfway, after writing part of its output."""

    def export(self, filepath, **kwargs):
        Path(filepath).mkdir(parents=True)
        (Path(filepath) / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")


def test_a_failed_export_leaves_the_earlier_one_and_no_debris(tmp_path):
    out = tmp_path / "savedmodel"
    out.mkdir()
    (out / "saved_model.pb").write_bytes(b"the earlier export")
    with pytest.raises(RuntimeError, match="disk full"):
        export.export_model(_FailingModel(), "savedmodel", out, overwrite=True)
    assert (out / "saved_model.pb").read_bytes() == b"the earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["savedmodel"]
