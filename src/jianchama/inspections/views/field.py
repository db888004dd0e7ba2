"""The inspector's field app (F-44): its shell page, service worker and manifest, the JSON its service worker
keeps for offline use, and the one endpoint the phone sends its queued acts to.

The JSON endpoints answer JSON in every case, refusals included (403 with a Chinese `message`), so the phone
never mistakes a login page for data.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view

from .. import field, forms, services
from ..models import FieldAct, Task


def json_view(view):
    """Login and the field app's role checked, refusals as JSON."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse(
                {
                    "message": "未登录或登录已过期：请联网后重新登录，手机上的记录不会丢失",
                    "login_required": True,
                },
                status=403,
            )
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as refusal:
            return JsonResponse({"message": refusal.message}, status=403)

    return wrapper


@page_view
def app(request):
    """The app's shell: the same page for every inspector (his data comes from the JSON below), so the
    service worker can keep it and open it offline."""
    if not field.may_use_field_app(request.user):
        raise PermissionDenied("现场执法应用只供执法人员使用：请用本人的执法人员账号登录")
    return render(
        request,
        "inspections/field_app.html",
        {
            "urls": {
                "visits": reverse("inspections:field_visits"),
                "codes": reverse("inspections:field_codes"),
                "sync": reverse("inspections:field_sync"),
                "sw": reverse("inspections:field_sw"),
                "scope": reverse("inspections:field_app"),
            }
        },
    )


# The files the service worker keeps for the shell; a new list (or a new app.js) is a new cache version.
SHELL_STATIC = [
    "css/site.css",
    "field/app.js",
    "field/field.css",
    "field/icon-192.png",
    "field/icon-512.png",
    "vendor/signature_pad/signature_pad.umd.min.js",  # the on-site record is signed offline too
]


def _static_file(name: str) -> Path:
    found = finders.find(name)
    if not found:
        raise Http404(name)
    return Path(found)


def shell_version() -> str:
    """Changes whenever a file of the shell changes, so phones replace their copy."""
    import hashlib

    digest = hashlib.sha256()
    for name in ["field/sw.js", *SHELL_STATIC]:
        digest.update(_static_file(name).read_bytes())
    return digest.hexdigest()[:12]


