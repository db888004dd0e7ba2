"""Enterprises' registered positions (纬度, 经度) in the bulk import (亮码即定位, F-44): both or neither, in
range; an import without them keeps what is registered."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jianchama.core.roles import Role
from jianchama.registry.importing import ImportRejected, import_enterprises
from jianchama.registry.models import Enterprise
from tests.factories import DistrictFactory, UserFactory
from tests.registry.test_import import ENTERPRISE_HEADER, as_csv, code, enterprise_row, problems_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def jinshan():
    return DistrictFactory()


@pytest.fixture
def admin():
    return UserFactory(role=Role.PLATFORM_ADMIN)


HEADER = [*ENTERPRISE_HEADER, "纬度", "经度"]


def row(n: int, lat: str, lng: str) -> list:
    return [*enterprise_row(n), lat, lng]


def test_positions_are_imported_and_kept_when_left_out(admin, jinshan):
    import_enterprises(
        actor=admin, file=as_csv([row(1, "30.7412", "121.3412")], header=HEADER), file_name="a.csv"
    )
    enterprise = Enterprise.objects.get(uscc=code(1))
    assert (enterprise.latitude, enterprise.longitude) == (Decimal("30.741200"), Decimal("121.341200"))
    import_enterprises(
        actor=admin, file=as_csv([enterprise_row(1)]), file_name="b.csv"
    )  # no position columns
    enterprise.refresh_from_db()
    assert enterprise.latitude == Decimal("30.741200")
    import_enterprises(
        actor=admin, file=as_csv([row(1, "30.75", "121.35")], header=HEADER), file_name="c.csv"
    )
    enterprise.refresh_from_db()
    assert (enterprise.latitude, enterprise.longitude) == (Decimal("30.750000"), Decimal("121.350000"))


def test_half_or_out_of_range_positions_are_refused(admin, jinshan):
    rows = [row(1, "30.7", ""), row(2, "91", "121"), row(3, "north", "121")]
    with pytest.raises(ImportRejected) as refused:
        import_enterprises(actor=admin, file=as_csv(rows, header=HEADER), file_name="bad.csv")
    text = " ".join(problems_of(refused))
    assert "一并填写" in text and "-90至90" in text and "应为数字" in text
    assert not Enterprise.objects.filter(uscc__in=[code(1), code(2), code(3)]).exists()
