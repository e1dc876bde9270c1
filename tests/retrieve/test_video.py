"""Video search and match end to end: real encoded video, the real SSCD model, a real catalog."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.video_transforms import (
    Encoding,
    Piece,
    Shot,
    TruthSegment,
    apply_op,
    compose,
    encode_frames,
    letterbox_portrait,
    render_shots,
    tone,
)
from indexer.store.catalog import AssetRecord, Catalog
from indexer.errors import BadInputError
from indexer.features.extractor import FrameEmbedder
from indexer.features.config import FeatureConfig
from indexer.media_types import MediaType
from indexer.decode.video import sample_frames
from search.envelope import MatchType, SearchHit
from search.retrieve.image import search_image
from search.retrieve.video import match_videos, search_video, video_features

FPS = 10.0
SIZE = (320, 180)
TOLERANCE_S = 1.0  # boundary error allowed at the default sampling rate


@dataclasses.dataclass(frozen=True)
class Library:
    folder: Path
    catalog: Catalog
    paths: dict[str, Path]  # asset id -> file


def _extra_photos() -> dict[str, np.ndarray]:
    from skimage import data

    grey = lambda a: np.repeat(a[:, :, None], 3, axis=2)  # noqa: E731
    return {"motorcycle": data.stereo_motorcycle()[0], "colorwheel": data.colorwheel(), "clock": grey(data.clock()),
            "horse": grey((data.horse() * 255).astype(np.uint8))}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray],
            embedder: FrameEmbedder) -> Library:
    """Catalog of two 24 s videos (A with a soundtrack, B); C is unrelated footage kept out of it."""
    folder = tmp_path_factory.mktemp("video_search")
    extra = _extra_photos()
    plans = {
        "A": [(photos["astronaut"], "pan"), (photos["coffee"], "zoom"), (photos["rocket"], "pan"),
              (photos["hubble_deep_field"], "zoom")],
        "B": [(photos["retina"], "zoom"), (photos["immunohistochemistry"], "pan"), (photos["chelsea"], "zoom"),
              (photos["camera"], "pan")],
        "C": [(extra["motorcycle"], "pan"), (extra["colorwheel"], "zoom"), (extra["clock"], "pan"),
              (extra["horse"], "zoom")],
    }
    paths = {}
    for name, plan in plans.items():
        frames = render_shots([Shot(image, 6.0, motion) for image, motion in plan], SIZE, FPS)
        audio = tone(24.0, 22050) if name == "A" else None
        paths[name] = encode_frames(frames, folder / f"{name}.mp4", Encoding(fps=FPS, audio_hz=22050), audio)
    catalog = Catalog.open(folder / "catalog", FeatureConfig().record())
    for name in ("A", "B"):
        video = sample_frames(paths[name])
        features = video_features(embedder, video)
        record = AssetRecord(asset_id=name, media_type=MediaType.VIDEO, source=str(paths[name]), sha256=name * 64,
                             metadata={"name": name}, duration_s=video.duration_s, width=video.width,
                             height=video.height, fps_sampled=1.0, has_audio=video.has_audio)
        catalog.put_asset(record, features.embeddings, features.times_s)
    yield Library(folder, catalog, paths)
    catalog.close()


def _query(library: Library, name: str, pieces: list[Piece], codec: str = "libx264", suffix: str = ".mp4",
           op=None, audio: np.ndarray | None = None) -> tuple[Path, list[TruthSegment]]:
    frames, truth = compose(pieces, SIZE, FPS)
    path = library.folder / f"{name}{suffix}"
    encode_frames(apply_op(frames, op), path, Encoding(codec=codec, fps=FPS, audio_hz=22050), audio)
    return path, truth


def _search(library: Library, embedder: FrameEmbedder, path: Path) -> list[SearchHit]:
    return search_video(library.catalog, embedder, sample_frames(path), top_k=5)


def _assert_segments_match(hit: SearchHit, truth: list[TruthSegment]) -> None:
    segments = sorted(hit.envelope.matched_segments, key=lambda s: s.source_start_s)
    assert len(segments) == len(truth), segments
    for got, want in zip(segments, sorted(truth, key=lambda t: t.query_start_s)):
        assert abs(got.source_start_s - want.query_start_s) <= TOLERANCE_S, (got, want)
        assert abs(got.source_end_s - want.query_end_s) <= TOLERANCE_S, (got, want)
        assert abs(got.target_start_s - want.source_start_s) <= TOLERANCE_S, (got, want)
        assert abs(got.target_end_s - want.source_end_s) <= TOLERANCE_S, (got, want)
        assert 0.0 < got.score <= 1.0


def test_h265_excerpt_is_found_with_its_times(library: Library, embedder: FrameEmbedder) -> None:
    path, truth = _query(library, "excerpt", [Piece(library.paths["A"], 7.0, 17.0, source_id="A")], "libx265")
    hits = _search(library, embedder, path)
    assert hits[0].asset_id == "A" and hits[0].rank == 1 and hits[0].metadata == {"name": "A"}
    assert hits[0].envelope.match and hits[0].envelope.match_type is MatchType.PARTIAL
    _assert_segments_match(hits[0], truth)
    assert hits[0].envelope.overlap_seconds == pytest.approx(10.0, abs=TOLERANCE_S)


def test_excerpt_inside_unrelated_footage_gives_one_bounded_segment(library: Library, embedder: FrameEmbedder) -> None:
    pieces = [Piece(library.paths["C"], 0.0, 7.0), Piece(library.paths["B"], 5.0, 15.0, source_id="B"),
              Piece(library.paths["C"], 13.0, 20.0)]
    path, truth = _query(library, "embedded", pieces)
    hits = [hit for hit in _search(library, embedder, path) if hit.envelope.match]
    assert [hit.asset_id for hit in hits] == ["B"]
    _assert_segments_match(hits[0], truth)


def test_two_excerpts_out_of_order_give_two_segments_after_vp9(library: Library, embedder: FrameEmbedder) -> None:
    pieces = [Piece(library.paths["A"], 15.0, 23.0, source_id="A"), Piece(library.paths["A"], 1.0, 9.0, source_id="A")]
    path, truth = _query(library, "reordered", pieces, "libvpx-vp9", ".webm")
    hits = _search(library, embedder, path)
    assert hits[0].asset_id == "A"
    _assert_segments_match(hits[0], truth)


def test_letterboxed_portrait_copy_is_a_near_duplicate(library: Library, embedder: FrameEmbedder) -> None:
    path, truth = _query(library, "portrait", [Piece(library.paths["B"], 0.0, 24.0, source_id="B")],
                         op=letterbox_portrait)
    hits = _search(library, embedder, path)
    assert hits[0].asset_id == "B"
    assert hits[0].envelope.match_type is MatchType.NEAR_DUPLICATE
    _assert_segments_match(hits[0], truth)


def test_speed_change_of_ten_percent(library: Library, embedder: FrameEmbedder) -> None:
    path, truth = _query(library, "faster", [Piece(library.paths["A"], 2.0, 22.0, speed=1.1, source_id="A")],
                         "libx264", ".mkv")
    hits = _search(library, embedder, path)
    assert hits[0].asset_id == "A" and hits[0].envelope.match
    _assert_segments_match(hits[0], truth)


def test_removed_or_replaced_audio_changes_nothing(library: Library, embedder: FrameEmbedder) -> None:
    piece = [Piece(library.paths["A"], 0.0, 24.0, source_id="A")]
    silent, _ = _query(library, "silent", piece)
    dubbed, _ = _query(library, "dubbed", piece, audio=tone(24.0, 22050, pitch_hz=880.0))
    assert not sample_frames(silent).has_audio and sample_frames(dubbed).has_audio
    silent_hits, dubbed_hits = _search(library, embedder, silent), _search(library, embedder, dubbed)
    assert silent_hits[0].asset_id == dubbed_hits[0].asset_id == "A"
    assert silent_hits[0].envelope.similarity_score == pytest.approx(dubbed_hits[0].envelope.similarity_score, abs=1e-3)
    assert silent_hits[0].envelope.match_type is MatchType.NEAR_DUPLICATE


def test_unrelated_clip_matches_nothing(library: Library, embedder: FrameEmbedder) -> None:
    hits = _search(library, embedder, library.paths["C"])
    assert not any(hit.envelope.match for hit in hits)


def test_image_query_hits_the_video_frame_at_its_time(library: Library, embedder: FrameEmbedder,
                                                      tmp_path: Path) -> None:
    frames, _ = compose([Piece(library.paths["A"], 14.0, 14.1)], SIZE, FPS)
    still = tmp_path / "still.jpg"
    Image.fromarray(next(frames)).save(still, quality=75)
    embedding = embedder.embed([np.asarray(Image.open(still).convert("RGB"))])[0]
    hits = search_image(library.catalog, embedding, "0" * 64)
    assert hits[0].asset_id == "A"
    (segment,) = hits[0].envelope.matched_segments
    assert abs(segment.target_start_s - 14.0) <= TOLERANCE_S


def test_pairwise_match_returns_segments(library: Library, embedder: FrameEmbedder) -> None:
    path, truth = _query(library, "pair", [Piece(library.paths["B"], 3.0, 13.0, source_id="B")], "libx265")
    envelope = match_videos(path, library.paths["B"], embedder)
    assert envelope.match and envelope.media_type is MediaType.VIDEO
    _assert_segments_match(SearchHit("B", 1, {}, envelope), truth)
    assert not match_videos(library.paths["C"], library.paths["B"], embedder).match


def test_pairwise_match_rejects_a_corrupt_video(library: Library, embedder: FrameEmbedder) -> None:
    with pytest.raises(BadInputError):
        match_videos(library.paths["A"].read_bytes()[:3000], library.paths["B"], embedder)


def test_black_and_flat_frames_do_not_make_a_match(library: Library, embedder: FrameEmbedder,
                                                   photos: dict[str, np.ndarray]) -> None:
    """Two unrelated videos that both open on 8 s of black and 4 s of flat grey do not match."""

    def video(name: str, photo: str) -> Path:
        blank = [np.zeros((SIZE[1], SIZE[0], 3), np.uint8)] * int(8 * FPS) + \
                [np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)] * int(4 * FPS)
        frames = [*blank, *render_shots([Shot(photos[photo], 8.0, "pan")], SIZE, FPS)]
        return encode_frames(frames, library.folder / f"{name}.mp4", Encoding(fps=FPS))

    first, second = video("dark_astronaut", "astronaut"), video("dark_retina", "retina")
    envelope = match_videos(first, second, embedder)
    assert not envelope.match and envelope.matched_segments == ()
    same = match_videos(first, video("dark_astronaut_again", "astronaut"), embedder)
    assert same.match  # the picture after the black still matches
    (segment,) = same.matched_segments
    assert segment.source_start_s >= 11.0  # and the black and grey part is not in the segment
