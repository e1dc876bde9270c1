"""Preprocessing sweep on the calibration split: input size x resize policy x border trim.

Every image (catalog and calibration queries) is decoded once, as ingest does
it but with a JPEG draft at 640 px (twice the largest input size tried), and
kept in memory; each configuration then runs ``FrameEmbedder`` on those
arrays and a brute-force cosine search (what a flat FAISS index returns). The
test split is never looked at, so the choice it leads to is not fitted to it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import image_eval
from benchmarks.image_eval import Predictions
from indexer.features.extractor import ExtractorConfig, FrameEmbedder, ModelName, ResizePolicy
from indexer.decode.image import decode_image

LOG = logging.getLogger(__name__)

SIZES = {ModelName.SSCD_DISTILLED: (224, 256, 288, 320), ModelName.SSCD: (224, 288)}
DRAFT_SIZE = 640
TOP_K = 10


def sweep_configs(model: ModelName) -> list[ExtractorConfig]:
    return [ExtractorConfig(model=model, input_size=size, resize=resize, trim_borders=trim)
            for size, resize, trim in itertools.product(SIZES[model], list(ResizePolicy), (True, False))]


def _embed_all(embedder: FrameEmbedder, images: list[np.ndarray], chunk: int = 64) -> np.ndarray:
    return np.concatenate([embedder.embed(images[i : i + chunk]) for i in range(0, len(images), chunk)])


def evaluate_config(config: ExtractorConfig, catalog_ids: list[str], catalog_images: list[np.ndarray],
                    queries: list[dict[str, Any]], query_images: list[np.ndarray]) -> dict[str, Any]:
    """µAP and recall at precision 0.99 of one configuration, with its embedding speed."""
    embedder = FrameEmbedder(config)
    embedder.embed(catalog_images[:2])  # warm-up, untimed
    started = time.perf_counter()
    catalog_vectors = _embed_all(embedder, catalog_images)
    query_vectors = _embed_all(embedder, query_images)
    seconds = time.perf_counter() - started
    similarity = query_vectors @ catalog_vectors.T
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :TOP_K]
    predictions: Predictions = {
        q["query_id"]: [(catalog_ids[j], float(np.clip(similarity[i, j], 0.0, 1.0))) for j in top[i]]
        for i, q in enumerate(queries)
    }
    summary = image_eval.summary(queries, predictions)
    return {
        "model": config.model.value, "input_size": config.input_size, "resize": config.resize.value,
        "trim_borders": config.trim_borders, "micro_ap": summary["micro_ap"],
        "recall_at_p99": summary["recall_at_p99"], "threshold_at_p99": summary["threshold_at_p99"],
        "top1_accuracy": summary["top1_accuracy"],
        "embed_images_per_s": (len(catalog_images) + len(query_images)) / seconds,
        "per_transform_top1": {label: r["top1_accuracy"] for label, r in
                               image_eval.per_transform(queries, predictions, float("inf")).items()},
    }


def run_sweep(manifest: dict[str, Any], root: Path, models: list[ModelName]) -> list[dict[str, Any]]:
    """Every configuration of ``models`` on the calibration split; one row each."""
    queries = image_eval.split_queries(manifest, "calibration")
    LOG.info("sweep: decoding %d catalog images and %d calibration queries", len(manifest["catalog"]), len(queries))
    catalog_ids = [c["asset_id"] for c in manifest["catalog"]]
    catalog_images = [decode_image((root / c["path"]).read_bytes(), draft_size=DRAFT_SIZE) for c in manifest["catalog"]]
    query_images = [decode_image((root / q["path"]).read_bytes(), draft_size=DRAFT_SIZE) for q in queries]
    rows = []
    for model in models:
        for config in sweep_configs(model):
            row = evaluate_config(config, catalog_ids, catalog_images, queries, query_images)
            LOG.info("sweep %s %d %s trim=%s: µAP %.4f recall@P0.99 %.4f (%.0f img/s)", row["model"],
                     row["input_size"], row["resize"], row["trim_borders"], row["micro_ap"], row["recall_at_p99"],
                     row["embed_images_per_s"])
            rows.append(row)
    return rows


def sweep_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| model | input size | resize | border trim | µAP | recall at P 0.99 | top-1 | embed images/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted(rows, key=lambda r: (r["model"], r["input_size"], r["resize"], not r["trim_borders"])):
        lines.append(f"| {r['model']} | {r['input_size']} | {r['resize']} | {'on' if r['trim_borders'] else 'off'} | "
                     f"{r['micro_ap']:.4f} | {r['recall_at_p99']:.4f} | {r['top1_accuracy']:.4f} | "
                     f"{r['embed_images_per_s']:.0f} |")
    return lines


def write_sweep(rows: list[dict[str, Any]], out_dir: Path, command: str, machine: dict[str, Any]) -> None:
    payload = {"command": command, "machine": machine, "split": "calibration", "draft_size": DRAFT_SIZE,
               "rows": rows}
    (out_dir / "image_sweep.json").write_text(json.dumps(payload, indent=1))
    (out_dir / "image_sweep.md").write_text(
        "# Image preprocessing sweep (calibration split)\n\n" + f"Command: `{command}`\n\n"
        + "\n".join(sweep_table(rows)) + "\n")
    LOG.info("wrote %s", out_dir / "image_sweep.json")


