"""The city's inspection standards (按照市级行政检查标准开展检查; 行政检查裁量权): registering a version and
linking the items to it.

A standard version is registered once, whole, by the platform administrator (configuration, not a legal
act): its reference number, version, title, effective date and, per item, the checklist points and the range
of rectification deadlines in working days. Registering it links each of its items to it and makes the
item's checklist the standard's points (the record form then asks exactly those points). The data rules
`standard_departure` and `rectify_outside_range` (supervision/rules.py) judge the records against it.

The file the page takes is JSON (docs/standards.md):

    {"document_number": "…", "version": "…", "title": "…", "effective_date": "2026-01-01",
     "items": [{"item": "<事项编码>", "checklist": ["…", …], "rectify_min_days": 5, "rectify_max_days": 15}]}
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.db import transaction

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied, raise_if

from .models import InspectionItem, InspectionStandard, StandardItem

AUDIT_ACTIONS = {
    "standard.create": "登记市级行政检查标准",
    "item.follow_standard": "检查事项适用市级行政检查标准",
}

MAX_FILE_BYTES = 1024 * 1024
MAX_POINTS = 200
MAX_DAYS = 365


def can_manage_standards(user) -> bool:
    return user.is_authenticated and user.is_platform_admin


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _entry_problems(index: int, raw: Any, items: dict[str, InspectionItem], seen: set[str]) -> list[str]:
    where = f"第{index}个事项"
    if not isinstance(raw, dict):
        return [f"{where}格式不对，应为包含 item、checklist、rectify_min_days、rectify_max_days 的对象"]
    problems = []
    code = _text(raw.get("item"))
    if not code:
        problems.append(f"{where}没有填写事项编码（item）")
    elif code not in items:
        problems.append(f"{where}的事项编码“{code}”不在检查事项清单中，请先登记该事项")
    elif code in seen:
        problems.append(f"事项“{code}”在标准中出现了两次，请合并为一条")
    else:
        seen.add(code)
        where = f"事项“{code}”"
    checklist = raw.get("checklist")
    if not isinstance(checklist, list) or not checklist:
        problems.append(f"{where}没有检查要点（checklist 应为非空的文字列表）")
    else:
        points = [_text(p) for p in checklist]
        if any(not p for p in points):
            problems.append(f"{where}的检查要点有空白或不是文字的条目，请删除或填写")
        elif len(set(points)) != len(points):
            problems.append(f"{where}的检查要点有重复的条目，请删除重复")
        elif len(points) > MAX_POINTS or any(len(p) > 300 for p in points):
            problems.append(f"{where}的检查要点不得超过{MAX_POINTS}条，每条不得超过300字")
    low, high = raw.get("rectify_min_days"), raw.get("rectify_max_days")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        problems.append(f"{where}的整改期限范围（rectify_min_days、rectify_max_days）应为整数个工作日")
    elif not (1 <= low <= high <= MAX_DAYS):
        problems.append(
            f"{where}的整改期限范围{low}至{high}个工作日不对：应满足 1 ≤ 下限 ≤ 上限 ≤ {MAX_DAYS}"
        )
    return problems


@transaction.atomic
def register_standard(
    actor,
    *,
    document_number: str,
    version: str,
    title: str,
    effective_date: datetime.date | str | None,
    entries: list[dict[str, Any]],
) -> InspectionStandard:
    """Register one version of the city standard and link its items to it; all or nothing."""
    if not can_manage_standards(actor):
        raise PermissionDenied("只有平台管理员可以登记市级行政检查标准")
    document_number, version, title = _text(document_number), _text(version), _text(title)
    problems = []
    if not document_number or len(document_number) > 100:
        problems.append("请填写标准的文号（不超过100字）")
    if not version or len(version) > 20:
        problems.append("请填写标准的版本号（不超过20字）")
    if not title or len(title) > 200:
        problems.append("请填写标准名称（不超过200字）")
    if isinstance(effective_date, str):
        try:
            effective_date = datetime.date.fromisoformat(effective_date.strip())
        except ValueError:
            effective_date = None
    if not isinstance(effective_date, datetime.date):
        problems.append("施行日期应为 YYYY-MM-DD 格式的日期")
    if (
        document_number
        and version
        and InspectionStandard.objects.filter(document_number=document_number, version=version).exists()
    ):
        problems.append(f"标准“{document_number}”的版本{version}已经登记；修订请登记新的版本号")
    if not isinstance(entries, list) or not entries:
        problems.append("标准至少要包含一个检查事项（items）")
        entries = []
    codes = [_text(e.get("item")) for e in entries if isinstance(e, dict)]
    items = {item.code: item for item in InspectionItem.objects.filter(code__in=codes)}
    seen: set[str] = set()
    for index, raw in enumerate(entries, start=1):
        problems += _entry_problems(index, raw, items, seen)
    raise_if(problems, "检查标准未登记")
    standard = InspectionStandard.objects.create(
        document_number=document_number, version=version, title=title, effective_date=effective_date
    )
    for raw in entries:
        item = items[_text(raw["item"])]
        points = [_text(p) for p in raw["checklist"]]
        StandardItem.objects.create(
            standard=standard,
            item=item,
            checklist=points,
            rectify_min_days=raw["rectify_min_days"],
            rectify_max_days=raw["rectify_max_days"],
        )
        before = audit.snapshot(item)
        item.standard = standard
        item.checklist = points
        item.save(update_fields=["standard", "checklist"])
        audit.record(
            actor=actor, action="item.follow_standard", obj=item, before=before, after=audit.snapshot(item)
        )
    audit.record(
        actor=actor,
        action="standard.create",
        obj=standard,
        after={**audit.snapshot(standard), "items": sorted(items)},
    )
    return standard


def import_standard(actor, *, upload) -> InspectionStandard:
    """Register a standard from its JSON file (the page's upload)."""
    if not can_manage_standards(actor):
        raise PermissionDenied("只有平台管理员可以登记市级行政检查标准")
    if upload is None:
        raise DomainError("请选择标准文件（JSON）")
    if upload.size > MAX_FILE_BYTES:
        raise DomainError(f"标准文件超过{MAX_FILE_BYTES // 1024}KB，请检查是否选错了文件")
    try:
        data = json.loads(upload.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise DomainError("标准文件不是有效的 UTF-8 JSON 文件，请按模板格式填写") from None
    if not isinstance(data, dict):
        raise DomainError(
            "标准文件的内容应为一个对象（含 document_number、version、title、effective_date、items）"
        )
    return register_standard(
        actor,
        document_number=data.get("document_number"),
        version=data.get("version"),
        title=data.get("title"),
        effective_date=data.get("effective_date") if isinstance(data.get("effective_date"), str) else None,
        entries=data.get("items"),
    )
