"""The form builder page: a definition, even a half-edited one, and its errors -> the inputs shown.

Each input is named by its path in the definition (see builder.py) and carries the messages
``definition_validate`` reported at that path, so the template puts every error beside its input.
The preview beside the inputs is drawn by the tablet's own code (frontend/static/portal/).
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customerinfo.core.errors import FieldErrors

from ..definitions import (
    CHOICE_TYPES,
    FIELD_TYPES,
    LANGUAGES,
    MAX_IDLE_SECONDS,
    MIN_IDLE_SECONDS,
    STANDARD_TYPES,
)
from .labels import LANGUAGE_NAMES, TYPE_NAMES

#: What an empty colour input shows: the kiosk's own colours (kiosk.css).
DEFAULT_COLOURS = {
    "primary_color": "#0b5cad",
    "background_color": "#ffffff",
    "text_color": "#1b1f24",
}


@dataclass
class Input:
    name: str
    label: str
    value: object
    errors: list[str] = field(default_factory=list)


@dataclass
class Texts:
    """One text in every language: a fieldset of three inputs."""

    path: str
    legend: str
    inputs: list[Input]
    errors: list[str] = field(default_factory=list)
    multiline: bool = False


@dataclass
class OptionRow:
    index: int
    value: Input
    label: Texts


@dataclass
class FieldBlock:
    index: int
    type: str
    type_name: str
    key: Input
    required: Input
    label: Texts
    help: Texts
    options: list[OptionRow]
    is_choice: bool
    is_standard: bool
    is_email: bool
    is_first: bool
    is_last: bool
    #: The card is drawn open: it has a mistake, or the last edit was about it.
    opened: bool = False
    has_errors: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """What the closed card says the field is: its label in the first language given."""
        return next((str(i.value) for i in self.label.inputs if i.value), "")


@dataclass
class ConsentBlock:
    enabled: Input
    text: Texts
    #: SMS only.
    disclosure: Texts | None
    errors: list[str]


@dataclass
class Builder:
    languages: list[tuple[str, str, bool]]
    fields: list[FieldBlock]
    consents: dict[str, ConsentBlock]
    double_opt_in: Input
    texts: list[Texts]
    branding: list[Input]
    idle: Input
    #: (input id to link to, message) for the summary at the top of the page.
    summary: list[tuple[str, str]]
    field_types: list[tuple[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: Mistakes per tab of the page ("fields", "consents", "texts", "look").
    tab_errors: dict[str, int] = field(default_factory=dict)

    @property
    def tabs(self) -> list[tuple[str, str, int]]:
        """(panel id, name, mistakes in it) for each tab, in order."""
        return [(tab, str(TAB_NAMES[tab]), self.tab_errors.get(tab, 0)) for tab in TABS]

    @property
    def error_tab(self) -> str:
        """The first tab holding a mistake, which the page opens on ("" when none does)."""
        return next((tab for tab in TABS if self.tab_errors.get(tab)), "")


#: The builder's tabs, in order; each input belongs to the tab of its path's first part.
TABS = ("fields", "consents", "texts", "look")
TAB_NAMES = {
    "fields": _("Fields"),
    "consents": _("Consents"),
    "texts": _("Texts"),
    "look": _("Look"),
}
_TAB_OF = {
    "fields": "fields",
    "field": "fields",
    "consents": "consents",
    "double_opt_in": "consents",
    "texts": "texts",
}

_PATH_WORDS = {
    "fields": _("Field"),
    "options": _("option"),
    "label": _("label"),
    "help": _("help text"),
    "key": _("key"),
    "value": _("value"),
    "consents": _("Consent:"),
    "email": _("email"),
    "sms": _("SMS"),
    "text": _("text"),
    "disclosure": _("disclosure"),
    "enabled": _("enabled"),
    "texts": _("Text:"),
    "welcome": _("welcome title"),
    "thank_you": _("thank-you message"),
    "branding": _("Look:"),
    "logo_url": _("logo"),
    "primary_color": _("button colour"),
    "background_color": _("background colour"),
    "text_color": _("text colour"),
    "idle_timeout_seconds": _("Idle timeout"),
    "double_opt_in": _("Double opt-in"),
    "languages": _("Languages"),
    **LANGUAGE_NAMES,
}


def _tab_of(anchor: str) -> str:
    """The tab an error summary's link leads into; the languages sit above the tabs."""
    first = anchor.replace("-", ".").split(".")[0]
    if first == "language":
        return ""
    return _TAB_OF.get(first, "look")


