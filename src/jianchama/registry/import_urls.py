"""Bulk import pages (F-02, F-03), mounted at registry/import/."""

from django.urls import path

from . import import_views

app_name = "registry_import"

urlpatterns = [
    path("enterprises/", import_views.enterprise_import, name="enterprises"),
    path("enterprises/template.<str:fmt>", import_views.enterprise_template, name="enterprises_template"),
    path("inspectors/", import_views.inspector_import, name="inspectors"),
    path("inspectors/template.<str:fmt>", import_views.inspector_template, name="inspectors_template"),
    path("jobs/<int:pk>/", import_views.import_job, name="job"),
    path("jobs/<int:pk>/problems.csv", import_views.import_job_problems, name="job_problems_csv"),
    path("problems/<str:key>.csv", import_views.problems_csv, name="problems_csv"),
]
