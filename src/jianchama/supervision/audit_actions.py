"""Chinese labels of the supervision app's audit actions. Each part of the app adds its own dict here."""

AUDIT_ACTIONS: dict[str, str] = {
    "supervision.finding_created": "发现监督问题",
    "supervision.finding_dismissed": "核销监督问题",
    "supervision.rules_run": "运行数据监督规则",
    # The three steps and accountability (steps.py)
    "supervision.warning_issued": "发出预警提醒",
    "supervision.warning_response": "登记执法单位对预警的反馈",
    "supervision.warning_outcome": "核实预警后的整改情况",
    "supervision.finding_status": "监督问题状态变更",
    "supervision.recommendation_issued": "制发行政执法监督建议书",
    "supervision.recommendation_acknowledged": "签收行政执法监督建议书",
    "supervision.rectification_reported": "报送整改报告",
    "supervision.recommendation_reviewed": "跟踪复查整改情况",
    "supervision.decision_requested": "报请区政府制发行政执法监督决定书",
    "supervision.decision_issued": "制发行政执法监督决定书",
    "supervision.recommendation_decided": "监督建议书转为监督决定书",
    "supervision.measure_applied": "决定责任追究措施",
    "supervision.decision_rectified": "确认监督决定书整改完成",
    "supervision.deadline_missed": "执法监督期限逾期",
    # Guidance opinions, typical cases and bulletins (guidance.py, bulletins.py)
    "supervision.guidance_marked": "认定系统性问题，启动指导性意见",
    "supervision.guidance_issued": "印发指导性意见",
    "supervision.guidance_acknowledged": "签收指导性意见",
    "supervision.bulletin_drafted": "起草典型案例、通报",
    "supervision.bulletin_edited": "修改典型案例、通报",
    "supervision.bulletin_status": "典型案例、通报状态变更",
}
