"""SECRET_KEY rotation: what was signed under the old key keeps working while it is a fallback.

The operator's procedure (docs/operations.md, "Rotating secrets"): the new key becomes
SECRET_KEY and the old one moves to SECRET_KEY_FALLBACKS; once sessions and links made under it
have expired, the fallback is removed and they stop working.
"""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import Settings

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.accounts.tokens import invitation_tokens
from tenants.models import Tenant

NEW_KEY = "n" * 50 + "-the-new-secret-key"


@pytest.fixture
def old_key(settings: Settings) -> str:
    key: str = settings.SECRET_KEY
    return key


def rotate(settings: Settings, *, old_key: str) -> None:
    """Step 1 of the procedure: the new key signs, the old one is still accepted."""
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [old_key]


def drop_fallbacks(settings: Settings) -> None:
    """Step 2, once what the old key signed has expired."""
    settings.SECRET_KEY_FALLBACKS = []


def portal_home() -> str:
    return reverse("portal-home", urlconf="customerinfo.urls_tenants")


def test_a_signed_in_owner_stays_signed_in_while_the_key_is_rotated(
    owner_client: Client, settings: Settings, old_key: str
) -> None:
    assert owner_client.get(portal_home()).status_code == 200
    rotate(settings, old_key=old_key)
    assert owner_client.get(portal_home()).status_code == 200
    drop_fallbacks(settings)
    # Django re-signed the session's auth hash under the new key on the previous request, so
    # a session that was used during the overlap survives the end of it.
    assert owner_client.get(portal_home()).status_code == 200


def test_a_session_not_used_during_the_overlap_ends_with_the_old_key(
    owner_client: Client, settings: Settings, old_key: str
) -> None:
    assert owner_client.get(portal_home()).status_code == 200
    rotate(settings, old_key=old_key)
    drop_fallbacks(settings)
    response = owner_client.get(portal_home())
    assert response.status_code == 302
    assert reverse("login", urlconf="customerinfo.urls_tenants") in response["Location"]


def test_a_password_reset_link_works_during_the_overlap_only(
    alice_tenant: Tenant, alice: User, settings: Settings, old_key: str
) -> None:
    with tenant_context(alice_tenant):
        token = default_token_generator.make_token(alice)
        rotate(settings, old_key=old_key)
        assert default_token_generator.check_token(alice, token)
        drop_fallbacks(settings)
        assert not default_token_generator.check_token(alice, token)
        # Links made after the rotation are signed with the new key.
        assert default_token_generator.check_token(alice, default_token_generator.make_token(alice))


def test_an_invitation_link_works_during_the_overlap_only(
    alice_tenant: Tenant, settings: Settings, old_key: str
) -> None:
    with tenant_context(alice_tenant):
        invited = User.objects.create_user(
            "dana@alice.example", None, full_name="Dana", role=Role.STAFF, invited_at=timezone.now()
        )
        token = invitation_tokens.make_token(invited)
        rotate(settings, old_key=old_key)
        assert invitation_tokens.check_token(invited, token)
        drop_fallbacks(settings)
        assert not invitation_tokens.check_token(invited, token)


def test_a_signed_value_reads_back_during_the_overlap_only(
    settings: Settings, old_key: str
) -> None:
    # The shape of the first-visit link a self-serve owner is mailed (billing.services.signups).
    signed = signing.dumps({"tenant": 7}, salt="rotation-test")
    rotate(settings, old_key=old_key)
    assert signing.loads(signed, salt="rotation-test") == {"tenant": 7}
    drop_fallbacks(settings)
    with pytest.raises(signing.BadSignature):
        signing.loads(signed, salt="rotation-test")
