"""Registry pages: thin views over `visible_to` querysets and the services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from .models import EnforcementBody, Enterprise, InspectionItem, Inspector


@login_required
def body_list(request):
    bodies = EnforcementBody.objects.visible_to(request.user).select_related("region")
    return render(request, "registry/body_list.html", {"bodies": bodies})


@login_required
def body_detail(request, pk):
    body = get_object_or_404(EnforcementBody.objects.visible_to(request.user), pk=pk)
    return render(request, "registry/body_detail.html", {"body": body})


@login_required
def inspector_list(request):
    inspectors = Inspector.objects.visible_to(request.user).select_related("body")
    return render(request, "registry/inspector_list.html", {"inspectors": inspectors})


@login_required
def enterprise_list(request):
    enterprises = Enterprise.objects.visible_to(request.user).select_related("region")[:50]
    return render(request, "registry/enterprise_list.html", {"enterprises": enterprises})


@login_required
def enterprise_detail(request, pk):
    enterprise = get_object_or_404(Enterprise.objects.visible_to(request.user), pk=pk)
    return render(request, "registry/enterprise_detail.html", {"enterprise": enterprise})


@login_required
def enterprise_detail_own(request):
    if not request.user.enterprise_id:
        return redirect("registry:enterprise_list")
    return enterprise_detail(request, request.user.enterprise_id)


@login_required
def item_list(request):
    items = InspectionItem.objects.visible_to(request.user).select_related("field")
    return render(request, "registry/item_list.html", {"items": items})
