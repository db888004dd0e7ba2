from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from jianchama.core.views import admin_login
from jianchama.inspections.signing_views import jwks_view

admin.site.site_header = "检查码平台管理"
admin.site.site_title = "检查码平台管理"

urlpatterns = [
    path("admin/login/", admin_login, name="admin_login"),  # before admin.site.urls, which has its own
    path("admin/", admin.site.urls),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("", include("jianchama.portal.urls")),
    path("tasks/", include("jianchama.inspections.urls")),
    path("plans/", include("jianchama.plans.urls")),
    path("draws/", include("jianchama.plans.draw_urls")),
    path("supervision/", include("jianchama.supervision.urls")),
    path("complaints/", include("jianchama.complaints.urls")),
    path("notifications/", include("jianchama.notifications.urls")),
    path("registry/import/", include("jianchama.registry.import_urls")),
    path("registry/", include("jianchama.registry.urls")),
    path("", include("jianchama.core.urls")),
]

if settings.DEBUG:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))
