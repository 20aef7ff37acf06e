"""People: invitations, sign-in throttling (django-axes), two-factor codes (django-otp), and
``make run``'s local mailbox.

Imported after ``crm`` (settings/__init__ goes in alphabetical order): the mailbox replaces the
mail backend that ``crm`` reads from EMAIL_URL.
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .environment import IS_PRODUCTION, env

#: How long an invitation link works; re-sending makes a new one and kills the old.
INVITATION_TIMEOUT: timedelta = timedelta(days=env.int("INVITATION_DAYS", default=7))

# --- sign-in throttling -------------------------------------------------------------------------
# Axes keeps its counts in the public schema, shared by every shop. Its account key is
# "<schema>:<email>" (customerinfo.core.accounts.throttling.signin_key), so alice@ at one shop
# never locks out alice@ at another; the address count is kept per shop as well
# (throttling.ShopAxesHandler).

#: Failed sign-ins that lock an account (on every address) for SIGNIN_COOL_OFF.
SIGNIN_FAILURES_PER_ACCOUNT: int = env.int("SIGNIN_FAILURES_PER_ACCOUNT", default=5)
#: Failed sign-ins from one address, at one shop, that lock that address out of every account
#: there: higher than an account's, because a shop's staff often share one public address.
SIGNIN_FAILURES_PER_ADDRESS: int = env.int("SIGNIN_FAILURES_PER_ADDRESS", default=20)
SIGNIN_COOL_OFF: timedelta = timedelta(minutes=env.int("SIGNIN_COOL_OFF_MINUTES", default=15))

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out account is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "customerinfo.core.accounts.throttling.ShopAxesHandler"
AXES_FAILURE_LIMIT = SIGNIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = SIGNIN_COOL_OFF
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "customerinfo.core.accounts.throttling.signin_key"
# The sign-in form's field (the user model's USERNAME_FIELD, axes' default, is "email").
AXES_USERNAME_FORM_FIELD = "username"
# The proxies we trust decide the address (TRUSTED_PROXIES), as for every other limit.
AXES_CLIENT_IP_CALLABLE = "customerinfo.core.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "customerinfo.core.accounts.throttling.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Only failures are kept: last_login says who signed in, and a row per sign-in in the shared
# public schema would grow for ever.
AXES_DISABLE_ACCESS_LOG = True
# Retrying during a lockout does not push its end further away: the page promises a time.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False

# --- two-factor codes ---------------------------------------------------------------------------
#: The issuer shown next to the code in the person's authenticator app.
OTP_TOTP_ISSUER = env.str("OTP_ISSUER", default="CustomerInfo")
#: How long the code step waits after a correct password before the person must start again.
TWO_FACTOR_PENDING: timedelta = timedelta(minutes=10)

# --- make run's mailbox -------------------------------------------------------------------------
#: ``make run`` turns this on: mail is kept in Redis and listed at /mail/ on the public host,
#: so a newcomer can follow invitation and password links without a mail server.
DEV_MAILBOX: bool = env.bool("DEV_MAILBOX", default=False)
if DEV_MAILBOX:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "DEV_MAILBOX shows every email on a public page: never in production"
        )
    EMAIL_BACKEND = "customerinfo.core.mailbox.MailboxBackend"
