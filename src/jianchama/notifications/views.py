"""The inbox pages: a logged-in user's notifications (through `visible_to`), newest first, and one
notification, marked read by a POST to the service. Out-of-scope notifications are 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jianchama.core.errors import PermissionDenied
from jianchama.core.pages import paginate

from . import services
from .models import Notification

PAGE_SIZE = 30


@login_required
def inbox(request):
    notifications = Notification.objects.visible_to(request.user).select_related("enterprise")
    page = paginate(request, notifications.order_by("-created_at", "-pk"), PAGE_SIZE)
    unread = notifications.filter(read_at__isnull=True).count()
    return render(request, "notifications/inbox.html", {"page": page, "unread": unread})


@login_required
def detail(request, pk: int):
    notification = get_object_or_404(
        Notification.objects.visible_to(request.user).select_related("enterprise"), pk=pk
    )
    # The page the notice leads to (set by the service that sent it): a path on this site only.
    link = (notification.payload or {}).get("link") if isinstance(notification.payload, dict) else None
    if not (isinstance(link, str) and link.startswith("/") and not link.startswith("//")):
        link = None
    return render(request, "notifications/detail.html", {"notification": notification, "link": link})


@login_required
@require_POST
def mark_read(request, pk: int):
    notification = get_object_or_404(Notification.objects.visible_to(request.user), pk=pk)
    try:
        services.mark_read(request.user, notification=notification)
    except PermissionDenied as refusal:
        return render(request, "core/forbidden.html", {"message": refusal.message}, status=403)
    return redirect("notifications:detail", pk=notification.pk)
