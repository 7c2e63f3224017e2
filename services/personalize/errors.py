"""Amazon Personalize's errors, checked against the botocore models of `personalize`, `personalize-runtime` and
`personalize-events` at import."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("personalize")

InvalidInput = errors.InvalidInputException
InvalidNextToken = errors.InvalidNextTokenException
LimitExceeded = errors.LimitExceededException
ResourceAlreadyExists = errors.ResourceAlreadyExistsException
ResourceInUse = errors.ResourceInUseException
ResourceNotFound = errors.ResourceNotFoundException
TooManyTags = errors.TooManyTagsException
TooManyTagKeys = errors.TooManyTagKeysException


class TrainingFailed(InvalidInput):
    """The data cannot do what was asked: the resource ends CREATE FAILED with this message."""


runtime_errors = ServiceErrors("personalize-runtime")

RuntimeInvalidInput = runtime_errors.InvalidInputException
RuntimeNotFound = runtime_errors.ResourceNotFoundException

events_errors = ServiceErrors("personalize-events")

EventsInvalidInput = events_errors.InvalidInputException
EventsNotFound = events_errors.ResourceNotFoundException
EventsInUse = events_errors.ResourceInUseException
