from django.contrib import admin
from django.urls import include, path

from jianchama.inspections.signing_views import jwks_view

admin.site.site_header = "检查码平台管理"
admin.site.site_title = "检查码平台管理"

urlpatterns = [
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
# No route serves MEDIA_ROOT, not even with DEBUG: every stored file goes through a view that checks the
# user's scope (jianchama.core.files).
