"""The translation catalogs: complete in French and Spanish, and each committed .mo compiled
from its .po as it stands.

The compiled .mo files are committed (README, "Translations"): the image build and `make run`
then need no gettext tools. This test is what keeps them from going stale.
"""

import gettext
import re
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("fr", "es")
CATALOGS = sorted(
    path
    for path in ROOT.glob("*/**/locale/*/LC_MESSAGES/django.po")
    if ".venv" not in path.parts and path.parent.parent.name in LANGUAGES
)
_PLACEHOLDER = re.compile(r"%\([^)]+\)[sdif]|{\w*}")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_app_with_portal_text_has_catalogs() -> None:
    folders = {_name(path).split("/locale/")[0] for path in CATALOGS}
    assert {"customerinfo", "tenants"} <= folders
    for folder in folders:
        for language in LANGUAGES:
            assert (ROOT / folder / "locale" / language / "LC_MESSAGES" / "django.po").exists()


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_the_catalog_is_complete(path: Path) -> None:
    catalog = polib.pofile(str(path))
    assert not catalog.metadata_is_fuzzy, "the header is marked fuzzy"
    fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
    assert not fuzzy, f"fuzzy (check, then remove the flag): {fuzzy}"
    missing = [entry.msgid for entry in catalog.untranslated_entries()]
    assert not missing, f"untranslated: {missing}"


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_translations_keep_the_placeholders(path: Path) -> None:
    wrong = []
    for entry in polib.pofile(str(path)).translated_entries():
        if entry.msgid_plural:
            # A form may leave the count out ("un magasin"), but name nothing the English lacks.
            known = set(_PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
            texts = entry.msgstr_plural.values()
            wrong += [text for text in texts if not set(_PLACEHOLDER.findall(text)) <= known]
        elif sorted(_PLACEHOLDER.findall(entry.msgstr)) != sorted(
            _PLACEHOLDER.findall(entry.msgid)
        ):
            wrong.append(entry.msgstr)
    assert not wrong, f"placeholders differ from the English: {wrong}"


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_the_committed_mo_is_compiled_from_the_po(path: Path) -> None:
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"run compilemessages: {_name(compiled)} is missing"
    with compiled.open("rb") as file:
        catalog = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    expected: dict[object, str] = {}
    for entry in polib.pofile(str(path)).translated_entries():
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            for index, text in entry.msgstr_plural.items():
                expected[(key, int(index))] = text
        else:
            expected[key] = entry.msgstr
    found = {key: value for key, value in catalog.items() if key != ""}
    assert found == expected, f"{_name(compiled)} is stale: run compilemessages"
