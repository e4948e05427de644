"""``JsonSchemaChecker``: the ``ConfigSchemaChecker`` port on the ``jsonschema`` package."""

from collections.abc import Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


class JsonSchemaChecker:
    """Draft 2020-12. Reports every violation, by JSON path, most specific first."""

    def problems(self, schema: Mapping[str, object], value: object) -> list[tuple[str, str]]:
        try:
            Draft202012Validator.check_schema(dict(schema))
        except SchemaError as error:
            return [("config_schema", f"not a valid JSON schema: {error.message}")]
        validator = Draft202012Validator(dict(schema))
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        return [("/".join(str(p) for p in error.path), error.message) for error in errors]
