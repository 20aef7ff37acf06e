"""Writes of CRM sync, one module per sub-domain; keyword-only.

- ``destinations``: create, update, test, pause, resume, webhook secret rotation;
- ``sending``: a worker takes due deliveries, calls the CRM outside any transaction, and
  writes the answers to the rows it still holds (the lease that makes this safe: ``claims``);
- ``relay``: due and orphaned deliveries of every tenant handed to the workers, several
  destinations a task (``groups`` sends such a task);
- ``replay``: dead and held deliveries back to the outbox, throttled and spread out;
- ``key_rotation``: credentials re-encrypted under the newest key, in resumable batches.

The database is the record and Celery messages are only hints. A sign-up's deliveries are
written by the same statement as the sign-up (``outbox.services.OUTBOX_CTE``), due and without
a lease; the relay hands out every due row that has no lease or whose lease has run out, so a
lost message, a flushed Redis or a killed worker delays a delivery but never loses it.

Callers import from here (``from crm_sync import services``); the modules are how the code is
kept readable, not part of the interface.
"""

from .claims import SendReport
from .destinations import (
    SECRET_ROTATION_GRACE,
    SYSTEM,
    destination_create,
    destination_pause,
    destination_provider,
    destination_resume,
    destination_scope,
    destination_test,
    destination_update,
    destination_view,
    webhook_secret_rotate,
)
from .groups import deliveries_send_groups
from .relay import RELAY_BATCH, RELAY_CHUNK, RELAY_TASK_DESTINATIONS, deliveries_relay
from .replay import REPLAY_SHARE, REPLAY_THROTTLE_SECONDS, deliveries_replay
from .sending import MAX_RATE_WAIT_SECONDS, deliveries_send

__all__ = [
    "MAX_RATE_WAIT_SECONDS",
    "RELAY_BATCH",
    "RELAY_CHUNK",
    "RELAY_TASK_DESTINATIONS",
    "REPLAY_SHARE",
    "REPLAY_THROTTLE_SECONDS",
    "SECRET_ROTATION_GRACE",
    "SYSTEM",
    "SendReport",
    "deliveries_relay",
    "deliveries_replay",
    "deliveries_send",
    "deliveries_send_groups",
    "destination_create",
    "destination_pause",
    "destination_provider",
    "destination_resume",
    "destination_scope",
    "destination_test",
    "destination_update",
    "destination_view",
    "webhook_secret_rotate",
]
