"""A person's portal language, kept on their account so it follows them between browsers."""

from django.conf import settings
from django.utils.translation import gettext as _

from customerinfo.core.errors import ServiceError

from ..models import User


def account_language_set(*, user: User, language: str) -> User:
    """Saves ``language`` ("" to follow the browser again) as ``user``'s own.

    Not audited: it changes how the portal reads to this one person, nothing the shop relies on.
    """
    if language and language not in dict(settings.LANGUAGES):
        raise ServiceError(
            "validation_failed",
            _("Unknown language."),
            fields={"language": [{"code": "invalid", "message": _("Choose a listed language.")}]},
        )
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
