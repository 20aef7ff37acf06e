"""Every table of the portal and the public site sits in a scrolling region, so a wide table
scrolls inside itself at phone width instead of pushing the whole page sideways."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Pages of the built-in fake Stripe and the CRM sink stand in for outside services under
#: `make run`; they are not the product's pages.
OUTSIDE = ("billing/stripe_fake/", "crm_sync/templates/crm_sync/demo_sink")
#: Emails are read in mail clients, which neither run the portal's CSS nor scroll regions.
EMAILS = re.compile(r"/templates/[^/]+/email/")
_WRAPPER = re.compile(r'<div class="wide-table" tabindex="0" role="region" aria-label="[^"]+">\s*$')


def _templates() -> list[Path]:
    found = []
    for path in ROOT.glob("*/**/templates/**/*.html"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "node_modules/", *OUTSIDE)) or EMAILS.search(relative):
            continue
        found.append(path)
    return found


def test_templates_are_found() -> None:
    assert len(_templates()) > 30


def test_every_table_is_in_a_scrolling_region() -> None:
    unwrapped = []
    for path in _templates():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "<table" not in line:
                continue
            before = next((text for text in reversed(lines[:number]) if text.strip()), "")
            if not _WRAPPER.search(before):
                unwrapped.append(f"{path.relative_to(ROOT)}:{number + 1}")
    assert unwrapped == []
