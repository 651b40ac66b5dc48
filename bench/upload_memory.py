"""Memory one upload costs: peak RSS added by decoding a file and preprocessing it as a photo.

The file of each case is made here, in a temporary folder; a fresh Python process imports the
package, resets and notes its peak RSS (Linux /proc), calls load_image_file and
preprocess(source="image"), and reports the peak's growth. Cases: the large and hostile files of
issue 12.

    python bench/upload_memory.py

Target (issue 12): <= 100 MB extra per upload, whatever its pixel count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "6300x6300 RGBA PNG (flat)": ("RGBA", 6300, 6300, "PNG"),
    "12000x12000 1-bit PNG": ("1", 12000, 12000, "PNG"),
    "8000x6000 JPEG (48 MP phone)": ("RGB", 8000, 6000, "JPEG"),
    "12000x9000 JPEG (108 MP phone)": ("RGB", 12000, 9000, "JPEG"),
    "4000x3000 RGB PNG (12 MP)": ("RGB", 4000, 3000, "PNG"),
    "3000x3000 grey PNG": ("L", 3000, 3000, "PNG"),
}

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from digitdraw.preprocess import ImageError, load_image_file, preprocess

path = sys.argv[2]


def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB -> MB


# Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS, so the peak below is
# this decode's, not the imports'.
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
before = status("VmRSS")
try:
    pixels = load_image_file(path)
    pre = preprocess(pixels, source="image")
    outcome = f"decoded {pixels.shape[1]}x{pixels.shape[0]}, {pre.status.value}"
except ImageError as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"extra_mb": status("VmHWM") - before, "outcome": outcome}))
"""


def main() -> int:
    # No options: --help says what it measures, before the minutes it takes.
    raw = argparse.RawDescriptionHelpFormatter
    argparse.ArgumentParser(description=__doc__, formatter_class=raw).parse_args()
    print(f"{'case':<32}{'file':>10}{'extra peak RSS':>16}  outcome")
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, (mode, w, h, fmt) in CASES.items():
            path = Path(folder) / f"upload.{fmt.lower()}"
            _make(path, mode, w, h, fmt)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(ROOT), str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            worst = max(worst, row["extra_mb"])
            size = path.stat().st_size / 1024
            print(f"{name:<32}{size:>8.0f} KB{row['extra_mb']:>13.0f} MB  {row['outcome'][:70]}")
    print(f"worst case: {worst:.0f} MB extra (target <= 100 MB)")
    return 0


def _make(path: Path, mode: str, w: int, h: int, fmt: str) -> None:
    """A white image with one dark stroke: compresses to almost nothing, decodes to its full size."""
    im = Image.new(mode, (w, h), 255 if mode != "RGBA" else (255, 255, 255, 255))
    ImageDraw.Draw(im).line([(w // 3, h // 4), (w // 2, 3 * h // 4)], fill=0, width=max(3, w // 60))
    im.save(path, format=fmt, **({"quality": 80} if fmt == "JPEG" else {}))


if __name__ == "__main__":
    sys.exit(main())
