from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "jianchama.notifications"
    label = "notifications"
    verbose_name = "通知"

    def ready(self):
        from jianchama.core import audit

        from .services import AUDIT_ACTIONS

        audit.register_actions(AUDIT_ACTIONS)
        from .models import Delivery

        # A notification's event is an action code (task.notified): it reads as the action's label.
        audit.register_value_labels("event", event_label)
        audit.register_value_labels("deliveries", dict(Delivery.Channel.choices))
        audit.register_field_labels({"deliveries": "发送渠道（条）"})
        from . import todos  # noqa: F401  (registers the home page's to-dos, core/todos.py)


# Notification events that are not also audit actions.
EVENT_LABELS = {
    "complaint.received": "收到投诉举报",
    "supervision.warning": "收到执法监督提醒",
    "supervision.recommendation": "收到执法监督建议书",
    "supervision.decision": "收到执法监督决定书",
    "supervision.deadline": "执法监督期限提醒",
    "audit.checkpoint": "审计日志存证",
    "complaints.lead_registered": "收到行政复议线索",
    "supervision.bulletin": "收到典型案例或通报",
    "supervision.guidance": "收到指导性意见",
    "supervision.sampling_shortfall": "抽查评查未按期完成提醒",
    "task.documents_signed": "现场检查文书已签署送达",
    "api.webhook_disabled": "事件推送地址已停用",
}


def event_label(code) -> str:
    from jianchama.core import audit

    return EVENT_LABELS.get(code) or audit.action_label(code)
