"""Rows read by a query written once per process (the few hot paths where compiling the ORM's query cost more
than the rest of the request: the scan card, the API key check) turned into values as the ORM reads them,
through the database's and the fields' converters, so that `Model.from_db` gets what a queryset would give."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Field
from django.db.models.expressions import Col

Converters = list[tuple[int, list, Col]]


def field_converters(connection, fields: Sequence[Field]) -> Converters:
    """For each column of a row of `fields` (in that order) that needs converting: its index, the converter
    functions and the column they are called with."""
    converters = []
    for index, field in enumerate(fields):
        column = Col("", field)
        functions = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if functions:
            converters.append((index, functions, column))
    return converters


def converted(connection, row: Sequence[Any], converters: Converters) -> list[Any]:
    values = list(row)
    for index, functions, column in converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    return values
