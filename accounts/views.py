from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.filters import TeamFilterSet
from accounts.forms import APITokenForm, TeamForm
from accounts.models import APIToken, Team
from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
)


class TeamListView(ObjectListView):
    queryset = Team.objects.select_related("lead").prefetch_related("members")
    model = Team
    filterset_class = TeamFilterSet
    columns = [
        Column("name", link=True),
        Column("email"),
        Column("lead", sort="lead__username"),
        Column("members", sortable=False),
    ]


class TeamDetailView(ObjectDetailView):
    model = Team
    queryset = Team.objects.select_related("lead").prefetch_related("members")
    fields = ["name", "email", "description", "lead", "members"]


class TeamEditView(ObjectEditView):
    model = Team
    form_class = TeamForm

    def save_form(self, form):
        team = form.save(commit=False)
        return services.save_team(team, members=form.cleaned_data["members"])


class TeamDeleteView(ObjectDeleteView):
    model = Team


class TeamHistoryView(ObjectHistoryView):
    model = Team


def _own_tokens(user):
    return APIToken.objects.filter(user=user).order_by("-created_at")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """The signed-in user's API tokens: create one (its key is shown once, here) or revoke one."""
    form = APITokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        token, new_key = services.create_api_token(
            request.user,
            form.cleaned_data["name"],
            write_enabled=form.cleaned_data["write_enabled"],
            expires_days=form.cleaned_data["expires_days"],
        )
        messages.success(request, f"Created token “{token.name}”. Copy the key now: it is not shown again.")
        form = APITokenForm()
    context = {"form": bootstrap_form(form), "tokens": _own_tokens(request.user), "new_key": new_key}
    response = render(request, "accounts/token_list.html", context)
    response["Cache-Control"] = "no-store"  # the page may carry a plain key
    return response


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(APIToken, pk=pk, user=request.user)
    services.revoke_api_token(token)
    messages.success(request, f"Revoked token “{token.name}”.")
    return redirect("accounts:token_list")
