"""Paging through a catalog's assets in asset_id order, for ``nearmatch list`` and ListAssets."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from indexer.errors import BadInputError
from indexer.store.records import AssetRecord

if TYPE_CHECKING:
    from indexer.store.catalog import Catalog

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def list_page(catalog: "Catalog", page_size: int = DEFAULT_PAGE_SIZE,
              page_token: str = "") -> tuple[list[AssetRecord], str]:
    """Up to ``page_size`` assets after ``page_token`` (the last id of the previous page), and the next token.

    The token is empty after the last page.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadInputError(f"expected a page size between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    records = list(itertools.islice(catalog.assets(after=page_token), page_size + 1))
    more = len(records) > page_size
    records = records[:page_size]
    return records, records[-1].asset_id if more else ""
