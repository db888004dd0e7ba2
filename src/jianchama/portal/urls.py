from django.urls import path, re_path

from . import complaint_views, contact_views, views

app_name = "portal"

urlpatterns = [
    # The code's URL as printed in the QR (upper-case for the QR's alphanumeric mode) and as typed. Looser
    # than the token's alphabet on purpose: a mistyped or altered code gets the forged warning, not a 404.
    re_path(r"^[cC]/(?P<token>[A-Za-z0-9]{1,200})$", views.scan, name="scan"),
    path("c/report/<str:key>/", views.report, name="report"),
    path("e/<str:uscc>/", views.enterprise_code, name="enterprise_code"),
    path("portal/", views.home, name="home"),
    path("portal/tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("portal/contacts/", contact_views.contacts, name="contacts"),
    path("portal/contacts/new/", contact_views.contact_request, name="contact_request"),
    path("portal/contacts/confirm/", contact_views.contact_confirm, name="contact_confirm"),
    path("portal/contacts/<int:pk>/remove/", contact_views.contact_remove, name="contact_remove"),
    path("portal/complaints/", complaint_views.complaint_list, name="complaint_list"),
    path("portal/complaints/new/", complaint_views.complaint_create, name="complaint_create"),
    path("portal/complaints/<int:pk>/", complaint_views.complaint_detail, name="complaint_detail"),
]
