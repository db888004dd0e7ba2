"""The supervision reports (F-37)."""

from django.urls import path, re_path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_create, name="create"),
    path("<int:pk>/", views.report_detail, name="detail"),
    re_path(r"^(?P<pk>[0-9]+)/report\.(?P<fmt>pdf|xlsx)$", views.report_file, name="file"),
    path("<int:pk>/<str:action>/", views.report_action, name="action"),
]
