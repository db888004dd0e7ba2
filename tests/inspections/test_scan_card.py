"""The scan card in the cache (issue 16, inspections/scan_card.py): a scan whose card is cached reads nothing of
the task from the database, and the card is never stale — the page changes right after each change to the task,
its code, bodies, inspectors, items, or the inspectors' certificates, in process memory (development, tests) as
in Redis (production), and a card built from what was read before a change is never served after it."""

from __future__ import annotations

import datetime
import pickle
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.core import cache as core_cache
from jianchama.core.roles import Role
from jianchama.inspections import scan_card, services, signing
from jianchama.inspections.models import Scan, Task
from jianchama.portal import scan_page
from jianchama.registry import services as registry
from jianchama.registry.models import Certificate
from tests.factories import CertificateFactory, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def s(db):
    return build_scenario()


@pytest.fixture(params=["memory", "redis"])
def cache_kind(request):
    """Each test runs against the process-memory cache and against the real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def scan(client, task: Task, **kwargs) -> str:
    response = client.get("/C/" + signing.issue_token(task.code.public_id, **kwargs))
    assert response.status_code == 200
    return response.content.decode()


def cached(task: Task):
    """The card of the task's code, as the next scan would find it (None: it would build one)."""
    return scan_card.look_up(task.code.public_id, None, timezone.localdate()).card


def test_the_second_scan_reads_the_card_from_the_cache(client, s, cache_kind):
    task = s.notified()
    first = scan(client, task)
    assert cached(task) is not None
    with CaptureQueriesContext(connection) as queries:
        second = scan(client, task)
    # With Redis the log row goes to the stream: nothing at all; in memory, only the log row's INSERT.
    assert [q["sql"].split()[0] for q in queries] == ([] if cache_kind == "redis" else ["INSERT"])
    strip = re.compile(r'扫码时间 [0-9: -]+|nonce="[^"]+"')
    assert strip.sub("", first) == strip.sub("", second)
    assert "检查码真实有效" in second and s.body.name in second and s.item.name in second


def test_a_card_is_ready_before_the_first_scan(django_capture_on_commit_callbacks, s, cache_kind):
    with django_capture_on_commit_callbacks(execute=True):
        task = s.notified()
    card = cached(task)
    assert card is not None and card.code.task.status == Task.Status.NOTIFIED
    assert "张三" in scan_page.card_html(card)


def test_cancelling_the_task_shows_the_code_revoked_at_once(client, s, cache_kind):
    task = s.notified()
    assert "检查码真实有效" in scan(client, task)
    services.cancel_task(s.head, task=task, reason="企业停业")
    page = scan(client, task)
    assert "该检查码已作废" in page and "检查码真实有效" not in page
    assert list(Scan.objects.values_list("outcome", flat=True).order_by("pk"))[-1] == Scan.Outcome.REVOKED


def test_an_inspector_taken_off_or_put_on_the_task_shows_at_once(client, s, cache_kind):
    task = s.notified()
    page = scan(client, task)
    assert "张三" in page and "李四" in page
    task.inspectors.remove(s.inspector2)  # from the task's side
    page = scan(client, task)
    assert "张三" in page and "李四" not in page
    s.partner_inspector.tasks.add(task)  # from the inspector's side
    assert "王五" in scan(client, task)


def test_a_suspended_certificate_shows_at_once_and_so_does_its_reinstatement(client, s, cache_kind):
    task = s.notified()
    admin = user_for(Role.PLATFORM_ADMIN)
    assert "执法证件状态" not in scan(client, task)
    certificate = Certificate.objects.get(pk=s.inspector.certificate.pk)
    registry.set_certificate_status(
        admin, certificate=certificate, status=Certificate.Status.SUSPENDED, reason="金司决〔2026〕3号"
    )
    page = scan(client, task)
    assert "执法证件状态：暂停使用" in page and "该人员不得实施检查，企业有权拒绝" in page
    registry.set_certificate_status(
        admin, certificate=certificate, status=Certificate.Status.VALID, reason=""
    )
    assert "执法证件状态" not in scan(client, task)


