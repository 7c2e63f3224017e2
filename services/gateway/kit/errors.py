"""Error classes generated from a service's botocore model.

`errors = ServiceErrors("comprehend")` gives one ServiceError subclass per error shape of the model, plus the
common errors AWS's front end answers for every service. Binding them at module level in a service
(`JobNotFound = errors.JobNotFoundException`) makes a code the model does not have fail at import, not in
production; `errors.error(code, message)` is the checked form for a code computed at run time.
"""

from __future__ import annotations

from functools import lru_cache

from services.gateway.errors import ServiceError
from services.gateway.protocol.service_models import service_spec

# Codes AWS's common front end answers for any service, whether or not the service's model lists them.
COMMON_ERRORS: dict[str, int] = {
    "ValidationException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
    "AccessDeniedException": 400,
    "ThrottlingException": 400,
    "RequestEntityTooLargeException": 413,
    "NotImplementedException": 501,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}


class ServiceErrors:
    """The error classes of one service, by AWS error code."""

    def __init__(self, service: str):
        self.service = service
        spec = service_spec(service)
        statuses = {**COMMON_ERRORS, **spec.error_statuses}
        self._classes: dict[str, type[ServiceError]] = {
            code: _error_class(service, code, status) for code, status in statuses.items()}



    def __getattr__(self, code: str) -> type[ServiceError]:
        try:
            return self.__dict__["_classes"][code]
        except KeyError:
            raise AttributeError(f"{self.__dict__.get('service')} has no error {code!r} in its botocore model") from None

    def __contains__(self, code: str) -> bool:
        return code in self._classes

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._classes)

    def error(self, code: str, message: str) -> ServiceError:
        """The error `code` (checked against the model) with `message`."""
        return getattr(self, code)(message)


@lru_cache(maxsize=None)
def errors_of(service: str) -> ServiceErrors:
    return ServiceErrors(service)


def _rebuild(service: str, code: str, message: str, status: int | None) -> ServiceError:
    return getattr(errors_of(service), code)(message, status)


# One class per (service, code) in the process, however many ServiceErrors are built, so `except` matches.
@lru_cache(maxsize=None)
def _error_class(service: str, code: str, status: int) -> type[ServiceError]:
    sender_fault = status < 500

    def __init__(self, message: str, status_code: int | None = None):
        ServiceError.__init__(self, code, message, status_code or status, sender_fault)

    def __reduce__(self):
        # Jobs checkpoint exceptions (DBOS pickles them): come back as the same generated class.
        return (_rebuild, (service, code, self.message, self.status))

    return type(code, (ServiceError,), {"__init__": __init__, "__reduce__": __reduce__,
                                        "__module__": f"services.{service}.errors", "__qualname__": code,
                                        "code_name": code})
