from django.urls import path

from .views import documents, tasks

app_name = "inspections"

urlpatterns = [
    path("", tasks.task_list, name="task_list"),
    path("new/", tasks.task_create, name="task_create"),
    path("new/enterprises/", tasks.enterprise_search, name="enterprise_search"),
    path("new/enterprise/", tasks.enterprise_pick, name="enterprise_pick"),
    path("today/", tasks.my_today, name="my_today"),
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
