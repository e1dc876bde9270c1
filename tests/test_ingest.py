"""Ingest batching: images of many shapes all land, each under its own id; a repeated id keeps the last."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.store.catalog import Catalog
from indexer.features.extractor import ExtractorConfig, FrameEmbedder
from indexer.features.config import FeatureConfig
from indexer.ingest import IngestItem, Ingestor, items_from_manifest, items_from_paths
from indexer.media_types import MediaType
from tests.av_media import video_bytes


@pytest.mark.parametrize("calls", [1, 2])
def test_images_of_many_shapes_are_each_stored_under_their_id(tmp_path: Path, photos, calls: int) -> None:
    media = tmp_path / "media"
    media.mkdir()
    crops = [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (0.8, 0.6)]
    for name, image in photos.items():
        for i, (fw, fh) in enumerate(crops):  # 8 photos x 4 aspect ratios, batches of 4
            height, width = image.shape[:2]
            Image.fromarray(image[: int(height * fh), : int(width * fw)]).save(media / f"{name}_{i}.png")
    features = FeatureConfig(visual=ExtractorConfig(batch_size=4, threads=2))
    embedder = FrameEmbedder(features.visual)  # one call at a time: the reference embeddings
    with Catalog.open(tmp_path / "catalog", features.record()) as catalog:
        bulk = FrameEmbedder(dataclasses.replace(features.visual, concurrent_calls=calls))
        report = Ingestor(catalog, bulk, features).run(items_from_paths([media]))
        assert len(report.ingested) == len(photos) * len(crops) and not report.failed
        for path in sorted(media.iterdir())[::5]:
            image = np.asarray(Image.open(path).convert("RGB"))
            best = catalog.search_frames(embedder.embed([image]), 1)[0][0]
            assert best.asset_id == path.name and best.score > 0.99


def test_a_repeated_asset_id_keeps_the_later_item_across_shape_batches(tmp_path: Path, photos) -> None:
    # The later "sku" shares its shape with a third image, so its batch fills and is stored
    # first; the earlier "sku" (another shape) must not be stored after it.
    images = {"square_coffee": photos["coffee"][:400, :400], "chelsea": photos["chelsea"],
              "wide_astronaut": photos["astronaut"][:341]}
    paths = {}
    for name, image in images.items():
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(image).save(paths[name])
    entries = [("sku", "square_coffee"), ("sku", "chelsea"), ("other", "wide_astronaut")]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"asset_id": a, "path": str(paths[n])}) + "\n" for a, n in entries))
    features = FeatureConfig(visual=ExtractorConfig(batch_size=2))
    with Catalog.open(tmp_path / "catalog", features.record()) as catalog:
        Ingestor(catalog, FrameEmbedder(features.visual), features).run(items_from_manifest(manifest))
        assert catalog.get("sku").source == str(paths["chelsea"])
        assert catalog.stats()["indexed_frames"] == 2


@pytest.mark.parametrize("calls", [1, 2])
@pytest.mark.parametrize("in_model", [False, True])
def test_an_image_id_given_again_as_a_video_ends_as_the_video(tmp_path: Path, photos, calls: int, in_model: bool) -> None:
    # The image waits for its batch (in_model False) or is in a full batch still being
    # embedded (True, with a twin filling the batch) when its id comes again as a video.
    png = io.BytesIO()
    Image.fromarray(photos["coffee"][:300, :300]).save(png, format="PNG")
    items = [IngestItem("sku", data=png.getvalue(), name="sku.png")]
    if in_model:
        items.append(IngestItem("twin", data=png.getvalue(), name="twin.png"))
    items.append(IngestItem("sku", data=video_bytes(2.0), name="sku.mp4"))
    features = FeatureConfig(visual=ExtractorConfig(batch_size=2, threads=2, concurrent_calls=calls))
    with Catalog.open(tmp_path / "catalog", features.record()) as catalog:
        report = Ingestor(catalog, FrameEmbedder(features.visual), features).run(items)
        assert not report.failed and report.ingested.count("sku") == 2
        assert catalog.get("sku").media_type is MediaType.VIDEO and catalog.get("sku").source == "sku.mp4"


def test_bytes_items_are_ingested_under_their_name_and_need_exactly_one_source(tmp_path: Path, photo_dir: Path) -> None:
    from indexer.errors import BadInputError

    data = (photo_dir / "rocket.jpg").read_bytes()
    features = FeatureConfig()
    with Catalog.open(tmp_path / "catalog", features.record()) as catalog:
        report = Ingestor(catalog, FrameEmbedder(features.visual), features).run(
            [IngestItem("upload", data=data, name="rocket-upload.jpg")])
        assert report.ingested == ["upload"] and catalog.get("upload").source == "rocket-upload.jpg"
    with pytest.raises(BadInputError, match="exactly one of path, url or data"):
        IngestItem("both", path=photo_dir / "rocket.jpg", data=data)
