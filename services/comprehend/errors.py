"""Comprehend's errors, generated from its botocore model (a code the model lacks fails here, at import)."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("comprehend")

BatchSizeLimitExceeded = errors.BatchSizeLimitExceededException
InvalidFilter = errors.InvalidFilterException
InvalidRequest = errors.InvalidRequestException
JobNotFound = errors.JobNotFoundException
ResourceInUse = errors.ResourceInUseException
ResourceNotFound = errors.ResourceNotFoundException
ResourceUnavailable = errors.ResourceUnavailableException
TextSizeLimitExceeded = errors.TextSizeLimitExceededException
TooManyTags = errors.TooManyTagsException
UnsupportedLanguage = errors.UnsupportedLanguageException
