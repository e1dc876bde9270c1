"""nearmatch indexer: decode media, extract features, store them in a catalog."""
