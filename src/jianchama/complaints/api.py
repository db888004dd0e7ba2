"""The complaints part of the API (issue 17): the 12345 hotline's client (kind 12345) pushes work orders into
its district's complaint ledger and reads what became of them (「与12345热线合作对接…信息共享」).

The same columns, checks and service as the export's import (hotline.py); only a client of kind 12345 may call
these, and it sees nothing else of the platform.
"""

from __future__ import annotations

import datetime

from django.http import Http404
from ninja import Router, Schema, Status
from pydantic import Field

from jianchama.core.errors import PermissionDenied

from . import hotline
from .models import Complaint

router = Router(tags=["12345热线工单"])


class WorkOrderIn(Schema):
    number: str = Field(description="工单编号（同一工单只登记一次，重复推送返回已登记的工单）", max_length=64)
    received_at: str = Field(description="受理时间：YYYY-MM-DD，可带时分", max_length=40)
    content: str = Field(description="诉求内容", max_length=20000)
    title: str = Field("", description="诉求标题；留空取诉求内容的前30个字", max_length=500)
    complainant_name: str = Field("", description="诉求人", max_length=100)
    complainant_phone: str = Field("", description="联系电话", max_length=40)
    enterprise_name: str = Field("", description="涉及企业名称", max_length=200)
    enterprise_uscc: str = Field(
        "", description="涉及企业统一社会信用代码（须为已登记的企业）", max_length=40
    )
    body: str = Field("", description="涉及执法单位的编码或全称（须为本区的单位）", max_length=200)
    category: str = Field(
        "", description="诉求类别（投诉举报台账的类别名称；其他类别登记为“其他”）", max_length=100
    )
    due: str = Field("", description="办理时限：YYYY-MM-DD", max_length=40)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "number": "GD202603010001",
                    "received_at": "2026-03-01 09:30",
                    "content": "执法人员在营业高峰检查三小时，影响正常经营",
                    "complainant_name": "王先生",
                    "complainant_phone": "13911112222",
                    "category": "干扰企业正常生产经营",
                    "due": "2026-03-15",
                }
            ]
        }
    }


class WorkOrderOut(Schema):
    number: str = Field(description="工单编号")
    ledger_number: str = Field(description="投诉举报台账编号")
    status: str = Field(description="办理状态：registered、assigned、handled、closed、rejected")
    status_label: str = Field(description="办理状态（中文）")
    received_on: datetime.date = Field(description="受理日期")
    due: datetime.date | None = Field(description="12345热线的办理时限")
    body_name: str = Field(description="承办执法单位")
    handle_by: datetime.date | None = Field(description="承办单位的办理期限")
    handled_at: datetime.datetime | None = Field(description="办理时间")
    result: str = Field(description="办理结果")
    feedback: str = Field(description="反馈投诉人的内容")
    feedback_at: datetime.datetime | None = Field(description="反馈时间")
    rejection_reason: str = Field(description="不予受理理由")


def _hotline_only(request) -> None:
    if not request.auth.is_hotline:
        raise PermissionDenied("只有12345热线的接口客户端可以推送和查询12345工单")


def _out(complaint: Complaint) -> dict:
    return {
        "number": complaint.external_number,
        "ledger_number": complaint.number or "",
        "status": complaint.status,
        "status_label": complaint.get_status_display(),
        "received_on": complaint.received_on,
        "due": complaint.external_due,
        "body_name": complaint.body.name if complaint.body_id else "",
        "handle_by": complaint.handle_by,
        "handled_at": complaint.handled_at,
        "result": complaint.result,
        "feedback": complaint.feedback,
        "feedback_at": complaint.feedback_at,
        "rejection_reason": complaint.rejection_reason,
    }


@router.post(
    "/work-orders",
    response={200: WorkOrderOut, 201: WorkOrderOut},
    summary="推送12345工单",
    operation_id="push_work_order",
)
def push_work_order(request, payload: WorkOrderIn):
    """登记为来源“12345市民服务热线”的投诉举报（201）；工单编号已登记的，返回已登记的工单（200），不重复登记。"""
    _hotline_only(request)
    cells = {
        "工单编号": payload.number,
        "受理时间": payload.received_at,
        "诉求人": payload.complainant_name,
        "联系电话": payload.complainant_phone,
        "诉求标题": payload.title,
        "诉求内容": payload.content,
        "涉及企业名称": payload.enterprise_name,
        "统一社会信用代码": payload.enterprise_uscc,
        "涉及执法单位": payload.body,
        "诉求类别": payload.category,
        "办理时限": payload.due,
    }
    complaint, created = hotline.register_work_order(request.user, cells=cells)
    return Status(201 if created else 200, _out(complaint))


@router.get(
    "/work-orders/{number}",
    response=WorkOrderOut,
    summary="查询12345工单办理结果",
    operation_id="get_work_order",
)
def get_work_order(request, number: str):
    """工单的办理状态、承办单位、办理结果与反馈。"""
    _hotline_only(request)
    complaint = hotline.work_order(request.user, number[:64])
    if complaint is None:
        raise Http404("工单不存在")
    return _out(complaint)
