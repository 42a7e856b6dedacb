"""Top-level URLs: web pages per app, the admin, the API under /api/v1/, docs, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from incidents.survey_views import survey_page

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("survey/<str:token>/", survey_page, name="survey"),
    path("admin/", admin.site.urls),
    path("incidents/", include("incidents.urls")),
    path("changes/", include("changes.urls")),
    path("releases/", include("releases.urls")),
    path("metrics/", include("metrics.urls")),
    path("automation/", include("automation.urls")),
    path("desk/", include("desk.urls")),
    path("api/v1/", include("opsdesk.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler403 = "opsdesk.views.permission_denied"
handler500 = "opsdesk.views.server_error"
