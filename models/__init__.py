"""Offline model engines: catalog, weight resolution, lazy registry, micro-batching (no HTTP, no AWS shapes)."""
