"""Bundled case studies: published reviews reproduced from their own tables."""
