"""Open a catalog together with the feature settings it was built with."""

from __future__ import annotations

from pathlib import Path

from indexer.errors import NotFoundError
from indexer.features.config import FeatureConfig
from indexer.features.extractor import ExtractorConfig, ModelName
from indexer.store.catalog import Catalog, CatalogConfig
from indexer.store.schema import stored_features
from indexer.store.vector_index import VectorIndexConfig


def open_catalog_features(catalog_dir: Path, model: str | None, index: VectorIndexConfig | None = None,
                          create: bool = True, writable: bool = True) -> tuple[Catalog, FeatureConfig]:
    """Open a catalog with the features it was built with (or ``model``'s for a new one)."""
    if not create and not (catalog_dir / "lmdb").exists():
        raise NotFoundError(f"expected a catalog at {catalog_dir}, got no catalog there (ingest into it first)")
    stored = stored_features(catalog_dir)
    if stored is not None and model is None:
        features = FeatureConfig.from_record(stored)
    else:
        features = FeatureConfig(visual=ExtractorConfig(model=ModelName(model or ModelName.SSCD_DISTILLED)))
    return Catalog.open(catalog_dir, features.record(), CatalogConfig(index=index),
                        writable=writable), features
