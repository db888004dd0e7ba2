from django.urls import path

from . import guide_views, views

app_name = "registry"

urlpatterns = [
    path("bodies/", views.body_list, name="body_list"),
    path("bodies/new/", views.body_create, name="body_create"),
    path("bodies/<int:pk>/", views.body_detail, name="body_detail"),
    path("bodies/<int:pk>/edit/", views.body_edit, name="body_edit"),
    path("inspectors/", views.inspector_list, name="inspector_list"),
    path("inspectors/new/", views.inspector_create, name="inspector_create"),
    path("inspectors/<int:pk>/", views.inspector_detail, name="inspector_detail"),
    path("inspectors/<int:pk>/edit/", views.inspector_edit, name="inspector_edit"),
    path("inspectors/<int:pk>/photo/", views.inspector_photo, name="inspector_photo"),
    path("inspectors/<int:pk>/certificates/new/", views.certificate_create, name="certificate_create"),
    path("certificates/<int:pk>/edit/", views.certificate_edit, name="certificate_edit"),
    path("certificates/<int:pk>/status/", views.certificate_status, name="certificate_status"),
    path("enterprises/", views.enterprise_list, name="enterprise_list"),
    path("enterprises/new/", views.enterprise_create, name="enterprise_create"),
    path("enterprises/mine/", views.enterprise_detail_own, name="enterprise_detail_own"),
    path("enterprises/<int:pk>/", views.enterprise_detail, name="enterprise_detail"),
    path("enterprises/<int:pk>/edit/", views.enterprise_edit, name="enterprise_edit"),
    path("enterprises/<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/remove/", views.contact_remove, name="contact_remove"),
    path("items/", views.item_list, name="item_list"),
    path("items/new/", views.item_create, name="item_create"),
    path("items/<int:pk>/", views.item_detail, name="item_detail"),
    path("items/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("qualification/", views.qualification_check, name="qualification_check"),
    path("guides/", guide_views.guide_list, name="guide_list"),
    path("guides/new/", guide_views.guide_create, name="guide_create"),
    path("guides/<int:pk>/", guide_views.guide_detail, name="guide_detail"),
    path("guides/<int:pk>/edit/", guide_views.guide_edit, name="guide_edit"),
    path("guides/<int:pk>/publish/", guide_views.guide_publish, name="guide_publish"),
    path("guides/<int:pk>/unpublish/", guide_views.guide_unpublish, name="guide_unpublish"),
]