def test_a_renewed_certificate_a_renamed_inspector_body_and_item_show_at_once(client, s, cache_kind):
    task = s.notified()
    admin = user_for(Role.PLATFORM_ADMIN)
    scan(client, task)
    renewed = CertificateFactory(
        inspector=s.inspector2, number="31011699999", valid_until=timezone.localdate() + 3 * 365 * DAY
    )
    assert renewed.number in scan(client, task)
    registry.update_inspector(s.head, inspector=s.inspector, name="张三丰")
    assert "张三丰" in scan(client, task)
    registry.update_body(admin, body=s.body, name="金山区建设管理委员会（更名）")
    assert "金山区建设管理委员会（更名）" in scan(client, task)
    registry.update_item(admin, item=s.item, name="燃气经营许可条件检查（更名）")
    assert "燃气经营许可条件检查（更名）" in scan(client, task)


def test_the_enterprise_starting_the_visit_is_not_told_twice(client, s, cache_kind):
    task = s.notified()
    scan(client, task)  # an anonymous scan: the card says "notified"
    client.force_login(s.contact)
    assert "已记录企业到场核验，检查开始" in scan(client, task)
    assert Task.objects.get(pk=task.pk).status == Task.Status.IN_PROGRESS
    page = scan(client, task)
    assert "检查码真实有效" in page and "检查开始" not in page
    assert Scan.objects.filter(outcome=Scan.Outcome.GENUINE).count() + scan_log_waiting() == 3


def scan_log_waiting() -> int:
    from jianchama.inspections import scan_log

    return scan_log.waiting()


def test_a_card_built_from_what_was_read_before_a_change_is_never_served_after_it(s, cache_kind):
    task = s.notified()
    # A scan takes the versions, then reads the task; the task is cancelled meanwhile; then it stores its card.
    before = scan_card.look_up(task.code.public_id, None, timezone.localdate())
    stale = scan_card.build(scan_card.code_with_task(task.code.public_id), timezone.localdate())
    services.cancel_task(s.head, task=task, reason="企业停业")
    scan_card.store(task.code.public_id, before.stamp, stale)
    assert cached(task) is None
    # The next scan builds it afresh.
    fresh = scan_card.build(scan_card.code_with_task(task.code.public_id), timezone.localdate())
    scan_card.store(
        task.code.public_id, scan_card.look_up(task.code.public_id, None, timezone.localdate()).stamp, fresh
    )
    assert cached(task).code.task.status == Task.Status.CANCELLED


