"""The inspection scenario of tests/inspections, and the statistics' world on it."""

import datetime

import pytest
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections.models import Task
from jianchama.statistics.build import rebuild_all
from tests.factories import user_for
from tests.inspections.conftest import s  # noqa: F401  (the inspection scenario's fixture)


@pytest.fixture
def world(s):  # noqa: F811  (s: the scenario fixture imported above)
    """Jinshan: three closed inspections by the gas body (one joint with the market body), one submitted;
    Minhang: one by its own body."""
    s.tasks = [s.closed(), s.closed(s.joint_draft()), s.submitted()]
    from tests.inspections.conftest import inspector_with_account

    s.mh_task = Task.objects.get(
        pk=__import__("jianchama.inspections.services", fromlist=["x"])
        .create_task(
            s.other_inspector_user,
            enterprise=s.mh_enterprise,
            items=[s.item],
            inspectors=[s.other_inspector, inspector_with_account(s.other_body, "孙八")],
            legal_basis="《城镇燃气管理条例》",
            kind=Task.Kind.COMPLAINT,
            reason="投诉",
            evidence="登记表",
            window_start=timezone.localdate(),
            window_end=timezone.localdate() + datetime.timedelta(days=5),
        )
        .pk
    )
    from jianchama.inspections import services

    services.submit_task(s.other_inspector_user, task=s.mh_task)
    s.admin = user_for(Role.PLATFORM_ADMIN)
    rebuild_all()
    return s
