from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views

app_name = "accounts"

team_patterns = [
    path("", views.TeamListView.as_view(), name="team_list"),
    path("add/", views.TeamEditView.as_view(), name="team_add"),
    path("<int:pk>/", views.TeamDetailView.as_view(), name="team_detail"),
    path("<int:pk>/edit/", views.TeamEditView.as_view(), name="team_edit"),
    path("<int:pk>/delete/", views.TeamDeleteView.as_view(), name="team_delete"),
    path("<int:pk>/history/", views.TeamHistoryView.as_view(), name="team_history"),
]

urlpatterns = [
    path("teams/", include(team_patterns)),
    path("account/tokens/", views.token_list, name="token_list"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]

# Sign-in and sign-out live outside the namespace, under Django's conventional names.
auth_urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
