from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "jianchama.inspections"
    label = "inspections"
    verbose_name = "检查任务与检查码"

    def ready(self):
        from jianchama.core import audit

        from . import (
            field,
            frequency,
            todos,  # noqa: F401  (registers the home page's to-dos, core/todos.py)
            triggers,
        )
        from .services import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        for module in (field, frequency, triggers):
            audit.register_actions(getattr(module, "AUDIT_ACTIONS", {}))
        register_timeline_labels(audit)
        connect_scan_card_signals()


def connect_scan_card_signals() -> None:
    """A cached scan card is stale as soon as what it shows changes (scan_card.py)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from jianchama.registry.models import Certificate, EnforcementBody, Field, InspectionItem, Inspector

    from . import scan_card
    from .models import InspectionCode, Task, TaskBody

    handlers = [
        (Task, scan_card.on_task_saved),
        (InspectionCode, scan_card.on_code_saved),
        (TaskBody, scan_card.on_task_part_saved),
        (Inspector, scan_card.on_inspector_saved),
        (Certificate, scan_card.on_certificate_saved),
        (EnforcementBody, scan_card.on_registry_saved),
        (InspectionItem, scan_card.on_registry_saved),
        (Field, scan_card.on_registry_saved),
    ]
    for model, handler in handlers:
        for signal, name in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(handler, sender=model, dispatch_uid=f"scan-card-{model.__name__}-{name}")
    for through in (Task.inspectors.through, Task.items.through):
        m2m_changed.connect(
            scan_card.on_task_links_changed, sender=through, dispatch_uid=f"scan-card-{through.__name__}"
        )


def frequency_finding_label(finding) -> str:
    """A breach stored on a task (frequency.Breach.as_json) as one sentence: its message and what it did."""
    from .models import Exemption, FrequencyRule

    if not isinstance(finding, dict):
        return str(finding)
    action = dict(FrequencyRule.Action.choices).get(finding.get("action"), "")
    text = finding.get("message") or finding.get("name") or "频次规则"
    if finding.get("exempted_by"):
        exemption = dict(Exemption.choices).get(finding["exempted_by"], "豁免")
        return f"{text}（已豁免：{exemption}）"
    return f"{text}（{action}）" if action else text


def register_timeline_labels(audit) -> None:
    """The keys and coded values this app records beside its models' fields, in Chinese (issue 14)."""
    from .models import Exemption, FrequencyRule, InspectionRecord, Scan

    audit.register_field_labels(
        {
            "outcome": "检查结果",
            "rectify_by": "整改期限",
            "findings": "检查发现（条）",
            "approved_body": "批准单位",
            "waiting_for_others": "等待其他单位批准",
            "joined_from": "并入的任务",
            "joined_bodies": "联合检查单位",
            "exempted_by": "豁免情形",
            "exemptions": "豁免情形",
            "rule": "频次规则",
            "name": "名称",
            "scope": "范围",
            "period": "期间",
            "action": "超出时",
            "count": "已检查次数",
            "limit": "上限",
            "window": "统计期间",
            "earlier": "此前检查",
            "message": "说明",
        }
    )
    audit.register_value_labels(
        "outcome", dict(InspectionRecord.Outcome.choices) | dict(Scan.Outcome.choices)
    )
    audit.register_value_labels("exempted_by", dict(Exemption.choices))
    audit.register_value_labels("exemptions", dict(Exemption.choices))
    audit.register_value_labels("scope", dict(FrequencyRule.Scope.choices))
    audit.register_value_labels("period", dict(FrequencyRule.Period.choices))
    audit.register_value_labels("action", dict(FrequencyRule.Action.choices))
    audit.register_value_labels("frequency_findings", frequency_finding_label)
