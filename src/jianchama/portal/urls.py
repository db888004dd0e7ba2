from django.urls import path, re_path

from .views import complaints, contacts, portal, surveys

app_name = "portal"

urlpatterns = [
    path("c/report/<str:key>/", portal.report, name="report"),
    path("c/result/<str:key>/", portal.scan_result, name="scan_result"),
    # The code's URL as printed in the QR (upper-case for the QR's alphanumeric mode) and as typed. Looser
    # than the token's alphabet on purpose: a mistyped, altered or mangled code (a trailing slash, `=`
    # padding, any length) gets the scan page's forged warning and its report link, not a 404.
    re_path(r"^[cC]/(?P<token>[^/]*/?)$", portal.scan, name="scan"),
    path("inspector-photos/<str:key>/", portal.inspector_photo, name="inspector_photo"),
    path("e/<str:uscc>/", portal.enterprise_code, name="enterprise_code"),
    path("portal/", portal.home, name="home"),
    path("portal/tasks/<int:pk>/", portal.task_detail, name="task_detail"),
    path("portal/contacts/", contacts.contacts, name="contacts"),
    path("portal/contacts/new/", contacts.contact_request, name="contact_request"),
    path("portal/contacts/confirm/", contacts.contact_confirm, name="contact_confirm"),
    path("portal/contacts/<int:pk>/remove/", contacts.contact_remove, name="contact_remove"),
    path("portal/surveys/", surveys.survey_list, name="survey_list"),
    path("portal/surveys/<int:pk>/", surveys.survey_answer, name="survey_answer"),
    path("portal/complaints/", complaints.complaint_list, name="complaint_list"),
    path("portal/complaints/new/", complaints.complaint_create, name="complaint_create"),
    path("portal/report-no-code/", complaints.report_no_code, name="report_no_code"),
    path("portal/complaints/<int:pk>/", complaints.complaint_detail, name="complaint_detail"),
]
