"""Rule: a portal template shows no words outside translation tags.

Everything a reader sees (text, and the attributes read aloud or shown: aria-label, title, alt,
placeholder) must come from {% translate %} / {% blocktranslate %} or a variable; what is not a
word (numbers, punctuation, symbols) and the product's name may stand as they are. The tests at
the end prove the rule finds what it must.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The portal's template folders the rule holds for.
PORTAL_TEMPLATE_DIRS = [
    "customerinfo/templates",
    "customerinfo/core/templates",
    "customerinfo/core/accounts/templates",
    "tenants/templates",
    "billing/templates/billing",
    "crm_sync/templates/crm_sync",
    "signup/templates/signup/portal",
]

#: Folders whose translation is still under way: each is expected to break the rule, strictly,
#: so the day it is done the test says so and the folder must be taken off this list.
NOT_TRANSLATED_YET: dict[str, str] = {}

#: Names, not words to translate.
PROPER_NAMES = {"CustomerInfo"}

#: Attributes a reader sees or hears.
READ_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder"}

_TRANSLATED = re.compile(
    r"{%-?\s*blocktrans(?:late)?\b.*?%}.*?{%-?\s*endblocktrans(?:late)?\s*-?%}"
    r"|{%-?\s*trans(?:late)?\s.*?%}",
    re.DOTALL,
)
# Comments, and blocks that fill in a CSS class (``{% block main_class %}wide{% endblock %}``).
_COMMENT = re.compile(
    r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}"
    r"|{%\s*block\s+\w+_class\s*%}.*?{%\s*endblock\s*(?:\w+_class\s*)?%}",
    re.DOTALL,
)
_TEMPLATE_CODE = re.compile(r"{%.*?%}|{{.*?}}", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]{2,}")


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._hidden_depth += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self._check(data)

    def _check(self, text: str) -> None:
        words = [word for word in _WORD.findall(text) if word not in PROPER_NAMES]
        if words:
            self.found.append(" ".join(text.split()))


def untranslated(source: str) -> list[str]:
    """The pieces of visible text in a template that are outside translation tags."""
    source = _COMMENT.sub("", source)
    source = _TRANSLATED.sub(" 0 ", source)
    source = _TEMPLATE_CODE.sub(" 0 ", source)
    parser = _VisibleText()
    parser.feed(source)
    parser.close()
    return parser.found


def _templates(folder: str) -> list[Path]:
    return sorted(
        path
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".html", ".txt"} and path.is_file()
    )


def _folder_case(folder: str) -> object:
    if folder in NOT_TRANSLATED_YET:
        return pytest.param(
            folder, marks=pytest.mark.xfail(strict=True, reason=NOT_TRANSLATED_YET[folder])
        )
    return folder


@pytest.mark.parametrize("folder", [_folder_case(folder) for folder in PORTAL_TEMPLATE_DIRS])
def test_portal_templates_show_no_untranslated_words(folder: str) -> None:
    templates = _templates(folder)
    assert templates, f"no templates under {folder}"
    found = {
        str(path.relative_to(ROOT)): pieces
        for path in templates
        if (pieces := untranslated(path.read_text()))
    }
    assert not found, f"wrap these in translate tags: {found}"


# --- the rule finds what it must -----------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "<h1>Team</h1>",
        "<p>{% translate 'Hello' %} world</p>",
        '<div aria-label="Team table"></div>',
        '<img src="x.png" alt="Logo">',
        "{% blocktranslate %}Kept{% endblocktranslate %} and not kept",
        "Hello{# a comment #}",
        "<button>Ça marche</button>",
    ],
)
def test_the_rule_finds_words_outside_translate_tags(source: str) -> None:
    assert untranslated(source)


@pytest.mark.parametrize(
    "source",
    [
        "<h1>{% translate 'Team' %}</h1>",
        "<div aria-label=\"{% translate 'Team table' %}\"></div>",
        "{% blocktranslate trimmed with n=count %}{{ n }} sign-ups{% endblocktranslate %}",
        "<td>{{ member.email }}</td><td>12 — 3,5 % · 1/2</td>",
        "<p>{# Only a comment for developers #}</p>",
        "{% block main_class %}wide{% endblock %}",
        "{% comment %}Notes here{% endcomment %}",
        "<script src='x.js'>ignored words</script>",
        "<title>{% translate 'Sign in' %} — CustomerInfo</title>",
        '<a href="/billing/" class="button small">{{ label }}</a>',
    ],
)
def test_the_rule_lets_translated_text_and_non_words_be(source: str) -> None:
    assert untranslated(source) == []
