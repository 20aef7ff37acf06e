"""Pages of people on a shop's host: the team, invitations, the sign-in code, two-step set-up.

Invitations and two-step set-up live under /password/ and the code under /login/: a suspended
shop's people may still get in and secure their accounts (billing.middleware lets these by).
"""

from django.urls import path

from .views import invitations, language, signin, team, two_factor

urlpatterns = [
    path("team/", team.team_list, name="portal-team"),
    path("team/<int:pk>/", team.member_update, name="portal-member-update"),
    path("language/", language.language_set, name="language-set"),
    path("login/code/", signin.signin_code, name="login-code"),
    path("password/two-factor/", two_factor.two_factor_page, name="two-factor"),
    path(
        "password/invitation/<uidb64>/<token>/",
        invitations.invitation_accept,
        name="invitation-accept",
    ),
]
