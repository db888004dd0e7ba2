from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("clients/", views.client_list, name="client_list"),
    path("clients/new/", views.client_create, name="client_create"),
    path("clients/<int:pk>/", views.client_detail, name="client_detail"),
    path("clients/<int:pk>/<str:action>/", views.client_action, name="client_action"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("deliveries/<int:pk>/resend/", views.delivery_resend, name="delivery_resend"),
]
