from django.urls import path

from .views import documents, field, tasks

app_name = "inspections"

urlpatterns = [
    path("", tasks.task_list, name="task_list"),
    path("new/", tasks.task_create, name="task_create"),
    path("new/enterprises/", tasks.enterprise_search, name="enterprise_search"),
    path("new/enterprise/", tasks.enterprise_pick, name="enterprise_pick"),
    path("today/", tasks.my_today, name="my_today"),
    path("field/", field.app, name="field_app"),
    path("field/sw.js", field.service_worker, name="field_sw"),
    path("field/manifest.webmanifest", field.manifest, name="field_manifest"),
    path("field/visits.json", field.visits_json, name="field_visits"),
    path("field/codes.json", field.codes_json, name="field_codes"),
    path("field/sync/", field.sync, name="field_sync"),
    path("frequency/", tasks.frequency_report, name="frequency_report"),
    path("triggers/", tasks.trigger_report, name="trigger_report"),
    path("evidence/<int:pk>/", tasks.evidence_file, name="evidence_file"),
    path("<int:pk>/", tasks.task_detail, name="task_detail"),
    path("<int:pk>/documents/", documents.task_documents, name="task_documents"),
    path("<int:pk>/documents/notice.pdf", documents.notice_file, name="notice_file"),
    path("<int:pk>/documents/<int:document_pk>/", documents.document_file, name="document_file"),
    path("<int:pk>/code/", tasks.show_code, name="show_code"),
    path("<int:pk>/record/", tasks.record_result, name="record_result"),
    path("<int:pk>/submit/", tasks.task_submit, name="task_submit"),
    path("<int:pk>/join/", tasks.task_join, name="task_join"),
    path("<int:pk>/mode/", tasks.task_set_mode, name="task_set_mode"),
    path("<int:pk>/statements/<int:statement_pk>/reply/", tasks.statement_reply, name="statement_reply"),
    path("<int:pk>/<slug:action>/", tasks.task_action, name="task_action"),
]
