"""The supervision reports and the assessment of bodies (F-37)."""

from django.urls import path, re_path

from .views import assessments, reports

app_name = "reports"

urlpatterns = [
    path("", reports.report_list, name="list"),
    path("new/", reports.report_create, name="create"),
    path("<int:pk>/", reports.report_detail, name="detail"),
    re_path(r"^(?P<pk>[0-9]+)/report\.(?P<fmt>pdf|xlsx)$", reports.report_file, name="file"),
    path("<int:pk>/<str:action>/", reports.report_action, name="action"),
    # The assessment of bodies (考核评议)
    path("assessments/", assessments.assessment_list, name="assessments"),
    path("assessments/new/", assessments.assessment_compute, name="assessment_compute"),
    path("assessments/schemes/", assessments.scheme_list, name="schemes"),
    path("assessments/schemes/new/", assessments.scheme_create, name="scheme_create"),
    path("assessments/schemes/<int:pk>/", assessments.scheme_detail, name="scheme_detail"),
    path("assessments/schemes/<int:pk>/<str:action>/", assessments.scheme_action, name="scheme_action"),
    path("assessments/<int:pk>/", assessments.assessment_detail, name="assessment_detail"),
    path("assessments/<int:pk>/export.xlsx", assessments.assessment_export, name="assessment_export"),
    path("assessments/<int:pk>/bodies/<int:body_pk>/", assessments.assessment_score, name="assessment_score"),
    path("assessments/<int:pk>/<str:action>/", assessments.assessment_action, name="assessment_action"),
]
