"""The vendors' published schemas, vendored in ``specs/``, and a validator the fakes share.

Each ``specs/<vendor>.json`` holds an excerpt of what the vendor publishes (its header,
``x-vendored``, names the source, the file, the commit or version): ``operations`` names, per
request, the schema of its body and of its answers, and ``components.schemas`` holds those
schemas as the vendor wrote them (OpenAPI 3.0 for HubSpot and Klaviyo, transcriptions for
Mailchimp and Salesforce, which publish no fetchable OpenAPI file).

OpenAPI 3.0 is not quite JSON Schema: ``nullable`` becomes a ``null`` type and references point
into ``components``. ``Spec.errors`` makes that translation and lists every way a document breaks
the schema, as ``path: message`` lines a fake can put in its error answer.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPECS = Path(__file__).parent / "specs"


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema 2020-12 for the keywords these excerpts use."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in converted or "oneOf" in converted:
            return {"anyOf": [converted, {"type": "null"}]}
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
    return converted


@dataclass(frozen=True)
class Spec:
    vendor: str
    document: dict[str, Any]

    @property
    def header(self) -> dict[str, Any]:
        return dict(self.document["x-vendored"])

    def schema_name(self, operation: str, part: str) -> str:
        """The schema of ``part`` ("request" or a status such as "200", "4XX") of an operation."""
        entry = self.document["operations"][operation]
        if part == "request":
            return str(entry["request"])
        responses = entry["responses"]
        wildcard = f"{part[0]}XX"
        return str(responses.get(part) or responses.get(wildcard) or responses["default"])

    def errors(self, name: str, instance: Any) -> list[str]:
        """Every way ``instance`` breaks the schema ``name``; empty when it conforms."""
        found = sorted(
            _validator(self.vendor, name).iter_errors(instance),
            key=lambda error: [str(part) for part in error.path],
        )
        return [f"/{'/'.join(map(str, error.path))}: {error.message}" for error in found]

    def request_errors(self, operation: str, body: Any) -> list[str]:
        return self.errors(self.schema_name(operation, "request"), body)

    def response_errors(self, operation: str, status: int, body: Any) -> list[str]:
        return self.errors(self.schema_name(operation, str(status)), body)


@cache
def _validator(vendor: str, name: str) -> Draft202012Validator:
    root = {
        "$defs": _json_schema(spec(vendor).document["components"]["schemas"]),
        "$ref": f"#/$defs/{name}",
    }
    text = json.dumps(root).replace("#/components/schemas/", "#/$defs/")
    return Draft202012Validator(
        json.loads(text), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@cache
def spec(vendor: str) -> Spec:
    """The vendored excerpt of ``specs/<vendor>.json``."""
    return Spec(vendor, json.loads((SPECS / f"{vendor}.json").read_text()))
