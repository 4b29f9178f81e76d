"""Marshmallow schemas at the HTTP edge: query arguments in, documents out."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, fields, validate

MAX_INDEX = 2**53 - 1
_index = validate.Range(min=0, max=MAX_INDEX)
_DECIMAL = re.compile(r"-?[0-9]+")


class DecimalInteger(fields.Integer):
    """An integer written in ASCII decimal digits only.

    ``int()`` also reads " 7", "+7", "7_000" and non-ASCII digits; refusing them keeps
    one URL per resource, which matters for responses cached as immutable.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not _DECIMAL.fullmatch(value):
            raise self.make_error("invalid")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable machine code"})
    message = fields.String(required=True, metadata={"description": "for people"})
    field_errors = fields.Dict(
        data_key="fields", metadata={"description": "per-field messages, where any"}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class ValidationErrorBodySchema(ErrorBodySchema):
    field_errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        data_key="fields",
        required=True,
        metadata={
            "description": "each bad member (dotted path, `_schema` for the whole body) "
            "with what is wrong with it"
        },
    )


class ValidationErrorSchema(Schema):
    """A 422: the error shape, with ``fields`` always present."""

    error = fields.Nested(ValidationErrorBodySchema, required=True)


class EntrySchema(Schema):
    index = fields.Integer(required=True)
    leaf = fields.String(required=True, metadata={"description": "standard base64 leaf bytes"})
    leaf_hash = fields.String(required=True, metadata={"description": "hex SHA-256(0x00||leaf)"})
    entry = fields.Dict(required=True, metadata={"description": "the decoded leaf object"})


class EntriesPageSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema), required=True)
    next = fields.Integer(
        allow_none=True, required=True, metadata={"description": "start of the next page"}
    )


class EntriesArgsSchema(Schema):
    start = DecimalInteger(load_default=0, validate=_index)
    limit = DecimalInteger(load_default=100, validate=validate.Range(min=1))


class InclusionArgsSchema(Schema):
    index = DecimalInteger(required=True, validate=_index)
    tree_size = DecimalInteger(validate=validate.Range(min=1, max=MAX_INDEX))


class InclusionProofSchema(Schema):
    index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    hashes = fields.List(fields.String(), required=True)


class ConsistencyArgsSchema(Schema):
    first = DecimalInteger(required=True, validate=validate.Range(min=1, max=MAX_INDEX))
    second = DecimalInteger(validate=validate.Range(min=1, max=MAX_INDEX))


class ConsistencyProofSchema(Schema):
    first = fields.Integer(required=True)
    second = fields.Integer(required=True)
    hashes = fields.List(fields.String(), required=True)


class KeySchema(Schema):
    verifier_key = fields.String(required=True)
    key_id = fields.String(required=True, metadata={"description": "8 lowercase hex digits"})
    from_index = fields.Integer(required=True)
    to_index = fields.Integer(allow_none=True, required=True)


class KeysSchema(Schema):
    keys = fields.List(fields.Nested(KeySchema), required=True)
