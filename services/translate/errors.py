"""Amazon Translate's errors, checked against its botocore model at import."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("translate")

DetectedLanguageLowConfidence = errors.DetectedLanguageLowConfidenceException
InvalidFilter = errors.InvalidFilterException
InvalidParameterValue = errors.InvalidParameterValueException
InvalidRequest = errors.InvalidRequestException
LimitExceeded = errors.LimitExceededException
ResourceNotFound = errors.ResourceNotFoundException
ServiceUnavailable = errors.ServiceUnavailableException
TextSizeLimitExceeded = errors.TextSizeLimitExceededException
TooManyTags = errors.TooManyTagsException
UnsupportedDisplayLanguageCode = errors.UnsupportedDisplayLanguageCodeException
UnsupportedLanguagePair = errors.UnsupportedLanguagePairException
Validation = errors.ValidationException
