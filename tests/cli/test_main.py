"""End to end through the CLI: ingest real photos, search transformed copies, match, delete, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from search.cli.main import main
from tests.decode.test_image import png_header_only


def run_json(capsys: pytest.CaptureFixture, *argv: str, exit_code: int = 0) -> list[dict]:
    assert main([*argv, "--json"]) == exit_code
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def transformed_copies(original: Image.Image) -> dict[str, Image.Image]:
    """Copies of ``original`` as re-uploads make them, one transformation (or two) each."""
    w, h = original.size
    watermarked = original.copy()
    ImageDraw.Draw(watermarked).text((w // 8, h // 2), "SELLER 42 - BEST PRICE", fill=(255, 255, 255))
    letterboxed = Image.new("RGB", (w, int(h * 1.8)), (0, 0, 0))
    letterboxed.paste(original, (0, int(h * 0.4)))
    return {
        "small_grey_jpeg": ImageOps.grayscale(original.resize((w // 4, h // 4))).convert("RGB"),
        "crop_70": original.crop((int(w * 0.15), int(h * 0.15), int(w * 0.85), int(h * 0.85))),
        "mirror": ImageOps.mirror(original),
        "letterbox": letterboxed,
        "watermark_blur": watermarked.filter(ImageFilter.GaussianBlur(2)),
        "bright_rotated": ImageEnhance.Brightness(original).enhance(1.4).rotate(5, expand=False),
    }


@pytest.fixture()
def catalog(tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> Path:
    directory = tmp_path / "catalog"
    report = run_json(capsys, "ingest", "--catalog", str(directory), str(photo_dir))[0]
    assert report["ingested"] == len(list(photo_dir.iterdir())) and report["failed"] == []
    return directory


def test_transformed_copies_rank_their_original_first(catalog: Path, photos, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    queries = []
    for name in ("chelsea", "astronaut", "rocket"):
        for label, copy in transformed_copies(Image.fromarray(photos[name])).items():
            path = tmp_path / f"{name}__{label}.jpg"
            copy.save(path, quality=35)
            queries.append(path)
    results = run_json(capsys, "search", "--catalog", str(catalog), "--top-k", "3", *map(str, queries))
    assert len(results) == len(queries)
    for result in results:
        expected = Path(result["query"]).name.split("__")[0] + ".jpg"
        top = result["results"][0]
        assert top["asset_id"] == expected, result["query"]
        assert top["rank"] == 1 and top["media_type"] == "image" and top["matched_segments"] == []
        assert set(top) >= {"match", "confidence", "similarity_score", "match_type", "processing_time_ms",
                            "overlap_seconds", "reason", "metadata"}
        assert top["similarity_score"] > result["results"][1]["similarity_score"]


def test_unrelated_photo_matches_nothing(catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from skimage import data

    path = tmp_path / "unrelated.png"
    Image.fromarray(data.moon()).convert("RGB").save(path)
    result = run_json(capsys, "search", "--catalog", str(catalog), "--matches-only", str(path))[0]
    assert result["results"] == []


def test_exact_bytes_are_an_exact_match(catalog: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    query = photo_dir / "coffee.jpg"
    top = run_json(capsys, "search", "--catalog", str(catalog), str(query))[0]["results"][0]
    assert (top["asset_id"], top["match_type"], top["similarity_score"]) == ("coffee.jpg", "exact", 1.0)
    envelope = run_json(capsys, "match", str(query), str(query))[0]
    assert envelope["match_type"] == "exact" and envelope["match"] is True


def test_pairwise_match_near_duplicate_and_non_match(photos, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    original, copy, other = tmp_path / "a.jpg", tmp_path / "b.webp", tmp_path / "c.png"
    Image.fromarray(photos["astronaut"]).save(original)
    transformed_copies(Image.fromarray(photos["astronaut"]))["crop_70"].save(copy, quality=40)
    Image.fromarray(photos["coffee"]).save(other)
    near = run_json(capsys, "match", str(original), str(copy))[0]
    assert (near["match"], near["match_type"], near["media_type"]) == (True, "near_duplicate", "image")
    far = run_json(capsys, "match", str(original), str(other))[0]
    assert (far["match"], far["match_type"]) == (False, "none")
    assert far["similarity_score"] < near["similarity_score"]


def test_rerun_skips_unchanged_and_replace_and_delete(catalog: Path, photo_dir: Path, photos, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    again = run_json(capsys, "ingest", "--catalog", str(catalog), str(photo_dir))[0]
    assert again["ingested"] == 0 and again["skipped"] == len(list(photo_dir.iterdir()))

    # Replace: the id "chelsea.jpg" now holds the coffee photo.
    replacement = tmp_path / "replacement" / "chelsea.jpg"
    replacement.parent.mkdir()
    Image.fromarray(photos["coffee"]).save(replacement)
    assert run_json(capsys, "ingest", "--catalog", str(catalog), str(replacement))[0]["ingested"] == 1
    cat_query = tmp_path / "cat.jpg"
    Image.fromarray(photos["chelsea"]).save(cat_query)
    hits = run_json(capsys, "search", "--catalog", str(catalog), "--matches-only", str(cat_query))[0]["results"]
    assert hits == []

    run_json(capsys, "delete", "--catalog", str(catalog), "coffee.jpg")
    stats = run_json(capsys, "stats", "--catalog", str(catalog))[0]
    assert stats["assets"] == len(list(photo_dir.iterdir())) - 1
    coffee_hits = run_json(capsys, "search", "--catalog", str(catalog), str(photo_dir / "coffee.jpg"))[0]["results"]
    assert coffee_hits[0]["asset_id"] == "chelsea.jpg"  # the replacement holds the same photo
    assert "coffee.jpg" not in {h["asset_id"] for h in coffee_hits}


def test_manifest_metadata_comes_back_with_hits(tmp_path: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = tmp_path / "catalog.jsonl"
    manifest.write_text(json.dumps({"asset_id": "sku-1", "path": str(photo_dir / "rocket.jpg"),
                                    "metadata": {"seller": "s-9", "sku": 1}}) + "\n")
    run_json(capsys, "ingest", "--catalog", str(tmp_path / "cat"), "--manifest", str(manifest))
    hit = run_json(capsys, "search", "--catalog", str(tmp_path / "cat"), str(photo_dir / "rocket.jpg"))[0]["results"][0]
    assert (hit["asset_id"], hit["metadata"]) == ("sku-1", {"seller": "s-9", "sku": 1})


def write_bad_files(directory: Path, photo_dir: Path) -> None:
    directory.mkdir()
    (directory / "empty.jpg").write_bytes(b"")
    data = (photo_dir / "coffee.jpg").read_bytes()
    (directory / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (directory / "notes.jpg").write_text("a text file with an image's name\n")
    (directory / "bomb.png").write_bytes(png_header_only(20000, 20000))


def test_bad_files_are_reported_and_the_catalog_stays_intact(catalog: Path, photo_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    before = run_json(capsys, "stats", "--catalog", str(catalog))[0]
    bad = tmp_path / "bad"
    write_bad_files(bad, photo_dir)
    shutil.copy(photo_dir / "camera.jpg", bad / "good.jpg")
    report = run_json(capsys, "ingest", "--catalog", str(catalog), str(bad), exit_code=3)[0]  # partial failure
    errors = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert report["ingested"] == 1
    assert "empty" in errors["empty.jpg"]
    assert "truncated" in errors["truncated.jpg"]
    assert "unrecognised" in errors["notes.jpg"]
    assert "expected at most" in errors["bomb.png"]
    after = run_json(capsys, "stats", "--catalog", str(catalog))[0]
    assert after["assets"] == before["assets"] + 1
    top = run_json(capsys, "search", "--catalog", str(catalog), str(photo_dir / "rocket.jpg"))[0]["results"][0]
    assert top["asset_id"] == "rocket.jpg"


@pytest.mark.parametrize("name", ["empty.jpg", "truncated.jpg", "notes.jpg", "bomb.png"])
def test_bad_query_exits_2_with_one_clear_line(catalog: Path, photo_dir: Path, tmp_path: Path, name: str,
                                               capsys: pytest.CaptureFixture) -> None:
    write_bad_files(tmp_path / "bad", photo_dir)
    assert main(["search", "--catalog", str(catalog), str(tmp_path / "bad" / name)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nearmatch: error: ") and name in err and "\n" not in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["search", "--catalog", str(tmp_path / "none"), "x.jpg"]) == 2
    assert "no catalog" in capsys.readouterr().err
    assert main(["ingest", "--catalog", str(tmp_path / "c")]) == 2
    assert main(["search", "--catalog", str(tmp_path), "--top-k", "0", "x.jpg"]) == 2


def test_extractor_mismatch_is_refused(catalog: Path, photo_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ingest", "--catalog", str(catalog), "--model", "sscd", str(photo_dir / "coffee.jpg")]) == 2
    assert "sscd" in capsys.readouterr().err
