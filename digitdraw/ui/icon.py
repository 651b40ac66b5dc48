"""The app's favicon, drawn here.

Why not a Material icon (`page_icon=":material/draw:"`): the browser fetches that picture from
fonts.gstatic.com, a request to a third party from every visitor, and an error in the console of
a machine without internet (a classroom laptop). The pages' own icons in the sidebar come from the
font Streamlit serves itself, so they stay as they are.
"""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw

SIZE = 64  # px; browsers scale it down to 16-32


@functools.cache
def favicon() -> Image.Image:
    """A white pen-stroke seven on a dark rounded square: the canvas, in small."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((2, 2, SIZE - 3, SIZE - 3), radius=12, fill=(17, 17, 17, 255))
    pen.line((17, 18, 47, 18, 27, 50), fill=(255, 255, 255, 255), width=7, joint="curve")
    return image
