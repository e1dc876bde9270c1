"""Seeded image transformations that make benchmark queries (shared/BENCHMARK_DATA.md, "Image").

Each transformation takes an RGB Pillow image and a numpy Generator and returns
an RGB image; the encoding ones (JPEG, WebP, PNG palette) round-trip through
their codec in memory so they compose with the others. ``apply_chain`` runs one
to three of them and returns the bytes of the query file, in the format of the
last encoding step or JPEG quality 90 (a typical upload) otherwise.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]

DEFAULT_FORMAT = ("JPEG", 90)
_WORDS = ("SALE", "© studio", "nearmatch", "repost", "@seller_42", "NEW!", "daily pics", "original?", "LOL")


@dataclasses.dataclass(frozen=True)
class Query:
    """One generated query file: its bytes, suffix and the transformations that made it."""

    data: bytes
    suffix: str
    steps: tuple[str, ...]


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _roundtrip(image: Image.Image, fmt: str, **options: object) -> Image.Image:
    return Image.open(io.BytesIO(_encode(image, fmt, **options))).convert("RGB")


def jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _roundtrip(image, "JPEG", quality=int(rng.integers(8, 26)))


def webp(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _roundtrip(image, "WEBP", quality=int(rng.integers(5, 21)))


def png_palette(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """"Low quality" PNG: quantised to a 16-48 colour palette, as size-optimising tools do."""
    colors = int(rng.integers(16, 49))
    return _roundtrip(image.quantize(colors=colors, dither=Image.Dither.FLOYDSTEINBERG), "PNG", optimize=True)


def resize_down(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Down to between 1/4 and 1/2.5 of each side."""
    scale = float(rng.uniform(0.25, 0.4))
    size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
    return image.resize(size, Image.BICUBIC)


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Keep 50-90 % of the area, with a random aspect change and position."""
    area = float(rng.uniform(0.5, 0.9))
    aspect = float(rng.uniform(0.75, 1.33))
    width = min(image.width, round(image.width * np.sqrt(area * aspect)))
    height = min(image.height, round(image.height * area * image.width / max(width, 1)))
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def _pad_to_aspect(image: Image.Image, aspect: float, color: tuple[int, int, int]) -> Image.Image:
    """Centre ``image`` on a canvas of width/height ``aspect``, padding one axis only."""
    if image.width / image.height > aspect:
        size = (image.width, round(image.width / aspect))
    else:
        size = (round(image.height * aspect), image.height)
    canvas = Image.new("RGB", size, color)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


def _bar_color(rng: np.random.Generator) -> tuple[int, int, int]:
    choice = int(rng.integers(0, 3))
    return [(0, 0, 0), (255, 255, 255), tuple(int(v) for v in rng.integers(0, 256, 3))][choice]


def letterbox(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Bars above and below: the picture shown in a portrait or square frame."""
    aspect = min(float(rng.choice([9 / 16, 3 / 4, 1.0])), image.width / image.height * 0.7)
    return _pad_to_aspect(image, aspect, _bar_color(rng))


