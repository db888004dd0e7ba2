"""Document numbers taken from a locked counter: 金司监建〔2026〕3号, 金山检计备〔2025〕3号, TS-2026-000123.

One way for every kind of numbered document. The counter row (a model with a `last` field, one row per key,
e.g. region × kind × year) is locked until the issuing transaction ends, so two documents issued at once
wait for each other instead of taking the same number, and a rollback (a failing PDF) gives the number back.
Numbers already taken outside the counter (an import, a hand-made record) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

__all__ = ["take_number"]


def take_number(
    counter: type[models.Model],
    key: dict,
    numbered: type[models.Model],
    spell: Callable[[int], str],
) -> str:
    """The next free number of `key`'s counter, spelt by `spell(sequence)`; free means no `numbered` row
    has it as its `number`. Call inside the transaction that stores the numbered document."""
    counter.objects.get_or_create(**key)
    row = counter.objects.select_for_update().get(**key)
    while True:
        row.last += 1
        number = spell(row.last)
        if not numbered.objects.filter(number=number).exists():
            break
    row.save(update_fields=["last"])
    return number
