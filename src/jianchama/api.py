"""The platform's API for the enforcement bodies' own systems (F-29), mounted at /api/v1/ by jianchama/urls.py.

Each app that offers operations adds its own ``api.py`` router here, in one place. The docs page is served
with django-ninja's own Swagger UI assets from STATIC (``ninja`` is in INSTALLED_APPS, so no CDN is used),
and the Swagger UI's online validator is switched off so the page fetches nothing from outside.
"""

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from jianchama.complaints.api import router as complaints_router
from jianchama.inspections.api import router as inspections_router
from jianchama.integrations import problems
from jianchama.integrations.api import router as integrations_router
from jianchama.integrations.auth import ClientBearer

api = NinjaAPI(
    title="检查码平台接口",
    version="1.0.0",
    description=("供各执法主体自有执法系统对接使用的接口（F-29）。/api/v1/ 一经发布即冻结，只做增量变更。"),
    urls_namespace="api-v1",
    docs=Swagger(settings={"validatorUrl": None}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=ClientBearer(),
)
problems.install(api)
api.add_router("/", inspections_router)
api.add_router("/", integrations_router)
api.add_router("/", complaints_router)
