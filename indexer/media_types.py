"""Media types and content sniffing: the type comes from the bytes, never the file name."""

from __future__ import annotations

import enum


class MediaType(str, enum.Enum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


# Magic numbers of the still-image formats nearmatch decodes with Pillow.
_IMAGE_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),  # PNG
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),  # BMP
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
)


def looks_like_image(head: bytes) -> bool:
    """True when the first bytes of a file are those of a supported still-image format."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _IMAGE_MAGIC)
