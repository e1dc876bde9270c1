"""Still-image decoding with Pillow: EXIF orientation, first GIF frame, bomb guard."""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from indexer.errors import BadInputError, LimitExceededError

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")


@dataclasses.dataclass(frozen=True)
class ImageDecodeConfig:
    max_pixels: int = 80_000_000  # 80 MP: above every camera; a 20000x20000 "image" is refused
    max_bytes: int = 100 * 1024 * 1024


def decode_image(data: bytes, name: str = "<image>", config: ImageDecodeConfig = ImageDecodeConfig(),
                 draft_size: int | None = None) -> np.ndarray:
    """Decode ``data`` to an RGB uint8 array of shape (H, W, 3), upright per EXIF (see ``decode_picture``)."""
    return np.asarray(decode_picture(data, name, config, draft_size))


def decode_picture(data: bytes, name: str = "<image>", config: ImageDecodeConfig = ImageDecodeConfig(),
                   draft_size: int | None = None) -> Image.Image:
    """Decode ``data`` to an RGB Pillow image, upright per EXIF.

    ``draft_size`` lets JPEG decode at a reduced scale (DCT scaling) when the
    caller only needs about that many pixels on the short side: several times
    faster on camera-sized photos, and the result is resized afterwards anyway.
    The embedder takes the Pillow image as it is: converting it to an array and
    back would copy every pixel twice.
    """
    if not data:
        raise BadInputError(f"{name}: expected image data, got an empty (zero-length) file")
    if len(data) > config.max_bytes:
        raise LimitExceededError(f"{name}: expected at most {config.max_bytes} bytes, got {len(data)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > config.max_pixels:
                raise LimitExceededError(
                    f"{name}: expected at most {config.max_pixels} pixels, got {width}x{height}"
                )
            if image.format not in SUPPORTED_FORMATS:
                raise BadInputError(f"{name}: expected one of {', '.join(SUPPORTED_FORMATS)}, got {image.format}")
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # in place: no copy when upright already
            return _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LimitExceededError(
            f"{name}: expected at most {config.max_pixels} pixels, got a larger image ({exc})"
        ) from exc
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{name}: expected an image (JPEG, PNG, WebP, GIF, BMP, TIFF), got unrecognised data") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{name}: image data is corrupt or truncated ({exc})") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB image; transparent pixels are composited on white, as a browser shows them."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image)
    return image if image.mode == "RGB" else image.convert("RGB")
