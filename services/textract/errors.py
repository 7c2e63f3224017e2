"""Amazon Textract's errors, checked against its botocore model at import."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("textract")

BadDocument = errors.BadDocumentException
DocumentTooLarge = errors.DocumentTooLargeException
IdempotentParameterMismatch = errors.IdempotentParameterMismatchException
InvalidJobId = errors.InvalidJobIdException
InvalidParameter = errors.InvalidParameterException
InvalidS3Object = errors.InvalidS3ObjectException
LimitExceeded = errors.LimitExceededException
NotImplemented_ = errors.NotImplementedException
ResourceNotFound = errors.ResourceNotFoundException
UnsupportedDocument = errors.UnsupportedDocumentException
Validation = errors.ValidationException

# The messages the service answers (as Amazon Textract words them).
UNSUPPORTED_FORMAT = "Request has unsupported document format"
INVALID_DOCUMENT = "Request has invalid document"
TOO_LARGE = "Request has document that is too large"
INVALID_PARAMETERS = "Request has invalid parameters"
S3_UNREADABLE = "Unable to get object metadata from S3. Check object key, region and/or access permissions."