def pillarbox(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Bars left and right: the picture shown in a landscape frame."""
    aspect = max(float(rng.choice([16 / 9, 21 / 9])), image.width / image.height * 1.4)
    return _pad_to_aspect(image, aspect, _bar_color(rng))


def mirror(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(image)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))  # Pillow's bundled font: no system font needed


def text_overlay(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A semi-transparent watermark or caption, 1-3 lines, 5-12 % of the height each."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(1, 4))):
        text = str(rng.choice(_WORDS))
        font = _font(int(image.height * rng.uniform(0.05, 0.12)))
        color = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(120, 256)),)
        x = int(rng.integers(0, max(1, image.width // 2)))
        y = int(rng.integers(0, max(1, image.height - image.height // 8)))
        draw.text((x, y), text, font=font, fill=color, stroke_width=1, stroke_fill=(0, 0, 0, color[3]))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _paste_at_random_corner(image: Image.Image, sticker: Image.Image, rng: np.random.Generator) -> Image.Image:
    margin = image.width // 40
    corner = int(rng.integers(0, 4))
    x = margin if corner % 2 == 0 else image.width - sticker.width - margin
    y = margin if corner < 2 else image.height - sticker.height - margin
    out = image.convert("RGBA")
    out.alpha_composite(sticker, (max(0, x), max(0, y)))
    return out.convert("RGB")


def logo_overlay(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """scikit-image's real logo (RGBA), 15-30 % of the width, in a corner."""
    from skimage import data  # heavy import, only when this transformation runs

    logo = Image.fromarray(data.logo()).convert("RGBA")
    width = max(8, round(image.width * rng.uniform(0.15, 0.3)))
    logo = logo.resize((width, max(8, round(logo.height * width / logo.width))), Image.BICUBIC)
    return _paste_at_random_corner(image, logo, rng)


def emoji_overlay(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A drawn smiley sticker, 10-25 % of the short side, in a corner and once more anywhere."""
    out = image
    for _ in range(2):
        side = max(12, round(min(image.size) * rng.uniform(0.1, 0.25)))
        sticker = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        draw = ImageDraw.Draw(sticker)
        draw.ellipse((0, 0, side - 1, side - 1), fill=(255, 204, 0, 255), outline=(120, 80, 0, 255), width=max(1, side // 20))
        eye = side // 8
        draw.ellipse((side * 0.3 - eye, side * 0.35 - eye, side * 0.3 + eye, side * 0.35 + eye), fill=(60, 40, 0, 255))
        draw.ellipse((side * 0.7 - eye, side * 0.35 - eye, side * 0.7 + eye, side * 0.35 + eye), fill=(60, 40, 0, 255))
        draw.arc((side * 0.25, side * 0.4, side * 0.75, side * 0.8), 20, 160, fill=(60, 40, 0, 255), width=max(1, side // 15))
        out = _paste_at_random_corner(out, sticker, rng)
    return out


def brightness(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    factor = float(rng.uniform(0.45, 0.7) if rng.random() < 0.5 else rng.uniform(1.4, 1.8))
    return ImageEnhance.Brightness(image).enhance(factor)


def contrast(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    factor = float(rng.uniform(0.4, 0.65) if rng.random() < 0.5 else rng.uniform(1.5, 2.2))
    return ImageEnhance.Contrast(image).enhance(factor)


def saturation(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    factor = float(rng.uniform(0.1, 0.4) if rng.random() < 0.5 else rng.uniform(1.8, 2.8))
    return ImageEnhance.Color(image).enhance(factor)


def grayscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


def blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gaussian blur of 0.3-0.8 % of the long side (3-10 px on a 1280-px photo)."""
    return image.filter(ImageFilter.GaussianBlur(max(image.size) * float(rng.uniform(0.003, 0.008))))


def rotate(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3-12 degrees either way, canvas expanded with black corners."""
    angle = float(rng.uniform(3, 12)) * (1 if rng.random() < 0.5 else -1)
    return image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(0, 0, 0))


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture inside a phone or desktop screenshot: plain UI padding, a title bar and text lines."""
    portrait = rng.random() < 0.5
    canvas_w = round(image.width * (rng.uniform(1.1, 1.3) if portrait else rng.uniform(1.3, 1.8)))
    scale = canvas_w * (0.85 if portrait else 0.65) / image.width
    shown = image.resize((max(8, round(image.width * scale)), max(8, round(image.height * scale))), Image.BICUBIC)
    canvas_h = round(max(shown.height * 1.3, canvas_w * (16 / 9 if portrait else 10 / 16)))
    background = (255, 255, 255) if rng.random() < 0.5 else (32, 33, 36)
    ink = (30, 30, 30) if background[0] > 128 else (230, 230, 230)
    canvas = Image.new("RGB", (canvas_w, canvas_h), background)
    draw = ImageDraw.Draw(canvas)
    bar_h = max(8, canvas_h // 14)
    draw.rectangle((0, 0, canvas_w, bar_h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    font = _font(bar_h // 2)
    draw.text((bar_h // 2, bar_h // 4), str(rng.choice(_WORDS)), font=font, fill=(255, 255, 255))
    top = bar_h + int(rng.integers(bar_h // 2, bar_h * 2))
    left = (canvas_w - shown.width) // 2 if portrait else int(rng.integers(bar_h // 2, canvas_w - shown.width - bar_h // 2 + 1))
    canvas.paste(shown, (left, top))
    y = top + shown.height + bar_h // 2
    while y + bar_h // 2 < canvas_h:
        draw.text((bar_h // 2, y), " ".join(rng.choice(_WORDS, 4)), font=font, fill=ink)
        y += bar_h
    return canvas


SINGLE: dict[str, Transform] = {
    "jpeg": jpeg,
    "webp": webp,
    "png_palette": png_palette,
    "resize_down": resize_down,
    "crop": crop,
    "letterbox": letterbox,
    "pillarbox": pillarbox,
    "mirror": mirror,
    "text_overlay": text_overlay,
    "logo_overlay": logo_overlay,
    "emoji_overlay": emoji_overlay,
    "brightness": brightness,
    "contrast": contrast,
    "saturation": saturation,
    "grayscale": grayscale,
    "blur": blur,
    "rotate": rotate,
    "screenshot": screenshot,
}
_ENCODINGS = {"jpeg": ("JPEG", ".jpg"), "webp": ("WEBP", ".webp"), "png_palette": ("PNG", ".png")}
# Geometric framings last, encodings last of all, as a re-upload would go.
_ORDER = [name for name in SINGLE if name not in _ENCODINGS] + list(_ENCODINGS)


def random_combination(rng: np.random.Generator, size: int) -> tuple[str, ...]:
    """``size`` distinct transformation names in a plausible order (edits, then framing, then encoding)."""
    names = rng.choice(list(SINGLE), size=size, replace=False)
    return tuple(sorted((str(n) for n in names), key=_ORDER.index))


def apply_chain(image: Image.Image, steps: Sequence[str], rng: np.random.Generator) -> Query:
    """Apply ``steps`` in order to an RGB image and encode the result as a query file."""
    if not steps:
        raise ValueError("expected at least one transformation step, got none")
    out = image.convert("RGB")
    for name in steps:
        if name not in SINGLE:
            raise ValueError(f"expected a transformation among {sorted(SINGLE)}, got {name!r}")
        if name in _ENCODINGS and name == steps[-1]:
            break  # encoded once, below, straight to the file's bytes
        out = SINGLE[name](out, rng)
    last = steps[-1]
    if last in _ENCODINGS:
        fmt, suffix = _ENCODINGS[last]
        if last == "png_palette":
            colors = int(rng.integers(16, 49))
            return Query(_encode(out.quantize(colors=colors), "PNG", optimize=True), suffix, tuple(steps))
        quality = int(rng.integers(8, 26)) if last == "jpeg" else int(rng.integers(5, 21))
        return Query(_encode(out, fmt, quality=quality), suffix, tuple(steps))
    return Query(_encode(out, DEFAULT_FORMAT[0], quality=DEFAULT_FORMAT[1]), ".jpg", tuple(steps))
