"""The environment reader shared by every settings module.

``FileAwareEnv`` reads ``X`` from the file named by ``X_FILE`` when that variable is set, which is
how Kubernetes secret volumes hand secrets to the process.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.FileAwareEnv()

#: ``production`` turns every required secret into a hard requirement; ``development`` and
#: ``test`` fall back to local defaults so a fresh clone runs with no configuration.
# pytest sets PYTEST_VERSION while it runs, so the suite gets test settings without a wrapper.
ENVIRONMENT: str = env.str(
    "CUSTOMERINFO_ENV", default="test" if os.environ.get("PYTEST_VERSION") else "development"
)
if ENVIRONMENT not in {"development", "test", "production"}:
    raise environ.ImproperlyConfigured(
        f"CUSTOMERINFO_ENV must be development, test or production, not {ENVIRONMENT!r}"
    )
IS_PRODUCTION = ENVIRONMENT == "production"


def required(name: str, *, development_default: str) -> str:
    """A setting production must be given; other environments get a local default.

    A missing value in production raises ImproperlyConfigured naming the variable, so the pod
    stops at start-up with the reason in its log instead of running half-configured.
    """
    if IS_PRODUCTION:
        value: str = env.str(name)
        return value
    default_value: str = env.str(name, default=development_default)
    return default_value
