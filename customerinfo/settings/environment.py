"""The environment reader shared by every settings module.

``FileAwareEnv`` reads ``X`` from the file named by ``X_FILE`` when that variable is set, which is
how Kubernetes secret volumes hand secrets to the process.
"""

import os
import sys
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

#: The one command build mode may run: the Dockerfile's ``manage.py collectstatic``.
BUILD_COMMAND = ("manage.py", "collectstatic")


def running_command(argv: list[str]) -> tuple[str, str]:
    """The program and, for manage.py, its subcommand: ``("manage.py", "collectstatic")``."""
    program = Path(argv[0]).name if argv else ""
    return program, argv[1] if program == "manage.py" and len(argv) > 1 else ""


#: ``CUSTOMERINFO_BUILD=1`` is set on the image's collectstatic step alone. The image is built
#: without runtime secrets, so in build mode required secrets take their development defaults;
#: nothing is signed, decrypted or connected to while static files are collected.
IS_BUILD: bool = env.bool("CUSTOMERINFO_BUILD", default=False)
# Refused for anything but that command, so no server, worker or migration can ever start
# without its secrets by setting this switch: the relaxation is tied to the process, not the image.
if IS_BUILD and running_command(sys.argv) != BUILD_COMMAND:
    raise environ.ImproperlyConfigured(
        "CUSTOMERINFO_BUILD=1 only runs `manage.py collectstatic` while the image is built; "
        f"unset it to run {' '.join(running_command(sys.argv)).strip() or 'anything else'}"
    )

#: Production must be given its secrets, except while the image is built.
SECRETS_REQUIRED = IS_PRODUCTION and not IS_BUILD


def required(name: str, *, development_default: str) -> str:
    """A setting production must be given; other environments get a local default.

    A missing value in production raises ImproperlyConfigured naming the variable, so the pod
    stops at start-up with the reason in its log instead of running half-configured.
    """
    if SECRETS_REQUIRED:
        value: str = env.str(name)
        return value
    default_value: str = env.str(name, default=development_default)
    return default_value
