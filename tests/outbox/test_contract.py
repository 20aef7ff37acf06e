"""The outbox knows crm_sync by name only: the task it wakes and the tables it routes by.

It cannot import crm_sync (which sits above it), so these names are a contract; a rename on
either side fails here rather than in production.
"""

import os
import subprocess
import sys
from pathlib import Path

from crm_sync.models import Destination
from crm_sync.tasks import deliver
from outbox.services import _ROUTE_FILTER, DELIVER_TASK, ROUTED_SQL


def test_the_task_the_outbox_wakes_is_crm_syncs_sender() -> None:
    assert deliver.name == DELIVER_TASK


def test_the_tables_the_routing_reads_are_crm_syncs() -> None:
    forms = Destination.forms.through._meta.db_table
    locations = Destination.locations.through._meta.db_table
    assert Destination._meta.db_table in ROUTED_SQL
    assert f"FROM {forms} AS chosen" in _ROUTE_FILTER
    assert f"FROM {locations} AS chosen" in _ROUTE_FILTER


def test_a_process_that_only_set_django_up_knows_the_task_by_name() -> None:
    """The web server never imports crm_sync.tasks itself; Django's start-up must."""
    code = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        f"print(current_app.tasks[{DELIVER_TASK!r}].name)\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "customerinfo.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == DELIVER_TASK
