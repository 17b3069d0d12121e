from django.urls import path

from api import profile_views
from api.main import api, docs

urlpatterns = [
    path("api/v1/docs", docs, name="api_docs"),
    path("api/v1/", api.urls),
    path("profile/webhooks/", profile_views.create_webhook, name="create_webhook"),
    path("profile/webhooks/<int:webhook_id>/delete/", profile_views.delete_webhook,
         name="delete_webhook"),
]
