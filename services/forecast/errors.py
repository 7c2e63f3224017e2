"""Amazon Forecast's errors, checked against the botocore models of `forecast` and `forecastquery` at import."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("forecast")

InvalidInput = errors.InvalidInputException
InvalidNextToken = errors.InvalidNextTokenException
LimitExceeded = errors.LimitExceededException
ResourceAlreadyExists = errors.ResourceAlreadyExistsException
ResourceInUse = errors.ResourceInUseException
ResourceNotFound = errors.ResourceNotFoundException
NotImplemented_ = errors.NotImplementedException


class TrainingFailed(InvalidInput):
    """The data cannot do what was asked: the resource ends CREATE_FAILED with this message."""


query_errors = ServiceErrors("forecastquery")

QueryInvalidInput = query_errors.InvalidInputException
QueryInvalidNextToken = query_errors.InvalidNextTokenException
QueryResourceInUse = query_errors.ResourceInUseException
QueryResourceNotFound = query_errors.ResourceNotFoundException
