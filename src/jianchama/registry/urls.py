from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("bodies/", views.body_list, name="body_list"),
    path("bodies/<int:pk>/", views.body_detail, name="body_detail"),
    path("inspectors/", views.inspector_list, name="inspector_list"),
    path("enterprises/", views.enterprise_list, name="enterprise_list"),
    path("enterprises/mine/", views.enterprise_detail_own, name="enterprise_detail_own"),
    path("enterprises/<int:pk>/", views.enterprise_detail, name="enterprise_detail"),
    path("items/", views.item_list, name="item_list"),
]