def test_the_change_is_counted_again_when_it_commits(django_capture_on_commit_callbacks, s, cache_kind):
    task = s.notified()
    key = scan_card.VERSION_KEY.format(task.code.public_id)
    start = int(core_cache.get_raw([key])[0] or 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.cancel_task(s.head, task=task, reason="企业停业")
        during = int(core_cache.get_raw([key])[0])
    assert start < during < int(core_cache.get_raw([key])[0])
    assert callbacks


def test_a_card_is_not_kept_past_the_day_a_certificate_runs_out(s, cache_kind):
    today = timezone.localdate()
    task = s.notified()
    Certificate.objects.filter(pk=s.inspector.certificate.pk).update(valid_until=today + DAY)
    card = scan_card.build(scan_card.code_with_task(task.code.public_id), today)
    assert card.fresh_until == today + 2 * DAY
    scan_card.store(task.code.public_id, scan_card.look_up(task.code.public_id, None, today).stamp, card)
    assert scan_card.look_up(task.code.public_id, None, today + DAY).card is not None
    assert scan_card.look_up(task.code.public_id, None, today + 2 * DAY).card is None


def test_a_bulk_import_of_certificates_makes_every_card_stale(s, cache_kind):
    task = s.notified()
    scan_card.refresh([task.code.public_id])
    assert cached(task) is not None
    core_cache.bump([core_cache.REGISTRY_GENERATION_KEY])  # what registry/importing.py does after its writes
    assert cached(task) is None


def test_a_card_kept_by_an_older_deployment_is_not_read(s, cache_kind, monkeypatch):
    task = s.notified()
    scan_card.refresh([task.code.public_id])
    monkeypatch.setattr(scan_card, "CARD_FORMAT", "other")
    assert cached(task) is None


def test_the_card_keeps_values_not_model_instances(s):
    task = s.notified()
    card = scan_card.build(scan_card.code_with_task(task.code.public_id), timezone.localdate())
    copy = pickle.loads(pickle.dumps(card))
    assert copy.details is None and copy.bodies == [s.body.name]
    assert copy.code.public_id == task.code.public_id and copy.code.task.number == task.number
    assert copy.code.task.window_end == task.window_end and copy.page == card.page


def test_no_card_is_kept_when_scan_card_seconds_is_0(client, s, settings):
    settings.SCAN_CARD_SECONDS = 0
    task = s.notified()
    assert "检查码真实有效" in scan(client, task)
    assert cached(task) is None


def test_the_kept_genuine_page_is_the_template_rendered(client, s):
    task = s.notified()
    card = scan_card.build(scan_card.code_with_task(task.code.public_id), timezone.localdate())
    kept = scan_page.genuine_page(
        csp_nonce="n0nce", card_html=scan_page.card_html(card), scanned_at="2026-12-04 09:30:00"
    )
    rendered = render_to_string(
        "portal/scan.html",
        {
            "outcome": Scan.Outcome.GENUINE,
            "O": Scan.Outcome,
            "started": False,
            "card_html": scan_page.card_html(card),
            "conduct_html": scan_page.conduct_html(),
            "csp_nonce": "n0nce",
            "scanned_at": "2026-12-04 09:30:00",
        },
    )
    assert kept == rendered
    assert 'nonce="n0nce"' in kept and "扫码时间 2026-12-04 09:30:00" in kept


def test_the_page_is_never_cached_by_the_browser(client, s):
    task = s.notified()
    for _ in range(2):  # built, then from the cache
        response = client.get("/C/" + signing.issue_token(task.code.public_id))
        assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
        assert response["Expires"]
    forged = client.get("/C/AAAA")
    assert forged["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_cached_card_links_the_photo_by_a_key_signed_at_each_scan(client, s, settings, monkeypatch):
    import io
    import time
    import types

    from django.core import signing as django_signing
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (6, 8), (10, 20, 200)).save(buffer, "PNG")
    upload = SimpleUploadedFile("张三.png", buffer.getvalue(), content_type="image/png")
    registry.update_inspector(s.head, inspector=s.inspector, photo=upload)
    settings.SCAN_PHOTO_URL_SECONDS = 3600
    task = s.notified()
    scan(client, task)
    assert cached(task) is not None
    # Two hours later the card is still cached; the link on the page is signed now, not when it was built.
    later = time.time() + 7200
    monkeypatch.setattr(django_signing, "time", types.SimpleNamespace(time=lambda: later))
    page = scan(client, task)
    [src] = re.findall(r'<img src="([^"]+)" alt="张三的照片"', page)
    assert client.get(src.replace("&amp;", "&")).status_code == 200


def test_a_cached_scan_makes_two_round_trips_to_redis_and_counts_as_django_ratelimit_does(
    client, s, redis_cache, settings, monkeypatch
):
    from django.test import RequestFactory
    from django_ratelimit.core import get_usage
    from redis.connection import Connection

    settings.SCAN_RATE_LIMIT = "3/m"
    task = s.notified()
    scan_card.refresh([task.code.public_id])
    sent = []
    real_send = Connection.send_packed_command

    def counting_send(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return real_send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting_send)
    scan(client, task)  # the first opens this thread's connection (its handshake is sent too)
    sent.clear()
    assert "检查码真实有效" in scan(client, task)
    # The count with the card, then the log entry.
    assert [command.split(b"\r\n")[2] for command in sent] == [b"EVALSHA", b"XADD"]
    statuses = [client.get("/C/" + signing.issue_token(task.code.public_id)).status_code for _ in range(2)]
    assert statuses == [200, 429]
    # The same count django-ratelimit keeps for the address (so its other pages' limits read it alike).
    usage = get_usage(RequestFactory().get("/"), group="scan", key="ip", rate="3/m", increment=False)
    assert usage["count"] == 4 and usage["should_limit"]
