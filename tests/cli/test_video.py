"""Video through the CLI: ingest video files, search a clip and a still, match two files, bad video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.video_transforms import Encoding, Piece, Shot, compose, encode_frames, render_shots
from search.cli.main import main

FPS = 10.0
SIZE = (320, 180)


def run_json(capsys: pytest.CaptureFixture, *argv: str, exit_code: int = 0) -> list[dict]:
    assert main([*argv, "--json"]) == exit_code
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli_videos")
    plans = {"first.mp4": ("astronaut", "coffee", "rocket"), "second.webm": ("retina", "chelsea", "camera")}
    out = {}
    for name, pictures in plans.items():
        shots = [Shot(photos[p], 6.0, motion) for p, motion in zip(pictures, ("pan", "zoom", "pan"))]
        codec = "libvpx-vp9" if name.endswith(".webm") else "libx264"
        out[name] = encode_frames(render_shots(shots, SIZE, FPS), folder / "catalog" / name, Encoding(codec, FPS))
    frames, _ = compose([Piece(out["first.mp4"], 4.0, 14.0)], SIZE, FPS)
    out["clip"] = encode_frames(frames, folder / "clip.mkv", Encoding("libx265", FPS))
    frames, _ = compose([Piece(out["second.webm"], 11.0, 11.1)], SIZE, FPS)
    out["still"] = folder / "still.jpg"
    Image.fromarray(next(frames)).save(out["still"], quality=80)
    (folder / "broken.mp4").write_bytes(out["first.mp4"].read_bytes()[:2000])
    out["broken"] = folder / "broken.mp4"
    return out


def test_ingest_search_and_match_videos(videos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = str(tmp_path / "catalog")
    report = run_json(capsys, "ingest", "--catalog", catalog, str(videos["first.mp4"].parent))[0]
    assert report["ingested"] == 2 and report["failed"] == []

    (clip_result,) = run_json(capsys, "search", "--catalog", catalog, str(videos["clip"]))
    top = clip_result["results"][0]
    assert top["asset_id"] == "first.mp4" and top["match"] and top["media_type"] == "video"
    (segment,) = top["matched_segments"]
    assert abs(segment["target_start"] - 4.0) <= 1.0 and abs(segment["target_end"] - 14.0) <= 1.0
    assert not any(hit["match"] for hit in clip_result["results"][1:])

    (still_result,) = run_json(capsys, "search", "--catalog", catalog, str(videos["still"]))
    top = still_result["results"][0]
    assert top["asset_id"] == "second.webm" and top["match"]
    assert abs(top["matched_segments"][0]["target_start"] - 11.0) <= 1.0

    (envelope,) = run_json(capsys, "match", str(videos["clip"]), str(videos["first.mp4"]))
    assert envelope["match"] and envelope["match_type"] == "partial" and len(envelope["matched_segments"]) == 1
    (envelope,) = run_json(capsys, "match", str(videos["clip"]), str(videos["second.webm"]))
    assert not envelope["match"] and envelope["matched_segments"] == []


def test_broken_video_is_reported_and_the_catalog_keeps_the_rest(videos: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    catalog = str(tmp_path / "catalog")
    report = run_json(capsys, "ingest", "--catalog", catalog, str(videos["broken"]), str(videos["first.mp4"]),
                      exit_code=3)[0]
    assert report["ingested"] == 1 and len(report["failed"]) == 1
    (stats,) = run_json(capsys, "stats", "--catalog", catalog)
    assert stats["assets"] == 1
    assert main(["search", "--catalog", catalog, str(videos["broken"])]) == 2
    assert "nearmatch: error:" in capsys.readouterr().err