def _where(path: str) -> str:
    """A path said in words for the error summary: fields.2.label.es -> Field 3 label Español."""
    words: list[str] = []
    for part in path.split("."):
        if part.isdigit():
            words.append(str(int(part) + 1))
        else:
            words.append(str(_PATH_WORDS.get(part, part.replace("_", " "))))
    return " ".join(words)


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


class _ErrorIndex:
    """Hands each error to the input (or group) whose name is its path, exactly once."""

    def __init__(self, fields: FieldErrors) -> None:
        self.remaining = {path: [e["message"] for e in errors] for path, errors in fields.items()}
        self.summary: list[tuple[str, str]] = []

    def take(self, path: str, anchor: str | None = None) -> list[str]:
        messages = self.remaining.pop(path, [])
        where = _where(path)
        self.summary.extend(
            (path if anchor is None else anchor, f"{where}: {message}" if where else message)
            for message in messages
        )
        return messages

    def take_under(self, prefix: str, anchor: str) -> list[str]:
        """Errors about anything inside ``prefix`` that no input claimed (a removed option...)."""
        messages: list[str] = []
        for path in [p for p in self.remaining if p == prefix or p.startswith(prefix + ".")]:
            messages.extend(self.take(path, anchor))
        return messages


def _text_group(
    value: object, path: str, legend: str, errors: _ErrorIndex, *, multiline: bool = False
) -> Texts:
    values = _dict(value)
    inputs = [
        Input(
            name=f"{path}.{language}",
            label=LANGUAGE_NAMES[language],
            value=values.get(language, ""),
            errors=errors.take(f"{path}.{language}"),
        )
        for language in LANGUAGES
    ]
    anchor = inputs[0].name
    return Texts(
        path=path,
        legend=legend,
        inputs=inputs,
        errors=errors.take(path, anchor),
        multiline=multiline,
    )


def _option_row(option: object, path: str, number: int, errors: _ErrorIndex) -> OptionRow:
    values = _dict(option)
    return OptionRow(
        index=number,
        value=Input(
            f"{path}.options.{number}.value",
            gettext("Value (sent to your CRM)"),
            values.get("value", ""),
            errors.take(f"{path}.options.{number}.value"),
        ),
        label=_text_group(
            values.get("label"),
            f"{path}.options.{number}.label",
            gettext("Option %(number)s label") % {"number": number + 1},
            errors,
        ),
    )


def _field_block(
    spec: object, index: int, count: int, errors: _ErrorIndex, *, opened: bool
) -> FieldBlock:
    values = _dict(spec)
    path = f"fields.{index}"
    kind = str(values.get("type", ""))
    block = FieldBlock(
        index=index,
        type=kind,
        type_name=str(TYPE_NAMES.get(kind, kind)),
        key=Input(
            f"{path}.key",
            gettext("Key (column name)"),
            values.get("key", ""),
            errors.take(f"{path}.key"),
        ),
        required=Input(
            f"{path}.required",
            gettext("Required"),
            bool(values.get("required")),
            errors.take(f"{path}.required"),
        ),
        label=_text_group(values.get("label"), f"{path}.label", gettext("Label"), errors),
        help=_text_group(
            values.get("help"), f"{path}.help", gettext("Help text (optional)"), errors
        ),
        options=[
            _option_row(option, path, number, errors)
            for number, option in enumerate(_list(values.get("options")))
        ],
        is_choice=kind in CHOICE_TYPES,
        is_standard=kind in STANDARD_TYPES,
        is_email=kind == "email",
        is_first=index == 0,
        is_last=index == count - 1,
    )
    if block.is_choice:
        block.errors.extend(errors.take(f"{path}.options", f"{path}.options.0.value"))
    block.errors.extend(errors.take_under(path, f"field-{index}"))
    block.has_errors = _has_errors(block)
    block.opened = opened or block.has_errors
    return block


