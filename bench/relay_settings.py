"""Project settings whose Celery beat schedules the outbox relay alone.

bench/submissions.py runs a worker and beat for its shop with a CRM destination, to measure
what the web pays while deliveries go out. A deployment's beat also schedules sweeps of every
shop (alerts every ten minutes, mail and billing each hour); run on the bench's two cores,
beside 1,000 shops, they fell in the middle of some measured runs and not others, and their
database backends were counted with the web's. Deployed, they run on the worker pods.
"""

from customerinfo.settings import *  # noqa: F403
from customerinfo.settings import CELERY_BEAT_SCHEDULE

CELERY_BEAT_SCHEDULE = {"crm-relay": CELERY_BEAT_SCHEDULE["crm-relay"]}
