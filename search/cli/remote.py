"""The CLI's gRPC side: ``nearmatch serve`` and ``--server HOST:PORT`` on ingest, search and match.

With ``--server`` the same commands print the same JSON, computed by a server
through ``search.service.client`` instead of in this process.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from indexer.decode.sources import is_http_url, local_path
from indexer.errors import BadInputError, NearmatchError
from search.cli.exit_codes import batch_exit_code
from search.cli.format import (delete_each, format_csv, format_delete, format_ingest, format_list, format_match,
                               format_search, format_stats, ingest_items)
from search.service.client import NearmatchClient
from search.service.server import ServerConfig, serve
from search.service.url_fetch import FetchConfig

LOG = logging.getLogger(__name__)


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """``--server`` and its connection options, for a command that can run against a server."""
    group = parser.add_argument_group("remote", "run the command on a nearmatch server instead of locally")
    group.add_argument("--server", metavar="HOST:PORT", help="address of a running `nearmatch serve`")
    group.add_argument("--auth-token-file", type=Path, help="file holding the server's bearer token")
    group.add_argument("--tls", action="store_true", help="connect with TLS (system roots unless --tls-ca)")
    group.add_argument("--tls-ca", type=Path, help="PEM root certificate(s) that sign the server's certificate")


def add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve a catalog over gRPC")
    serve.add_argument("--catalog", required=True, type=Path)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    serve.add_argument("--workers", type=int, default=8, help="request threads")
    serve.add_argument("--auth-token-file", type=Path, help="require 'authorization: Bearer <token in file>'")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain (with --tls-key)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key (with --tls-cert)")
    serve.add_argument("--allow-url-host", action="append", default=[], metavar="HOST",
                       help="host name, IP or CIDR that URL media may reach although private (repeatable)")
    serve.add_argument("--allow-server-paths", action="store_true",
                       help="let requests name files on this machine (server_path media)")
    serve.add_argument("--server-path-root", action="append", default=[], type=Path, metavar="DIR",
                       help="with --allow-server-paths, only files under DIR (repeatable)")
    serve.add_argument("--max-message-mb", type=int, default=64, help="largest request or response message")
    serve.add_argument("--max-upload-mb", type=int, default=512, help="largest streamed upload")
    serve.add_argument("--batching", choices=("auto", "on", "off"), default="off",
                       help="merge concurrent queries into one model call (auto: when inputs share one shape; "
                            "off by default: it lowered throughput on 2-core CPUs, see benchmarks/results/load.md)")
    serve.add_argument("--model", help="visual model for a new catalog (default: the catalog's)")


def cmd_serve(args: argparse.Namespace) -> int:
    config = ServerConfig(
        catalog=args.catalog, host=args.host, port=args.port, workers=args.workers,
        auth_token=_read_token(args.auth_token_file), tls_cert=args.tls_cert, tls_key=args.tls_key,
        fetch=FetchConfig(allow_hosts=tuple(args.allow_url_host)), allow_server_paths=args.allow_server_paths,
        server_path_roots=tuple(args.server_path_root), max_message_bytes=args.max_message_mb * 1024 * 1024,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024, batching=args.batching,
        model=args.model,
    )
    serve(config, on_ready=lambda port: print(f"nearmatch: serving {config.catalog} on {config.host}:{port}",
                                              file=sys.stderr, flush=True))
    return 0


def client_for(args: argparse.Namespace) -> NearmatchClient:
    root = args.tls_ca.read_bytes() if args.tls_ca is not None else None
    return NearmatchClient(args.server, token=_read_token(args.auth_token_file), tls=args.tls,
                           root_certificates=root)


def remote_search(args: argparse.Namespace, emit: Any) -> int:
    with client_for(args) as client:
        for query in args.queries:
            result = client.search(_media(query), top_k=args.top_k, matches_only=args.matches_only)
            result["query"] = query  # as the caller wrote it, locally and without --server
            emit(args, result, format_search(result))
    return 0


def remote_match(args: argparse.Namespace, emit: Any) -> int:
    with client_for(args) as client:
        envelope = client.match(_media(args.source), _media(args.target))
    emit(args, envelope, format_match(envelope))
    return 0


def remote_delete(args: argparse.Namespace, emit: Any) -> int:
    with client_for(args) as client:
        report = delete_each(args.asset_ids, client.delete)
    emit(args, report, format_delete(report))
    return batch_exit_code(report)


def remote_list(args: argparse.Namespace, emit: Any) -> int:
    with client_for(args) as client:
        page = client.list_assets(args.page_size, args.page_token)
    emit(args, page, format_csv(page) if args.csv else format_list(page))
    return 0


def remote_stats(args: argparse.Namespace, emit: Any) -> int:
    with client_for(args) as client:
        stats = client.stats()
    emit(args, stats, format_stats(stats))
    return 0


def remote_ingest(args: argparse.Namespace, emit: Any) -> int:
    items = ingest_items(args.paths, args.manifest, args.id_from, args.id_prefix)
    started = time.perf_counter()
    ingested, skipped, failed = [], [], []
    with client_for(args) as client:
        for item in items:
            try:
                media = str(item.url) if item.url is not None else Path(item.path)  # type: ignore[arg-type]
                outcome = client.ingest(item.asset_id, media, metadata=item.metadata)
            except NearmatchError as exc:
                LOG.info("skipping %s: %s", item.origin, exc)  # the summary lists it once
                failed.append({"asset_id": item.asset_id, "path": item.origin, "error": str(exc),
                               "kind": type(exc).__name__})
                continue
            (skipped if outcome["status"] == "unchanged" else ingested).append(item.asset_id)
    seconds = time.perf_counter() - started
    report = {"ingested": len(ingested), "skipped": len(skipped), "failed": failed, "seconds": round(seconds, 3)}
    emit(args, report, format_ingest(report))
    return batch_exit_code(report)


def _media(reference: str) -> Any:
    """A URL goes to the server as a URL (it fetches with its own guards); a path is read and sent."""
    return reference if is_http_url(reference) else local_path(reference)


def _read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BadInputError(f"expected a readable token file, got {exc}") from exc
    if not token:
        raise BadInputError(f"expected a token in {path}, got an empty file")
    return token
