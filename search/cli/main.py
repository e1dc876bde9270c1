"""The ``nearmatch`` command line: ingest, search, match, delete, stats, compact, serve.

Exit codes: see ``search.cli.exit_codes`` (0 done, 1 internal, 2 bad input, 3 partial failure).
Thin by design: every command calls the same library functions as the gRPC server.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from indexer.store.catalog import Catalog
from indexer.store.compact import compact_catalog
from indexer.errors import BadInputError, NearmatchError
from indexer.features.extractor import ExtractorConfig, FrameEmbedder, ModelName
from indexer.features.config import FeatureConfig
from indexer.ingest import ID_MODES, Ingestor
from indexer.store.listing import DEFAULT_PAGE_SIZE, list_page
from indexer.store.open_catalog import open_catalog_features
from indexer.decode.sources import MediaSource, is_http_url, local_path
from indexer.store.vector_index import VectorIndexConfig
from search.cli.exit_codes import EXIT_INTERNAL, EXIT_OK, batch_exit_code, exit_code_of
from search.cli.format import (delete_each, format_csv, format_delete, format_ingest, format_list, format_match,
                               format_search, format_stats, ingest_items)
from search.cli.remote import (add_client_flags, add_serve_parser, cmd_serve, remote_delete, remote_ingest, remote_match,
                               remote_list, remote_search, remote_stats)
from search.service.client import asset_to_dict
from search.service.convert import asset_to_proto
from search.media import SearchConfig, match_media, search_media
from search.thresholds import defaults_for
from search.service.url_fetch import FetchConfig, fetch_url

LOG = logging.getLogger("nearmatch")



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nearmatch", description="Near-duplicate search for images, video and audio.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    parser.add_argument("--version", action="version", version=f"nearmatch {metadata.version('nearmatch')}")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add files, directories or a manifest to a catalog")
    ingest.add_argument("--catalog", type=Path, help="catalog directory (or --server)")
    ingest.add_argument("--model", choices=[m.value for m in ModelName],
                        help="visual model for a new catalog (default: the catalog's, or sscd_distilled)")
    ingest.add_argument("--index-factory", help="FAISS factory string for a new catalog's index (default Flat)")
    ingest.add_argument("--index-search-params", default="", help='FAISS search parameters, e.g. "nprobe=16"')
    ingest.add_argument("--manifest", type=Path, help='JSON lines: {"asset_id", "path" or "url", "metadata"}')
    ingest.add_argument("--json", action="store_true", help="print one JSON summary object")
    ingest.add_argument("--id-from", choices=ID_MODES, default="auto",
                        help="asset ids: auto (a file's name; under a directory, the path relative to it), name, "
                             "relative (to the argument's parent folder) or path (absolute)")
    ingest.add_argument("--id-prefix", default="", help="put this before every asset id from PATH arguments")
    ingest.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="media files or directories (walked recursively; hidden files skipped)")
    ingest.add_argument("--allow-url-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="host name, IP or CIDR that URL media may reach although private (repeatable)")
    add_client_flags(ingest)

    search = commands.add_parser("search", help="find catalog assets matching each query")
    search.add_argument("--catalog", type=Path, help="catalog directory (or --server)")
    search.add_argument("--top-k", type=int, default=10)
    search.add_argument("--matches-only", action="store_true", help="leave out hits below the match threshold")
    search.add_argument("--json", action="store_true", help="one JSON object per query per line")
    search.add_argument("queries", nargs="+", metavar="QUERY",
                        help="image, video or audio files, or http(s) URLs, to search for")
    search.add_argument("--allow-url-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="host name, IP or CIDR that URL media may reach although private (repeatable)")
    add_client_flags(search)

    match = commands.add_parser("match", help="compare two media directly")
    match.add_argument("source", help="the query side: a media file or http(s) URL")
    match.add_argument("target", help="what the source is compared with: a media file or http(s) URL")
    match.add_argument("--model", choices=[m.value for m in ModelName], default=ModelName.SSCD_DISTILLED.value)
    match.add_argument("--json", action="store_true")
    match.add_argument("--allow-url-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="host name, IP or CIDR that URL media may reach although private (repeatable)")
    add_client_flags(match)

    delete = commands.add_parser("delete", help="remove assets from a catalog")
    delete.add_argument("--catalog", type=Path, help="catalog directory (or --server)")
    delete.add_argument("--json", action="store_true")
    delete.add_argument("asset_ids", nargs="+", metavar="ASSET_ID", help="ids of the assets to remove")
    add_client_flags(delete)

    stats = commands.add_parser("stats", help="describe a catalog")
    stats.add_argument("--catalog", type=Path, help="catalog directory (or --server)")
    stats.add_argument("--json", action="store_true")
    add_client_flags(stats)

    listing = commands.add_parser("list", help="list a catalog's assets in asset_id order, a page at a time")
    listing.add_argument("--catalog", type=Path, help="catalog directory (or --server)")
    listing.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="assets per page (1..1000)")
    listing.add_argument("--page-token", default="", help="the next_page_token of the previous page")
    output = listing.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object: assets and next_page_token")
    output.add_argument("--csv", action="store_true", help="CSV rows with a header (metadata as JSON)")
    add_client_flags(listing)

    compact = commands.add_parser("compact", help="rewrite a catalog's LMDB file without its free pages "
                                                  "(nothing else may have the catalog open)")
    compact.add_argument("--catalog", required=True, type=Path)
    compact.add_argument("--json", action="store_true")

    add_serve_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except NearmatchError as exc:
        code = exit_code_of(exc)
        print(f"nearmatch: {'internal error' if code == EXIT_INTERNAL else 'error'}: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("nearmatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place internal errors become exit code 1
        LOG.debug("internal error", exc_info=True)
        print(f"nearmatch: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: str) -> None:
    print(json.dumps(payload) if args.json else human, flush=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    if _require_catalog_or_server(args):
        return remote_ingest(args, _emit)
    items = ingest_items(args.paths, args.manifest, args.id_from, args.id_prefix)
    index = None if args.index_factory is None else VectorIndexConfig(args.index_factory, args.index_search_params)
    catalog, features = open_catalog_features(args.catalog, args.model, index)
    with catalog:
        ingestor = Ingestor(catalog, FrameEmbedder(features.visual.for_bulk()), features, fetch_url=_fetcher(args))
        with _progress(len(items), "ingest") as bar:
            report = ingestor.run(items, on_done=lambda asset_id, outcome: bar.update(1))
    _emit(args, report.to_dict(), format_ingest(report.to_dict()))
    return batch_exit_code(report.to_dict())


def cmd_search(args: argparse.Namespace) -> int:
    SearchConfig(top_k=args.top_k)  # the same --top-k check locally and over --server
    if _require_catalog_or_server(args):
        return remote_search(args, _emit)
    catalog, features = open_catalog_features(args.catalog, None, create=False, writable=False)
    config = SearchConfig(top_k=args.top_k, matches_only=args.matches_only,
                          thresholds=defaults_for(features.visual.model.value))
    with catalog:
        embedder = FrameEmbedder(features.visual)
        for query in args.queries:
            result = search_media(catalog, embedder, _media_source(args, query), config, features).to_dict()
            result["query"] = query  # as the caller wrote it, locally and over --server
            _emit(args, result, format_search(result))
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    if args.server is not None:
        return remote_match(args, _emit)
    features = FeatureConfig(visual=ExtractorConfig(model=ModelName(args.model)))
    config = SearchConfig(thresholds=defaults_for(features.visual.model.value))
    envelope = match_media(_media_source(args, args.source), _media_source(args, args.target), FrameEmbedder(features.visual),
                           config, features)
    _emit(args, envelope.to_dict(), format_match(envelope.to_dict()))
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    if _require_catalog_or_server(args):
        return remote_delete(args, _emit)
    with Catalog.open(args.catalog, None, create=False) as catalog:
        report = delete_each(args.asset_ids, catalog.delete)
    _emit(args, report, format_delete(report))
    return batch_exit_code(report)


def cmd_stats(args: argparse.Namespace) -> int:
    if _require_catalog_or_server(args):
        return remote_stats(args, _emit)
    with Catalog.open(args.catalog, None, create=False, writable=False) as catalog:
        stats = catalog.stats()
    _emit(args, stats, format_stats(stats))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    if _require_catalog_or_server(args):
        return remote_list(args, _emit)
    with Catalog.open(args.catalog, None, create=False, writable=False) as catalog:
        records, token = list_page(catalog, args.page_size, args.page_token)
    page = {"assets": [asset_to_dict(asset_to_proto(r)) for r in records], "next_page_token": token}
    _emit(args, page, format_csv(page) if args.csv else format_list(page))
    return EXIT_OK


def cmd_compact(args: argparse.Namespace) -> int:
    report = compact_catalog(args.catalog)
    _emit(args, report.to_dict(), f"compacted {args.catalog}: {report.bytes_before / 1e6:.1f} MB -> "
                                  f"{report.bytes_after / 1e6:.1f} MB in {report.seconds:.1f} s")
    return EXIT_OK


COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "match": cmd_match, "delete": cmd_delete, "stats": cmd_stats, "list": cmd_list,
            "compact": cmd_compact, "serve": cmd_serve}


def _require_catalog_or_server(args: argparse.Namespace) -> bool:
    """True when the command goes to a server; exactly one of --catalog and --server is needed."""
    if (args.catalog is None) == (args.server is None):
        raise BadInputError("expected exactly one of --catalog DIR or --server HOST:PORT, got "
                            + ("neither" if args.catalog is None else "both"))
    return args.server is not None


def _media_source(args: argparse.Namespace, reference: str) -> MediaSource:
    """A query given as a local path, a file:// URL or an http(s) URL."""
    if is_http_url(reference):
        return MediaSource.from_bytes(_fetcher(args)(reference), name=reference)
    return MediaSource.from_path(local_path(reference))


def _fetcher(args: argparse.Namespace) -> Callable[[str], bytes]:
    """Fetch with the SSRF guards and default caps of ``search.service.url_fetch``, opening ``--allow-url-host``."""
    config = FetchConfig(allow_hosts=tuple(getattr(args, "allow_url_host", ()) or ()))
    return lambda url: fetch_url(url, config)


def _progress(total: int, label: str) -> tqdm:
    return tqdm(total=total, desc=label, unit="file", disable=not sys.stderr.isatty(), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
