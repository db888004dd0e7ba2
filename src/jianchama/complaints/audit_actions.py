"""Chinese labels of the complaints app's audit actions."""

AUDIT_ACTIONS: dict[str, str] = {
    "complaint.registered": "登记投诉举报",
    "complaint.hotline_imported": "导入12345热线工单",
    "complaint.assigned": "交办投诉举报",
    "complaint.reassigned": "改交其他执法单位办理",
    "complaint.handled": "录入办理结果",
    "complaint.feedback": "反馈投诉人并办结",
    "complaint.rejected": "不予受理",
    "complaint.finding_created": "转为监督问题",
    "complaint.reminded": "期限提醒",
    "lead.registered": "登记行政复议线索",
    "lead.accepted": "行政复议线索转为监督问题",
    "lead.returned": "反馈复议机构",
    "activity.recorded": "记录走访、座谈情况",
    "survey.created": "创建问卷",
    "survey.opened": "发布问卷",
    "survey.closed": "结束问卷",
    "survey.answered": "企业提交问卷",
}
