"""Quarterly sampling of enforcement bodies (F-31): rounds drawn by commit and reveal, reviews with score sheets."""

__all__: list[str] = []
