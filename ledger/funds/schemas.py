"""What a writer may send for each operation, checked before anything is recorded.

The same schemas serve the HTTP API and the command line, so both refuse the same
input with the same per-field messages. Unknown fields are refused (a typo in a
field name must not silently drop data), amounts are integers from 1 to 10^15 đồng,
text is NFC-normalised and stripped, and every length is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from ledger import errors, receipt_ids
from ledger.entries import MAX_SAFE_INTEGER
from ledger.funds.postings import MAX_EARMARK_KEY, earmark_key
from ledger.funds.text import nfc

MAX_AMOUNT = 10**15
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$"
# Two references and a space fit in a VietQR memo (25 characters): "LS21COVID LSHLHPN".
REFERENCE_PATTERN = r"^[A-Z0-9]{3,12}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
PERSON_TYPES = ("individual", "organization")


class Text(fields.String):
    """A string, NFC-normalised, stripped, with control characters refused."""

    def __init__(self, *, max_length: int, min_length: int = 1, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=min_length, max=max_length), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = nfc(super()._deserialize(value, attr, data, **kwargs)).strip()
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise ValidationError("must not contain control characters")
        return text


class Code(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        message = "must be 1-48 letters, digits, '.', '_' or '-'"
        super().__init__(validate=validate.Regexp(CODE_PATTERN, error=message), **kwargs)


class Amount(fields.Integer):
    """Whole đồng, 1..10^15; a float, a string or a boolean is refused, not coerced."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("must be an integer number of đồng")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


