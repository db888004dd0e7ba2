"""The ranges every number and date typed into a form or a query string must keep (issue 10, item 7).

A number past the database's integer range, an id of 10²¹ or a date in year 1 or 9999 is not a value anyone
means: it is refused with a message in Chinese before it reaches a query or a date calculation (which would
overflow and answer with a 500). Every form of the project gets these bounds from `BoundedFieldsMixin`; views
that read numbers or dates from a query string use `parse_date` and `parse_int`."""

from __future__ import annotations

import datetime

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

# PostgreSQL's `integer`, the narrowest integer column of the schema: anything outside it cannot be stored.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Dates a user can mean here: a certificate issued decades ago, a plan or deadline some years ahead.
DATE_MIN, DATE_MAX = datetime.date(1950, 1, 1), datetime.date(2099, 12, 31)
DATE_RANGE_MESSAGE = f"日期超出可填写的范围（{DATE_MIN:%Y-%m-%d}至{DATE_MAX:%Y-%m-%d}），请检查年份"


def in_date_range(day: datetime.date | datetime.datetime) -> bool:
    day = day.date() if isinstance(day, datetime.datetime) else day
    return DATE_MIN <= day <= DATE_MAX


def validate_date(value) -> None:
    if value is not None and not in_date_range(value):
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="date_range")


def parse_date(text) -> datetime.date | None:
    """A date from a query string or a posted field: None when missing, malformed or out of range."""
    try:
        day = datetime.date.fromisoformat(str(text).strip())
    except (TypeError, ValueError):
        return None
    return day if in_date_range(day) else None


def parse_int(text, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """A whole number from a query string: None when missing, malformed or outside [minimum, maximum]."""
    try:
        number = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return number if minimum <= number <= maximum else None


class _BoundedPk:
    """Keeps ids that no row can have away from the database (SQLite cannot even bind an int past 2⁶³)."""

    def __init__(self, field: forms.ModelChoiceField):
        self.field = field

    def __call__(self, value):
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item in self.field.empty_values:
                continue
            number = parse_int(item, minimum=-(2**63), maximum=2**63 - 1)
            if str(item).strip().lstrip("-").isdigit() and number is None:
                raise forms.ValidationError("所选项不存在，请重新选择", code="invalid_choice")


def bound_field(field: forms.Field) -> None:
    """Add the ranges to one form field (idempotent)."""
    if getattr(field, "_jcm_bounded", False):
        return
    field._jcm_bounded = True
    if isinstance(field, forms.IntegerField):  # DecimalField and FloatField too
        if field.max_value is None or field.max_value > INT_MAX:
            field.validators.append(MaxValueValidator(INT_MAX, message=f"数值过大：不能大于{INT_MAX}"))
        if field.min_value is None or field.min_value < INT_MIN:
            field.validators.append(MinValueValidator(INT_MIN, message=f"数值过小：不能小于{INT_MIN}"))
    elif isinstance(field, forms.DateField | forms.DateTimeField):
        field.validators.append(validate_date)
    elif isinstance(field, forms.ModelChoiceField):
        original = field.clean
        check = _BoundedPk(field)

        def clean(value, _original=original, _check=check):
            _check(value)
            return _original(value)

        field.clean = clean


class BoundedFieldsMixin:
    """Every field of the form keeps the ranges above."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            bound_field(field)

    def full_clean(self):
        # Fields a form adds after its own __init__ (score sheets' items, say) are bounded here too.
        for field in self.fields.values():
            bound_field(field)
        super().full_clean()


class BoundedForm(BoundedFieldsMixin, forms.Form):
    pass


class BoundedModelForm(BoundedFieldsMixin, forms.ModelForm):
    pass