@require_GET
def service_worker(request):
    """The hand-written service worker (static/field/sw.js), served under the app's path so its scope is
    the app's pages only (`Service-Worker-Allowed` says so explicitly), never cached by the browser's HTTP
    cache: the browser checks it for updates at each visit."""
    source = _static_file("field/sw.js").read_text(encoding="utf-8")
    shell = [reverse("inspections:field_app"), *(static(name) for name in SHELL_STATIC)]
    header = (
        f"const VERSION = {shell_version()!r};\n"
        f"const SHELL = {shell!r};\n"
        f"const DATA = {[reverse('inspections:field_visits'), reverse('inspections:field_codes')]!r};\n"
        f"const SCOPE = {reverse('inspections:field_app')!r};\n"
    )
    response = HttpResponse(header + source, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("inspections:field_app")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request):
    scope = reverse("inspections:field_app")
    data = {
        "name": "检查码 · 现场执法",
        "short_name": "现场执法",
        "lang": "zh-CN",
        "start_url": scope,
        "scope": scope,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b71c1c",
        "icons": [
            {"src": static("field/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("field/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    }
    return JsonResponse(
        data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )


@never_cache
@require_GET
@json_view
def visits_json(request):
    from django.middleware.csrf import get_token

    data = field.field_visits(request.user)
    data["csrf"] = get_token(request)
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_GET
@json_view
def codes_json(request):
    return JsonResponse(field.code_series(request.user), json_dumps_params={"ensure_ascii": False})


def _record_signing(data, task: Task) -> dict:
    """The on-site record as signed on the phone: `inspector_<id>` for each inspector of the task, and the
    party's or the witness's fields, as the signing page sends them (documents.sign_onsite_record checks
    them all, length included)."""
    return {
        "inspector_signatures": {
            inspector_id: data.get(f"inspector_{inspector_id}", "")
            for inspector_id in task.inspectors.values_list("pk", flat=True)
        },
        "party_name": data.get("party_name", "")[:200],
        "party_signature": data.get("party_signature", ""),
        "party_statement": data.get("party_statement", "")[:5000],
        "refused": data.get("refused", "") in ("1", "true", "on"),
        "witness_name": data.get("witness_name", "")[:200],
        "witness_signature": data.get("witness_signature", ""),
    }


@ratelimit(key="user_or_ip", rate=lambda group, request: settings.FIELD_SYNC_RATE_LIMIT, block=False)
@require_POST
@json_view
def sync(request):
    """One act queued on the phone: {client_id, kind, task, occurred_at, location_*} and, for a result, the
    fields of the result form (same names) with its photos as `evidence_files`; for the signed on-site record
    (`sign_record`), the signing page's fields with each signature as a PNG data: URL. 200 accepted (or already
    there), 409 refused with the reason, 400 invalid, 403 not his."""
    if getattr(request, "limited", False):
        return JsonResponse({"message": "同步过于频繁，请稍后再试"}, status=429)
    data = request.POST
    try:
        client_id = field.parse_client_id(data.get("client_id", ""))
        occurred_at = field.parse_occurred_at(data.get("occurred_at", ""))
        position = field.parse_position(
            data.get("location_allowed", ""),
            data.get("latitude", ""),
            data.get("longitude", ""),
            data.get("accuracy", ""),
        )
        kind = data.get("kind", "")
        if kind not in FieldAct.Kind.values:
            raise DomainError("未知的现场操作类型")
    except DomainError as error:
        return JsonResponse({"message": error.message, "problems": error.problems}, status=400)
    task_id = data.get("task", "")
    task = (
        Task.objects.visible_to(request.user).filter(pk=int(task_id)).first()
        if task_id.isdigit() and len(task_id) < 12
        else None
    )
    if task is None:
        return JsonResponse({"message": "找不到该检查任务，或您无权提交其记录"}, status=404)
    result = None
    if kind == FieldAct.Kind.RESULT and not FieldAct.objects.filter(client_id=client_id).exists():
        form = forms.RecordForm(data, task=task)
        if not form.is_valid():
            problems = [
                f"{form.fields[name].label if name in form.fields else ''}：{message}".lstrip("：")
                for name, messages in form.errors.items()
                for message in messages
            ]
            return JsonResponse(
                {"message": "检查结果未保存：" + "；".join(problems), "problems": problems}, status=409
            )
        cleaned = form.cleaned_data
        result = {
            "outcome": cleaned["outcome"],
            "summary": cleaned["summary"],
            "findings": [
                services.FindingInput(
                    item=item, entry=entry, result=cleaned[name], note=cleaned[f"{name}_note"]
                )
                for name, item, entry in form.entries
            ],
            "rectify_working_days": cleaned["rectify_working_days"],
            "lenient": cleaned["lenient"],
            "lenient_note": cleaned["lenient_note"],
            "improvement_advice": cleaned["improvement_advice"],
            "evidence": [
                services.EvidenceInput(kind="photo", file=upload)
                for upload in request.FILES.getlist("evidence_files")
            ],
            "onsite_person_name": cleaned["onsite_person_name"],
            "onsite_person_phone": cleaned["onsite_person_phone"],
        }
    record_signing = None
    if kind == FieldAct.Kind.SIGN_RECORD:
        record_signing = _record_signing(data, task)
    try:
        outcome = field.sync_act(
            request.user,
            client_id=client_id,
            task=task,
            kind=kind,
            occurred_at=occurred_at,
            position=position,
            result=result,
            record_signing=record_signing,
        )
    except PermissionDenied:
        raise
    except DomainError as error:
        return JsonResponse({"message": error.message, "problems": error.problems}, status=409)
    return JsonResponse(
        {
            "status": "duplicate" if outcome.duplicate else "accepted",
            "message": outcome.message,
            "act": outcome.act.pk,
            "received_at": outcome.act.received_at.isoformat(),
        }
    )
