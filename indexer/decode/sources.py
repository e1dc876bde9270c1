"""Where media comes from: a local path or bytes already in memory.

URLs are fetched by the caller (``search.service.url_fetch``) and handed over as bytes,
so the indexer never touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.parse
from pathlib import Path

import av

from indexer.errors import BadInputError, LimitExceededError, NotFoundError

_HASH_CHUNK_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class MediaSource:
    """Exactly one of ``path`` or ``data``; ``name`` is what errors and reports call it."""

    path: Path | None = None
    data: bytes | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("expected exactly one of path or data")
        if not self.name:
            object.__setattr__(self, "name", str(self.path) if self.path is not None else "<bytes>")

    @classmethod
    def from_path(cls, path: str | Path) -> "MediaSource":
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"expected a readable file, got no file at {path}")
        return cls(path=path)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> "MediaSource":
        return cls(data=bytes(data), name=name)

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data or b"")

    def check(self, max_bytes: int) -> None:
        """Reject empty input and input past ``max_bytes`` before any decoder sees it."""
        size = self.size_bytes()
        if size == 0:
            raise BadInputError(f"{self.name}: expected media data, got an empty (zero-length) file")
        if size > max_bytes:
            raise LimitExceededError(f"{self.name}: expected at most {max_bytes} bytes, got {size}")

    def head(self, n: int = 64) -> bytes:
        if self.data is not None:
            return self.data[:n]
        with open(self.path, "rb") as f:
            return f.read(n)

    def read_bytes(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    def for_decoder(self) -> str | io.BytesIO:
        """What PyAV's ``av.open`` takes: a file name, or a seekable in-memory file."""
        return str(self.path) if self.path is not None else io.BytesIO(self.data)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        if self.data is not None:
            digest.update(self.data)
        else:
            with open(self.path, "rb") as f:
                while chunk := f.read(_HASH_CHUNK_BYTES):
                    digest.update(chunk)
        return digest.hexdigest()


MediaInput = str | Path | bytes | MediaSource


def as_media_source(source: MediaInput) -> MediaSource:
    """A MediaSource for a path, bytes or a MediaSource (NotFoundError for a missing file)."""
    if isinstance(source, MediaSource):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return MediaSource(data=bytes(source))
    return MediaSource.from_path(source)


def open_av(source: MediaInput, what: str) -> av.container.InputContainer:
    """Open ``source`` with PyAV for reading; ``what`` ("video", "audio") names the media in errors.

    Empty input and data FFmpeg cannot open are BadInputError, a missing file NotFoundError.
    """
    media = as_media_source(source)
    if media.size_bytes() == 0:
        raise BadInputError(f"{media.name}: expected {what} data, got an empty (zero-length) file")
    try:
        return av.open(media.for_decoder(), mode="r")
    except av.FFmpegError as exc:
        raise BadInputError(f"{media.name}: expected decodable {what}, got unreadable data ({decoder_message(exc)})") from exc


def decoder_message(exc: BaseException) -> str:
    """What a decoder said, without FFmpeg's raw errno and the file name the caller already reports."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc)


def is_http_url(reference: object) -> bool:
    """Whether ``reference`` is an http(s) URL; the scheme is case-insensitive, as RFC 3986 says."""
    return isinstance(reference, str) and reference[:8].lower().startswith(("http://", "https://"))


def local_path(reference: str) -> Path:
    """The file a path or ``file://`` URL names (``file:///tmp/a%20b.jpg`` is ``/tmp/a b.jpg``)."""
    if reference[:7].lower() == "file://":
        parsed = urllib.parse.urlsplit(reference)
        if parsed.netloc not in ("", "localhost"):
            raise BadInputError(f"expected a file:// URL on this machine, got host {parsed.netloc!r} in {reference}")
        return Path(urllib.parse.unquote(parsed.path))
    return Path(reference)
