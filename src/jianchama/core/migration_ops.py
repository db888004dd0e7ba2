"""Database operations that migrations of several apps share."""

from django.db import migrations


def trigram_index(table: str, column: str, name: str):
    """A PostgreSQL GIN trigram index on UPPER(column), which is what `icontains` searches compare; other
    databases get nothing (their searches scan). pg_trgm is a trusted extension (PostgreSQL 13+): the
    database's owner may create it."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop, elidable=False)
