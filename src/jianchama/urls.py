from django.contrib import admin
from django.urls import include, path

from jianchama.api import api
from jianchama.core.views import admin_login
from jianchama.inspections.views.signing import jwks_view
from jianchama.plans.urls import draw_urlpatterns
from jianchama.registry.urls import import_urlpatterns

admin.site.site_header = "检查码平台管理"
admin.site.site_title = "检查码平台管理"
admin.site.index_title = "平台数据管理"

urlpatterns = [
    path("admin/login/", admin_login, name="admin_login"),  # before admin.site.urls, which has its own
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("", include("jianchama.portal.urls")),
    path("tasks/", include("jianchama.inspections.urls")),
    path("plans/", include("jianchama.plans.urls")),
    path("draws/", include((draw_urlpatterns, "draws"))),
    path("supervision/", include("jianchama.supervision.urls")),
    path("complaints/", include("jianchama.complaints.urls")),
    path("statistics/", include("jianchama.statistics.urls")),
    path("open-data/", include("jianchama.opendata.urls")),
    path("reports/", include("jianchama.reports.urls")),
    path("notifications/", include("jianchama.notifications.urls")),
    path("registry/import/", include((import_urlpatterns, "registry_import"))),
    path("registry/", include("jianchama.registry.urls")),
    path("integrations/", include("jianchama.integrations.urls")),
    path("", include("jianchama.core.urls")),
]
# No route serves MEDIA_ROOT, not even with DEBUG: every stored file goes through a view that checks the
# user's scope (jianchama.core.files).
handler500 = "jianchama.core.views.server_error"
