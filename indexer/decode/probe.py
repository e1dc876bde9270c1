"""Which media type a source holds, decided from its bytes."""

from __future__ import annotations

import av

from indexer.errors import BadInputError
from indexer.decode.sources import MediaSource, decoder_message
from indexer.media_types import MediaType, looks_like_image

# FFmpeg demuxers that accept almost anything by file name or as raw text; a
# source only they open is not media nearmatch can use.
_REFUSED_DEMUXERS = ("image2", "tty", "txt")


def detect_media_type(source: MediaSource) -> MediaType:
    """IMAGE from the magic number; VIDEO or AUDIO from the streams FFmpeg finds.

    A file with a video stream (other than embedded cover art) is video; with
    only audio, audio. Anything else is a BadInputError naming the source.
    """
    if looks_like_image(source.head(64)):
        return MediaType.IMAGE
    try:
        with av.open(source.for_decoder()) as container:
            format_name = container.format.name
            has_video = any(_is_motion_video(s) for s in container.streams.video)
            has_audio = bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(
            f"{source.name}: expected an image, video or audio file, got data no decoder recognises ({decoder_message(exc)})"
        ) from exc
    if any(name in format_name.split(",") or format_name.startswith(name) for name in _REFUSED_DEMUXERS):
        raise BadInputError(f"{source.name}: expected an image, video or audio file, got unrecognised data")
    if has_video:
        return MediaType.VIDEO
    if has_audio:
        return MediaType.AUDIO
    raise BadInputError(f"{source.name}: expected a video or audio stream, got a container with neither")


def _is_motion_video(stream: av.video.stream.VideoStream) -> bool:
    """False for a still picture attached to an audio file (album art)."""
    return not bool(stream.disposition & av.stream.Disposition.attached_pic)
