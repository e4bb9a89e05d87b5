"""The base of the response models that document (and, with quart-schema's
``validate_response``, check) what the JSON API answers.

A model names the fields every answer has, with their types; ``strict`` keeps the values
as the view made them (no coercion: the answer is checked, not rewritten), and
``extra="allow"`` keeps the fields a model leaves undeclared (those only some callers see,
such as a party's own objection deadline on a ruling) in the answer and in the document
(``additionalProperties``). An answer that does not fit is a
``ResponseSchemaValidationError``: a 500, which the tests and the fuzzing catch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
