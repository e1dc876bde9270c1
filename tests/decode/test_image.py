"""Image decoding: formats, orientation, and every bad input gets a clear error."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from indexer.errors import BadInputError, LimitExceededError
from indexer.decode.image import decode_image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` with a tiny compressed body: a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_supported_format_decodes_to_rgb(photos, fmt: str) -> None:
    image = Image.fromarray(photos["chelsea"])
    decoded = decode_image(encode(image, fmt))
    assert decoded.shape == (image.height, image.width, 3) and decoded.dtype == np.uint8


def test_exif_orientation_is_applied(photos) -> None:
    image = Image.fromarray(photos["chelsea"])  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the upright picture is portrait
    decoded = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.shape[:2] == (image.width, image.height)


def test_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert decode_image(encode(rgba, "PNG"))[0, 0].tolist() == [255, 255, 255]


def test_empty_data_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="empty"):
        decode_image(b"", "empty.jpg")


def test_truncated_jpeg_is_a_clear_error(photos) -> None:
    data = encode(Image.fromarray(photos["coffee"]), "JPEG")
    with pytest.raises(BadInputError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], "cut.jpg")


def test_text_named_jpg_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="expected an image"):
        decode_image(b"this is not an image\n" * 10, "notes.jpg")


def test_huge_declared_dimensions_are_refused_before_decoding() -> None:
    with pytest.raises(LimitExceededError, match="expected at most 80000000 pixels.*400000000 pixels"):
        decode_image(png_header_only(20000, 20000), "bomb.png")

