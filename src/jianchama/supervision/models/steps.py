"""The three steps (F-32): warnings, supervision recommendations, supervision decisions; accountability (F-33)."""

__all__: list[str] = []
