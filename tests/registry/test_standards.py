"""The city's inspection standards (issue 17): 「按照市级行政检查标准开展检查」 — an item carries the standard
version it follows (reference number and version), registered by the platform administrator as configuration,
and shown where the item is chosen and on the task."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jianchama.core.audit import AuditEvent
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.roles import Role
from jianchama.registry import standards
from jianchama.registry.models import InspectionItem, InspectionStandard, StandardItem
from tests.factories import ItemFactory, user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

POINTS = ["是否取得燃气经营许可证", "是否按许可范围经营", "是否建立安全管理制度"]


def standard_file(item_codes, **overrides) -> dict:
    data = {
        "document_number": "沪建规范〔2026〕3号",
        "version": "2026.1",
        "title": "上海市燃气行政检查标准",
        "effective_date": "2026-01-01",
        "items": [
            {"item": code, "checklist": POINTS, "rectify_min_days": 5, "rectify_max_days": 15}
            for code in item_codes
        ],
    }
    return {**data, **overrides}


def upload(data) -> SimpleUploadedFile:
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return SimpleUploadedFile("standard.json", raw, content_type="application/json")


def test_registering_a_version_links_its_items_and_makes_its_points_their_checklist():
    admin = user_for(Role.PLATFORM_ADMIN)
    item = ItemFactory()
    standard = standards.register_standard(
        admin,
        document_number=" 沪建规范〔2026〕3号 ",
        version="2026.1",
        title="上海市燃气行政检查标准",
        effective_date=datetime.date(2026, 1, 1),
        entries=[{"item": item.code, "checklist": POINTS, "rectify_min_days": 5, "rectify_max_days": 15}],
    )
    item.refresh_from_db()
    assert item.standard == standard and item.checklist == POINTS
    assert str(standard) == "上海市燃气行政检查标准 v2026.1"
    entry = item.standard_entry()
    assert (entry.rectify_min_days, entry.rectify_max_days, entry.checklist) == (5, 15, POINTS)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"standard.create", "item.follow_standard"} <= actions


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.PLATFORM_ADMIN], ids=lambda r: r)
def test_only_the_platform_administrator_registers_standards(role):
    item = ItemFactory()
    with pytest.raises(PermissionDenied, match="只有平台管理员"):
        standards.import_standard(user_for(role), upload=upload(standard_file([item.code])))
    assert not InspectionStandard.objects.exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"document_number": ""}, "请填写标准的文号"),
        ({"effective_date": "2026-13-01"}, "施行日期应为 YYYY-MM-DD"),
        ({"items": []}, "至少要包含一个检查事项"),
        (
            {"items": [{"item": "NOPE", "checklist": ["a"], "rectify_min_days": 1, "rectify_max_days": 2}]},
            "不在检查事项清单中",
        ),
        (
            {"items": [{"item": "{code}", "checklist": [], "rectify_min_days": 1, "rectify_max_days": 2}]},
            "没有检查要点",
        ),
        (
            {
                "items": [
                    {"item": "{code}", "checklist": ["a", "a"], "rectify_min_days": 1, "rectify_max_days": 2}
                ]
            },
            "重复的条目",
        ),
        (
            {
                "items": [
                    {"item": "{code}", "checklist": ["a"], "rectify_min_days": 20, "rectify_max_days": 5}
                ]
            },
            "整改期限范围20至5个工作日不对",
        ),
        (
            {
                "items": [
                    {"item": "{code}", "checklist": ["a"], "rectify_min_days": "5", "rectify_max_days": 9}
                ]
            },
            "应为整数个工作日",
        ),
        ({"items": ["x"]}, "格式不对"),
    ],
)
def test_a_bad_standard_is_refused_in_chinese_and_nothing_is_saved(change, message):
    admin = user_for(Role.PLATFORM_ADMIN)
    item = ItemFactory()
    before = list(item.checklist)
    text = json.dumps(standard_file([item.code], **change), ensure_ascii=False).replace("{code}", item.code)
    with pytest.raises(DomainError, match=message):
        standards.import_standard(admin, upload=upload(text.encode()))
    assert not InspectionStandard.objects.exists() and not StandardItem.objects.exists()
    item.refresh_from_db()
    assert item.standard is None and item.checklist == before


def test_not_json_and_the_same_version_twice_are_refused():
    admin = user_for(Role.PLATFORM_ADMIN)
    item = ItemFactory()
    with pytest.raises(DomainError, match="不是有效的 UTF-8 JSON"):
        standards.import_standard(admin, upload=upload(b"\xff\xfe=cmd|' /C calc'!A0"))
    with pytest.raises(DomainError, match="应为一个对象"):
        standards.import_standard(admin, upload=upload(b"[1, 2]"))
    standards.import_standard(admin, upload=upload(standard_file([item.code])))
    with pytest.raises(DomainError, match=r"版本2026\.1已经登记"):
        standards.import_standard(admin, upload=upload(standard_file([item.code])))
    assert InspectionStandard.objects.count() == 1


def test_the_standards_page_imports_and_every_page_shows_what_an_item_follows(client):
    """The platform admin uploads the file on the page; the item page, the task form's item list and the task
    page then say 「依据：…标准 v…」."""
    s = build_scenario()
    admin = user_for(Role.PLATFORM_ADMIN)
    client.force_login(admin)
    response = client.post(
        "/registry/standards/import/", {"file": upload(standard_file([s.item.code]))}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "上海市燃气行政检查标准 v2026.1" in page and "5至15个工作日" in page and POINTS[2] in page
    listing = client.get("/registry/standards/").content.decode()
    assert "沪建规范〔2026〕3号" in listing
    item_page = client.get(f"/registry/items/{s.item.pk}/").content.decode()
    assert "依据：上海市燃气行政检查标准 v2026.1" in item_page

    client.force_login(s.inspector_user)
    form = client.get(reverse("inspections:task_create")).content.decode()
    assert f"{s.item.name}（依据：上海市燃气行政检查标准 v2026.1）" in form
    task = s.draft()
    detail = client.get(reverse("inspections:task_detail", args=[task.pk])).content.decode()
    assert "依据：上海市燃气行政检查标准 v2026.1" in detail
    # the record form asks exactly the standard's points
    assert list(InspectionItem.objects.get(pk=s.item.pk).checklist) == POINTS


def test_a_body_admin_is_refused_the_import_page_and_an_enterprise_reads_no_timeline(client):
    s = build_scenario()
    client.force_login(s.head)
    response = client.post("/registry/standards/import/", {"file": upload(standard_file([s.item.code]))})
    assert response.status_code == 403 and "只有平台管理员" in response.content.decode()
    assert not InspectionStandard.objects.exists()


def test_a_malformed_upload_on_the_page_is_a_form_error_not_a_500(client):
    client.force_login(user_for(Role.PLATFORM_ADMIN))
    response = client.post("/registry/standards/import/", {"file": upload(b"{not json")})
    assert response.status_code == 200
    assert "不是有效的 UTF-8 JSON 文件" in response.content.decode()
    assert not InspectionStandard.objects.exists()