def _has_errors(block: FieldBlock) -> bool:
    groups = [block.label, block.help, *(option.label for option in block.options)]
    inputs = [block.key, block.required, *(option.value for option in block.options)]
    return bool(
        block.errors
        or any(group.errors or any(i.errors for i in group.inputs) for group in groups)
        or any(i.errors for i in inputs)
    )


def _consent_block(value: object, channel: str, errors: _ErrorIndex) -> ConsentBlock:
    consent = _dict(value)
    path = f"consents.{channel}"
    text = _text_group(
        consent.get("text"), f"{path}.text", gettext("Consent text"), errors, multiline=True
    )
    disclosure = (
        _text_group(
            consent.get("disclosure"),
            f"{path}.disclosure",
            gettext("Disclosure shown beside the box (rates, frequency, STOP/HELP)"),
            errors,
            multiline=True,
        )
        if channel == "sms"
        else None
    )
    return ConsentBlock(
        enabled=Input(f"{path}.enabled", gettext("Ask for it"), bool(consent.get("enabled"))),
        text=text,
        disclosure=disclosure,
        errors=errors.take_under(path, f"{path}.enabled"),
    )


def _branding_inputs(value: object, errors: _ErrorIndex) -> list[Input]:
    branding = _dict(value)
    colour_names = {
        "primary_color": gettext("Buttons and accents"),
        "background_color": gettext("Background"),
        "text_color": gettext("Text"),
    }
    return [
        Input(
            "branding.logo_url",
            gettext("Logo address (https://…)"),
            branding.get("logo_url", ""),
            errors.take("branding.logo_url"),
        ),
        *[
            Input(
                f"branding.{name}",
                label,
                branding.get(name) or DEFAULT_COLOURS[name],
                errors.take(f"branding.{name}"),
            )
            for name, label in colour_names.items()
        ],
    ]


def builder_present(
    definition: object, fields: FieldErrors | None = None, *, opened: int | None = None
) -> Builder:
    """Everything the builder template shows, each input with its own error messages.

    ``opened`` is the index of a field whose card is drawn open (the one just added or moved);
    cards with a mistake are open too, the rest closed to one line.
    """
    errors = _ErrorIndex(fields or {})
    values = _dict(definition)
    languages = _list(values.get("languages"))
    field_specs = _list(values.get("fields"))
    consents = _dict(values.get("consents"))
    texts = _dict(values.get("texts"))
    builder = Builder(
        languages=[(code, name, code in languages) for code, name in LANGUAGE_NAMES.items()],
        fields=[
            _field_block(spec, index, len(field_specs), errors, opened=index == opened)
            for index, spec in enumerate(field_specs)
        ],
        consents={
            channel: _consent_block(consents.get(channel), channel, errors)
            for channel in ("email", "sms")
        },
        double_opt_in=Input(
            "double_opt_in",
            gettext("Double opt-in: the CRM sends a confirmation email first"),
            bool(values.get("double_opt_in")),
            errors.take("double_opt_in"),
        ),
        texts=[
            _text_group(texts.get("welcome"), "texts.welcome", gettext("Welcome title"), errors),
            _text_group(
                texts.get("thank_you"),
                "texts.thank_you",
                gettext("Thank-you message"),
                errors,
                multiline=True,
            ),
        ],
        branding=_branding_inputs(values.get("branding"), errors),
        idle=Input(
            "idle_timeout_seconds",
            gettext("Reset after this many idle seconds (%(least)s to %(most)s)")
            % {"least": MIN_IDLE_SECONDS, "most": MAX_IDLE_SECONDS},
            values.get("idle_timeout_seconds", 45),
            errors.take("idle_timeout_seconds"),
        ),
        summary=[],
        field_types=[(kind, str(TYPE_NAMES[kind])) for kind in FIELD_TYPES],
    )
    builder.errors["languages"] = errors.take("languages", "language-en")
    builder.errors["fields"] = errors.take_under("fields", "fields")
    builder.errors["texts"] = errors.take_under("texts", "texts.welcome.en")
    builder.errors["branding"] = errors.take_under("branding", "branding.logo_url")
    builder.errors["other"] = [m for path in list(errors.remaining) for m in errors.take(path, "")]
    builder.summary = errors.summary
    for anchor, _message in builder.summary:
        if tab := _tab_of(anchor):
            builder.tab_errors[tab] = builder.tab_errors.get(tab, 0) + 1
    return builder
