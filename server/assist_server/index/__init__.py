"""Workspace index: crawl, chunk, embed, store (the only importer of lancedb), search."""
