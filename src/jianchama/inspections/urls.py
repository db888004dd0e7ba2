from django.urls import path

from . import views

app_name = "inspections"

urlpatterns = [
    path("", views.task_list, name="task_list"),
    path("new/", views.task_create, name="task_create"),
    path("today/", views.my_today, name="my_today"),
    path("frequency/", views.frequency_report, name="frequency_report"),
    path("triggers/", views.trigger_report, name="trigger_report"),
    path("evidence/<int:pk>/", views.evidence_file, name="evidence_file"),
    path("<int:pk>/", views.task_detail, name="task_detail"),
    path("<int:pk>/code/", views.show_code, name="show_code"),
    path("<int:pk>/record/", views.record_result, name="record_result"),
    path("<int:pk>/submit/", views.task_submit, name="task_submit"),
    path("<int:pk>/join/", views.task_join, name="task_join"),
    path("<int:pk>/mode/", views.task_set_mode, name="task_set_mode"),
    path("<int:pk>/statements/<int:statement_pk>/reply/", views.statement_reply, name="statement_reply"),
    path("<int:pk>/<slug:action>/", views.task_action, name="task_action"),
]
