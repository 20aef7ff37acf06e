"""Settings, read from the environment only.

One module per topic; each reads what it needs from ``env`` and the order below matters only
where a later topic builds on an earlier one (security needs DEBUG from base).
"""

import django_stubs_ext

from .base import *  # noqa: F403
from .billing import *  # noqa: F403
from .celery import *  # noqa: F403
from .crm import *  # noqa: F403
from .exports import *  # noqa: F403
from .logging import *  # noqa: F403
from .media import *  # noqa: F403
from .operations import *  # noqa: F403
from .people import *  # noqa: F403
from .probes import *  # noqa: F403
from .security import *  # noqa: F403
from .tenancy import *  # noqa: F403

# Lets admin and manager classes be subscripted (ModelAdmin[User]) for the type checker.
django_stubs_ext.monkeypatch()