class Index(fields.Integer):
    """An entry index: it goes into a leaf, whose integers stay within +-(2^53 - 1)."""

    def __init__(self, **kwargs: Any) -> None:
        bound = validate.Range(min=1, max=MAX_SAFE_INTEGER)
        super().__init__(strict=True, validate=bound, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("must be an entry index")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


class Day(fields.String):
    """A calendar day, ``YYYY-MM-DD``, kept as that string (it sorts like the day)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) != 10:
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError as err:
            raise ValidationError("must be a date written YYYY-MM-DD") from err


def Currency() -> fields.String:
    return fields.String(load_default="VND", validate=validate.Equal("VND"))


def Documents(*, required: bool = False) -> fields.List[Any]:
    sha256 = validate.Regexp(SHA256_PATTERN, error="must be lowercase SHA-256")
    item = fields.String(validate=sha256)
    size = validate.Length(min=1 if required else 0, max=50)
    if required:
        return fields.List(item, required=True, validate=size)
    return fields.List(item, load_default=list, validate=size)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class UnitSchema(StrictSchema):
    code = Code(required=True)
    name = Text(required=True, max_length=200)
    parent = Code(load_default=None, allow_none=True)
    level = Text(load_default="", max_length=48, min_length=0)


class FundSchema(StrictSchema):
    code = Code(required=True)
    unit = Code(required=True)
    kind = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$"))
    name = Text(load_default=None, max_length=200)


class AccountSchema(StrictSchema):
    bank_bin = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))
    bank_name = Text(load_default=None, max_length=100)
    number = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z]{1,19}$"))
    holder = Text(required=True, max_length=200)


class CampaignSchema(StrictSchema):
    code = Code(required=True)
    fund = Code(required=True)
    name = Text(required=True, max_length=200)
    purpose = Text(required=True, max_length=2000)
    reference = fields.String(
        required=True,
        validate=validate.Regexp(REFERENCE_PATTERN, error="must be 3-12 capital letters or digits"),
    )
    opens = Day(required=True)
    closes = Day(required=True)
    distribute_by = Day(required=True)
    account = fields.Nested(AccountSchema, required=True)

    @validates_schema
    def _dates_in_order(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if {"opens", "closes", "distribute_by"} <= data.keys():
            if data["closes"] < data["opens"]:
                raise ValidationError("must not be before opens", "closes")
            if data["distribute_by"] < data["closes"]:
                raise ValidationError("must not be before closes", "distribute_by")


class MobilizerSchema(StrictSchema):
    code = Code(required=True)
    name = Text(required=True, max_length=200)
    type = fields.String(required=True, validate=validate.OneOf(("collective", "individual")))
    unit = Code(required=True)
    reference = fields.String(
        load_default=None,
        validate=validate.Regexp(REFERENCE_PATTERN, error="must be 3-12 capital letters or digits"),
    )


class DonorSchema(StrictSchema):
    display = Text(load_default=None, max_length=200)
    type = fields.String(load_default="individual", validate=validate.OneOf(PERSON_TYPES))
    anonymous = fields.Boolean(load_default=False)
    contact = Text(load_default=None, max_length=200)  # private: never in a leaf
    account = fields.String(  # private: the donor's own bank account
        load_default=None, validate=validate.Regexp(r"^[0-9A-Za-z .-]{1,40}$")
    )

    @validates_schema
    def _named_unless_anonymous(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if not data.get("anonymous") and not data.get("display"):
            raise ValidationError("a donor who is not anonymous needs a display name", "display")


class EarmarkSchema(StrictSchema):
    purpose = Text(load_default=None, max_length=200)
    unit = Code(load_default=None)

    @validates_schema
    def _not_empty(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if not data.get("purpose") and not data.get("unit"):
            raise ValidationError("an earmark names a purpose, a unit or both")
        if len(earmark_key(data)) > MAX_EARMARK_KEY:
            raise ValidationError("the earmark is too long: shorten its purpose")

    @post_load
    def _only_what_is_named(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {key: value for key, value in data.items() if value is not None}


class Earmark(fields.Nested):
    """An earmark object, or a bare string as shorthand for ``{"purpose": string}``."""

    def __init__(self) -> None:
        super().__init__(EarmarkSchema, load_default=None)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, partial: Any = None, **kwargs: Any
    ) -> Any:
        if isinstance(value, str):
            value = {"purpose": value}
        return super()._deserialize(value, attr, data, partial, **kwargs)


class Quantity(fields.Field[Any]):
    """A whole number, or a decimal written as a string ("2.5"): leaves hold no floats."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10**12:
            return value
        decimal = isinstance(value, str) and re.fullmatch(r"\d{1,12}(\.\d{1,6})?", value)
        if decimal and re.search("[1-9]", value):
            return value
        raise ValidationError("must be a positive whole number, or a decimal string like '2.5'")


# Said of goods whose writer gave no basis for their value.
DECLARED_VALUE = "giá trị do đơn vị tiếp nhận kê khai"


class InKindSchema(StrictSchema):
    description = Text(required=True, max_length=500)
    quantity = Quantity(required=True)
    unit = Text(required=True, max_length=32)
    valuation = Text(load_default=DECLARED_VALUE, max_length=500)


class ContributionSchema(StrictSchema):
    fund = Code(required=True)
    campaign = Code(load_default=None)
    amount = Amount(required=True)
    currency = Currency()
    channel = fields.String(required=True, validate=validate.OneOf(("bank", "cash", "in_kind")))
    donor = fields.Nested(DonorSchema, required=True)
    mobilizer = Code(load_default=None, allow_none=True)
    earmark = Earmark()
    reference = Text(load_default=None, max_length=64)
    in_kind = fields.Nested(InKindSchema, load_default=None)
    received_on = Day(load_default=None)
    pledge = fields.String(
        load_default=None,
        validate=validate.Regexp(
            rf"^{receipt_ids.PLEDGE_PREFIX}{receipt_ids.PATTERN}$",
            error="must be a pledge ID such as P…",
        ),
    )

    @validates_schema
    def _in_kind_goes_with_its_channel(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if data.get("channel") == "in_kind" and not data.get("in_kind"):
            raise ValidationError("an in-kind gift needs its description and valuation", "in_kind")
        if data.get("channel") in ("bank", "cash") and data.get("in_kind"):
            raise ValidationError("only an in_kind gift has in_kind details", "in_kind")


class PledgeSchema(StrictSchema):
    fund = Code(required=True)
    campaign = Code(load_default=None)
    amount = Amount(required=True)
    currency = Currency()
    donor = fields.Nested(DonorSchema, required=True)
    mobilizer = Code(load_default=None, allow_none=True)
    due_on = Day(load_default=None)


class BeneficiarySchema(StrictSchema):
    display = Text(required=True, max_length=200)
    type = fields.String(required=True, validate=validate.OneOf(PERSON_TYPES))
    unit = Code(load_default=None)
    national_id = fields.String(  # private: only its keyed hash is recorded
        load_default=None, validate=validate.Regexp(r"^[0-9 .]{9,20}$")
    )


class DecisionSchema(StrictSchema):
    number = Text(required=True, max_length=64)
    date = Day(required=True)
    approver = Text(required=True, max_length=200)


class AllocationSchema(StrictSchema):
    fund = Code(required=True)
    amount = Amount(required=True)
    currency = Currency()
    form = fields.String(load_default="cash", validate=validate.OneOf(("cash", "in_kind")))
    beneficiary = fields.Nested(BeneficiarySchema, required=True)
    purpose = Text(required=True, max_length=500)
    program = Text(load_default=None, max_length=64)
    decision_ref = Text(load_default=None, max_length=64)
    decision = fields.Nested(DecisionSchema, load_default=None)
    documents = Documents()
    earmark = Earmark()
    campaign = Code(load_default=None)


class DisbursementSchema(StrictSchema):
    allocation = Index(required=True)
    amount = Amount(required=True)
    currency = Currency()
    documents = Documents(required=True)
    paid_on = Day(load_default=None)
    note = Text(load_default=None, max_length=500)


class TransferSchema(StrictSchema):
    from_fund = Code(required=True)
    to_fund = Code(required=True)
    amount = Amount(required=True)
    currency = Currency()
    earmark = Earmark()
    purpose = Text(load_default=None, max_length=500)
    reference = Text(load_default=None, max_length=64)

    @validates_schema
    def _two_funds(self, data: Mapping[str, Any], **_kwargs: Any) -> None:
        if data.get("from_fund") and data.get("from_fund") == data.get("to_fund"):
            raise ValidationError("a transfer goes to another fund", "to_fund")


class ReversalSchema(StrictSchema):
    target = Index(required=True)
    reason = Text(required=True, max_length=500)


SCHEMAS: dict[str, type[StrictSchema]] = {
    "unit": UnitSchema,
    "fund": FundSchema,
    "campaign": CampaignSchema,
    "mobilizer": MobilizerSchema,
    "contribution": ContributionSchema,
    "pledge": PledgeSchema,
    "allocation": AllocationSchema,
    "disbursement": DisbursementSchema,
    "transfer": TransferSchema,
    "reversal": ReversalSchema,
}


# Building a schema costs more than loading with it; instances hold no per-load state.
_INSTANCES = {operation: schema() for operation, schema in SCHEMAS.items()}


def register(operation: str, schema: type[StrictSchema]) -> None:
    """Add the schema of an operation defined outside the fund core (the audit package)."""
    SCHEMAS[operation] = schema
    _INSTANCES[operation] = schema()


def load(operation: str, data: Any) -> dict[str, Any]:
    """Validate a writer's request; ValidationError (422) names every bad field."""
    if not isinstance(data, Mapping):
        raise errors.ValidationError("the request body must be a JSON object")
    try:
        loaded: dict[str, Any] = _INSTANCES[operation].load(data)
    except ValidationError as err:
        messages = err.messages
        raise errors.ValidationError(
            f"invalid {operation}: " + _summary(messages), _as_fields(messages)
        ) from err
    return loaded


def _as_fields(messages: Any) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                name = key if key != "_schema" else ""
                walk(f"{prefix}.{name}".strip(".") if name else prefix or "_schema", inner)
        elif isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                flat.setdefault(prefix, []).extend(value)
            else:
                for position, item in enumerate(value):
                    walk(f"{prefix}.{position}", item)
        else:
            flat.setdefault(prefix, []).append(str(value))

    walk("", messages)
    return flat


def _summary(messages: Any) -> str:
    flat = _as_fields(messages)
    return "; ".join(f"{name}: {' '.join(problems)}" for name, problems in sorted(flat.items()))
