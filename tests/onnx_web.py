"""An ONNX export in the browser: a static page that runs it with onnxruntime-web.

Shared by tests/test_export.py and bench/export_formats.py. onnxruntime-web comes from npm,
pinned in tests/web/package.json (`npm ci --prefix tests/web`); the page, the runtime's
files and the model are served from a temporary folder on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

WEB = Path(__file__).resolve().parent / "web"
ORT_DIST = WEB / "node_modules" / "onnxruntime-web" / "dist"
INSTALL = "npm ci --prefix tests/web"

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>digitdraw onnx</title>
<script src="ort.wasm.min.js"></script>
<script>
  // One thread: a page that is not cross-origin isolated has no SharedArrayBuffer.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = "./";
  let session = null;
  // Resolves to the milliseconds the model took to load.
  window.loadModel = async () => {
    const t0 = performance.now();
    session = await ort.InferenceSession.create("model.onnx", {executionProviders: ["wasm"]});
    return performance.now() - t0;
  };
  const run = async (pixels, n) => {
    const input = new ort.Tensor("float32", Float32Array.from(pixels), [n, 28, 28]);
    const output = await session.run({[session.inputNames[0]]: input});
    return output[session.outputNames[0]].data;
  };
  // n images (28*28*n floats in [0, 1]) -> 10*n probabilities.
  window.classify = async (pixels, n) => Array.from(await run(pixels, n));
  // Milliseconds of each of `runs` single-image calls after `warmup` untimed ones, and of all
  // of them together: the page's clock is coarse (0.1 ms), so a fast model needs the total.
  window.timeOne = async (pixels, runs, warmup = 10) => {
    for (let i = 0; i < warmup; i++) await run(pixels, 1);
    const times = [];
    const start = performance.now();
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await run(pixels, 1);
      times.push(performance.now() - t0);
    }
    return {times, total: performance.now() - start};
  };
</script>
"""


def available() -> bool:
    return (ORT_DIST / "ort.wasm.min.js").is_file()


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
    }

    def log_message(self, *args):  # no access log in the test's or the bench's output
        pass


@contextlib.contextmanager
def serve(onnx_model: Path, folder: Path) -> Iterator[str]:
    """Put the page, onnxruntime-web's files and `onnx_model` in `folder`, serve it; yield the
    page's URL; always stop the server."""
    folder.mkdir(parents=True, exist_ok=True)
    # The wasm-only build of onnxruntime-web and the wasm it loads (ort.min.js would load the
    # 28 MB WebGPU (jsep) build).
    for asset in ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        shutil.copy(ORT_DIST / asset, folder / asset)
    shutil.copy(onnx_model, folder / "model.onnx")
    (folder / "index.html").write_text(PAGE)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
