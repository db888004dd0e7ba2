from django.urls import path

from .views import guides, imports, registry, standards

app_name = "registry"

urlpatterns = [
    path("bodies/", registry.body_list, name="body_list"),
    path("bodies/new/", registry.body_create, name="body_create"),
    path("bodies/<int:pk>/", registry.body_detail, name="body_detail"),
    path("bodies/<int:pk>/edit/", registry.body_edit, name="body_edit"),
    path("inspectors/", registry.inspector_list, name="inspector_list"),
    path("inspectors/new/", registry.inspector_create, name="inspector_create"),
    path("inspectors/<int:pk>/", registry.inspector_detail, name="inspector_detail"),
    path("inspectors/<int:pk>/edit/", registry.inspector_edit, name="inspector_edit"),
    path("inspectors/<int:pk>/photo/", registry.inspector_photo, name="inspector_photo"),
    path("inspectors/<int:pk>/certificates/new/", registry.certificate_create, name="certificate_create"),
    path("certificates/<int:pk>/edit/", registry.certificate_edit, name="certificate_edit"),
    path("certificates/<int:pk>/status/", registry.certificate_status, name="certificate_status"),
    path("enterprises/", registry.enterprise_list, name="enterprise_list"),
    path("enterprises/new/", registry.enterprise_create, name="enterprise_create"),
    path("enterprises/mine/", registry.enterprise_detail_own, name="enterprise_detail_own"),
    path("enterprises/<int:pk>/", registry.enterprise_detail, name="enterprise_detail"),
    path("enterprises/<int:pk>/edit/", registry.enterprise_edit, name="enterprise_edit"),
    path("enterprises/<int:pk>/contacts/new/", registry.contact_create, name="contact_create"),
    path("contacts/<int:pk>/remove/", registry.contact_remove, name="contact_remove"),
    path("items/", registry.item_list, name="item_list"),
    path("items/new/", registry.item_create, name="item_create"),
    path("items/<int:pk>/", registry.item_detail, name="item_detail"),
    path("items/<int:pk>/edit/", registry.item_edit, name="item_edit"),
    path("standards/", standards.standard_list, name="standard_list"),
    path("standards/import/", standards.standard_import, name="standard_import"),
    path("standards/<int:pk>/", standards.standard_detail, name="standard_detail"),
    path("qualification/", registry.qualification_check, name="qualification_check"),
    path("guides/", guides.guide_list, name="guide_list"),
    path("guides/new/", guides.guide_create, name="guide_create"),
    path("guides/<int:pk>/", guides.guide_detail, name="guide_detail"),
    path("guides/<int:pk>/edit/", guides.guide_edit, name="guide_edit"),
    path("guides/<int:pk>/publish/", guides.guide_publish, name="guide_publish"),
    path("guides/<int:pk>/unpublish/", guides.guide_unpublish, name="guide_unpublish"),
]

# Bulk import pages (F-02, F-03), under /registry/import/ (namespace 'registry_import'; the project's urls.py mounts them).
import_urlpatterns = [
    path("enterprises/", imports.enterprise_import, name="enterprises"),
    path("enterprises/template.<str:fmt>", imports.enterprise_template, name="enterprises_template"),
    path("inspectors/", imports.inspector_import, name="inspectors"),
    path("inspectors/template.<str:fmt>", imports.inspector_template, name="inspectors_template"),
    path("jobs/<int:pk>/", imports.import_job, name="job"),
    path("jobs/<int:pk>/problems.csv", imports.import_job_problems, name="job_problems_csv"),
    path("problems/<str:key>.csv", imports.problems_csv, name="problems_csv"),
]
