"""Errors as AWS sends them. A handler raises ServiceError(code, message); the protocol layer turns it into the
status, `x-amzn-ErrorType` header and `{"__type", "message"}` body that botocore parses into ClientError.

The status comes from the error shape in the service's botocore model when the service defines that code
(e.g. Comprehend's TextSizeLimitExceededException is 400, ResourceNotFoundException 404 in some services);
the codes below are the ones AWS's common front end answers for every service.
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None, sender_fault: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault

    def __reduce__(self):
        # Jobs checkpoint exceptions (DBOS pickles them): keep every field across the round trip.
        return (ServiceError, (self.code, self.message, self.status, self.sender_fault))

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r})"


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def serialization_error(message: str) -> ServiceError:
    return ServiceError("SerializationException", message, 400)


def unknown_operation(message: str) -> ServiceError:
    return ServiceError("UnknownOperationException", message, 400)


def not_implemented(service: str, operation: str) -> ServiceError:
    return ServiceError(
        "NotImplementedException",
        f"{service} operation {operation} is not implemented by this gateway yet; "
        f"GET /v1/coverage lists the operations that are.",
        501,
    )


def internal_failure(message: str = "The server encountered an internal error.") -> ServiceError:
    return ServiceError("InternalFailure", message, 500, sender_fault=False)


def resource_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def request_too_large(limit: int) -> ServiceError:
    return ServiceError("RequestEntityTooLargeException", f"Request body exceeds the limit of {limit} bytes.", 413)
