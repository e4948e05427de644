"""The bounds every document reader checks, with the same messages for YAML and JSON.

One scalar's text is checked before it is converted: a string by its length; a number-like
one (plain or quoted: pydantic reads ``"1e999999"`` as a number too) by the digits it stands
for written out, so ``1e999999`` is refused although its text is short.
"""

import re

from quantdesk.domain.documents import DocumentLimitError, DocumentLimits

HINT = "quantdesk reads documents within its input limits (README: Input limits)"
_DECIMAL = re.compile(
    r"[-+]?(?=\.?[0-9])(?P<int>[0-9][0-9_]*)?(?:\.(?P<frac>[0-9_]*))?(?:[eE](?P<exp>[-+]?[0-9]+))?"
)
_OTHER_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oObB]?[0-9_]+|[0-9][0-9_]*(?::[0-9_]+)+(?:\.[0-9_]*)?)"
)
_NOT_FINITE = re.compile(r"[-+]?\.?(?:inf|infinity|nan)", re.IGNORECASE)


def too_large(name: str, limits: DocumentLimits) -> DocumentLimitError:
    return DocumentLimitError(
        f"{name}: larger than {limits.max_bytes:,} bytes", reason="too_large", hint=HINT
    )


class DocumentChecks:
    """The checks and refusals of one document (``name`` is how messages call it)."""

    def __init__(self, name: str, limits: DocumentLimits) -> None:
        self.name = name
        self.limits = limits

    def refuse(self, reason: str, line: int, what: str) -> DocumentLimitError:
        return DocumentLimitError(
            f"{self.name} line {line}: {what}", reason=reason, line=line, hint=HINT
        )

    def duplicate_key(self, key: object, line: int, first: int) -> DocumentLimitError:
        return DocumentLimitError(
            f"{self.name} line {line}: key {key!r} repeats the key on line {first}",
            reason="duplicate_key",
            line=line,
            hint="write each key once: which of the values is meant is ambiguous",
        )

    def check_scalar(self, text: str, line: int, *, plain: bool) -> None:
        limits = self.limits
        if len(text) > limits.max_string_chars:
            raise self.refuse(
                "string_too_long",
                line,
                f"a text of {len(text):,} characters, more than {limits.max_string_chars:,}",
            )
        candidate = text.strip()
        if plain and candidate[:1] in "+-.iInN" and _NOT_FINITE.fullmatch(candidate):
            raise self.not_finite(candidate, line)
        if len(candidate) <= limits.max_number_chars and "e" not in candidate.lower():
            return  # no exponent: its digits are its characters
        decimal = _DECIMAL.fullmatch(candidate)
        if decimal is None and _OTHER_NUMBER.fullmatch(candidate) is None:
            return
        if len(candidate) > limits.max_number_chars or (
            decimal is not None and written_digits(decimal) > limits.max_number_chars
        ):
            shown = candidate if len(candidate) <= 24 else candidate[:20] + "..."
            raise self.refuse(
                "number_too_long",
                line,
                f"the number {shown} has more than {limits.max_number_chars} digits",
            )

    def not_finite(self, text: str, line: int) -> DocumentLimitError:
        return self.refuse("number_too_long", line, f"{text} is not a finite number")

    def too_many_nodes(self, line: int) -> DocumentLimitError:
        return self.refuse(
            "too_many_nodes",
            line,
            f"more than {self.limits.max_nodes:,} values (an alias counts as all it repeats)",
        )

    def too_deep(self, line: int) -> DocumentLimitError:
        return self.refuse(
            "nesting_too_deep", line, f"nested more than {self.limits.max_depth} levels deep"
        )


def written_digits(match: re.Match[str]) -> int:
    """How many digits the number takes written out in full (``1e6`` is 1000000: 7)."""
    whole = (match["int"] or "").replace("_", "")
    fraction = (match["frac"] or "").replace("_", "")
    exponent = match["exp"]
    if exponent is None:
        return len(whole) + len(fraction)
    if len(exponent.lstrip("+-0")) > 12:  # beyond any limit, and int() of it stays cheap
        return 10**13
    shift = int(exponent) - len(fraction)
    digits = len((whole + fraction).lstrip("0")) or 1
    return digits + shift if shift >= 0 else max(digits, -shift) + 1
