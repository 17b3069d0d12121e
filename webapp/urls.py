from django.contrib import admin
from django.urls import include, path

from generation.metrics import metrics
from webapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("generation.urls")),
    path("", include("storyboards.urls")),
]

handler500 = "webapp.unavailable.server_error"
