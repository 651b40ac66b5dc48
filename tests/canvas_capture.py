"""Records what the drawing canvas really sends, for tests/test_strokes.py (run by hand, not by pytest).

Draws a few shapes with the mouse in Chromium on a bare page holding the same st_canvas the Draw page
uses (freedraw, 280 px, pen 18, white on black), and writes tests/data/canvas_<name>.json: the
component's json_data as received by Python, plus the canvas's own picture (its red channel:
the ink's coverage, white on black; PNG, base64). The strokes are made up here (no data set): an
oval "0" and a two-stroke "4" with a tap.

    python tests/canvas_capture.py
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from browser import CHROMIUM_ARGS, find_chromium, free_port
from PIL import Image

OUT = Path(__file__).resolve().parent / "data"

APP = """
import json, os, numpy as np, streamlit as st
from streamlit_drawable_canvas import st_canvas
r = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=280,
              width=280, drawing_mode="freedraw", update_streamlit=True, return_image_data=True, key="c")
objs = (r.json_data or {}).get("objects") or []
if objs:
    out = os.environ["CAPTURE_OUT"]
    np.save(out + ".npy", r.image_data)
    with open(out + ".json", "w") as fh:
        json.dump(r.json_data, fh)
    st.write(f"objects: {len(objs)}")
"""


def shapes() -> dict[str, list[np.ndarray]]:
    t = np.linspace(0, 2 * np.pi, 40)
    oval = np.stack([140 + 55 * np.sin(t), 140 - 85 * np.cos(t)], axis=1)
    four = [
        np.array([[170, 50], [80, 170], [200, 170]], float),
        np.array([[165, 110], [165, 240]], float),
        np.array([[230, 60]], float),  # a tap: a dot
    ]
    return {"zero": [oval], "four": four}


def main() -> None:
    import subprocess

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp())
    (work / "app.py").write_text(APP)
    for name, strokes in shapes().items():
        base = work / name
        port = free_port()
        env = {**os.environ, "CAPTURE_OUT": str(base)}
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(work / "app.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 900, "height": 800})
                for _ in range(60):
                    try:
                        page.goto(f"http://127.0.0.1:{port}")
                        break
                    except Exception:
                        time.sleep(1)
                page.wait_for_selector("canvas.upper-canvas", timeout=60_000)
                box = page.locator("canvas.upper-canvas").bounding_box()
                for stroke in strokes:
                    page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
                    page.mouse.down()
                    for x, y in stroke[1:]:
                        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
                    page.mouse.up()
                    time.sleep(1.0)
                page.get_by_text(f"objects: {len(strokes)}").wait_for(timeout=30_000)
                time.sleep(1.0)
                browser.close()
        finally:
            proc.terminate()
            proc.wait()
        pixels = np.load(str(base) + ".npy")
        png = io.BytesIO()
        Image.fromarray(pixels[..., 0]).save(png, format="PNG", optimize=True)
        record = {
            "how": "tests/canvas_capture.py: st_canvas freedraw, 280x280, pen 18, white ink on black, "
            "drawn with Playwright's mouse in Chromium",
            "pen_width": 18,
            "canvas": 280,
            "json_data": json.loads(Path(str(base) + ".json").read_text()),
            "ink_png_base64": base64.b64encode(png.getvalue()).decode("ascii"),
        }
        (OUT / f"canvas_{name}.json").write_text(json.dumps(record) + "\n")
        print(name, len(record["json_data"]["objects"]), "objects")


if __name__ == "__main__":
    main()
