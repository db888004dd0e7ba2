"""The body administrator's pages for integration mode (F-29): the body's API clients, a key shown once,
rotation and revocation, the client's webhooks and their delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jianchama.core.errors import PermissionDenied
from jianchama.core.pages import page_view, submit_form

from . import services
from .forms import ClientForm
from .models import ApiClient, ApiKey, WebhookDelivery

SHOWN_ONCE = "integrations_key_once"


def _client(request, pk) -> ApiClient:
    return get_object_or_404(ApiClient.objects.visible_to(request.user).select_related("body"), pk=pk)


@page_view
def client_list(request):
    if not (services.can_manage(request.user) or request.user.is_platform_admin):
        raise PermissionDenied("只有执法单位管理员可以管理本单位的接口客户端")
    clients = ApiClient.objects.visible_to(request.user).select_related("body").order_by("-created_at")[:200]
    return render(
        request,
        "integrations/client_list.html",
        {"clients": clients, "can_create": services.can_manage(request.user)},
    )


@page_view
def client_create(request):
    if not services.can_manage(request.user):
        raise PermissionDenied("只有执法单位管理员可以登记本单位的接口客户端")
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = submit_form(
            form,
            lambda: services.register_client(
                request.user,
                name=data["name"],
                vendor=data["vendor"],
                contact=data["contact"],
                scopes=data["scopes"],
                allowed_addresses=data["allowed_addresses"],
            ),
        )
        if created:
            client, key = created
            request.session[SHOWN_ONCE] = {"client": client.pk, "key": key}
            return redirect("integrations:client_detail", client.pk)
    return render(request, "integrations/client_form.html", {"form": form})


@page_view
def client_detail(request, pk):
    client = _client(request, pk)
    shown = request.session.pop(SHOWN_ONCE, None)
    key_once = shown["key"] if shown and shown.get("client") == client.pk else None
    deliveries = (
        WebhookDelivery.objects.filter(webhook__client=client)
        .select_related("webhook")
        .order_by("-created_at")[:50]
    )
    return render(
        request,
        "integrations/client_detail.html",
        {
            "client": client,
            "key_once": key_once,
            "keys": client.keys.all()[:50],
            "webhooks": client.webhooks.all(),
            "deliveries": deliveries,
            "can_manage": (services.can_manage(request.user) and client.body_id == request.user.body_id)
            or (client.is_hotline and request.user.is_platform_admin),
        },
    )


@require_POST
@page_view
def client_action(request, pk, action):
    client = _client(request, pk)
    if action == "rotate":
        result = _run(request, lambda: services.rotate_key(request.user, client=client))
        if result:
            request.session[SHOWN_ONCE] = {"client": client.pk, "key": result[1]}
            messages.success(request, "已签发新密钥；原密钥在宽限期内仍然有效")
    elif action == "disable":
        if _run(request, lambda: services.disable_client(request.user, client=client)):
            messages.success(request, "接口客户端已停用，其全部密钥立即失效")
    else:
        raise PermissionDenied("未知的操作")
    return redirect("integrations:client_detail", client.pk)


@require_POST
@page_view
def key_revoke(request, pk):
    key = get_object_or_404(
        ApiKey.objects.filter(client__in=ApiClient.objects.visible_to(request.user)), pk=pk
    )
    if _run(request, lambda: services.revoke_key(request.user, key=key)):
        messages.success(request, f"密钥 {key} 已吊销，立即失效")
    return redirect("integrations:client_detail", key.client_id)


@require_POST
@page_view
def delivery_resend(request, pk):
    delivery = get_object_or_404(
        WebhookDelivery.objects.filter(webhook__client__in=ApiClient.objects.visible_to(request.user)), pk=pk
    )
    if _run(request, lambda: services.redeliver(request.user, delivery=delivery)):
        messages.success(request, "已重新排队推送")
    return redirect("integrations:client_detail", delivery.webhook.client_id)


def _run(request, call):
    from jianchama.core.errors import DomainError

    try:
        return call()
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return None
