"""Helpers the PostgreSQL benchmarks share: a database of their own on the server they are given."""

from __future__ import annotations


def server_url(url: str, name: str) -> str:
    """The same server and user as `url`, database `name`."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def admin_sql(url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def scalar(sql: str, params=None):
    """The first column of the first row, on Django's connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
