"""Amazon Rekognition's errors, checked against its botocore model at import, and the messages the service answers
(as Amazon Rekognition words them)."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("rekognition")

AccessDenied = errors.AccessDeniedException
ImageTooLarge = errors.ImageTooLargeException
InvalidImageFormat = errors.InvalidImageFormatException
InvalidPaginationToken = errors.InvalidPaginationTokenException
InvalidParameter = errors.InvalidParameterException
InvalidS3Object = errors.InvalidS3ObjectException
LimitExceeded = errors.LimitExceededException
NotImplemented_ = errors.NotImplementedException
ResourceAlreadyExists = errors.ResourceAlreadyExistsException
ResourceInUse = errors.ResourceInUseException
ResourceNotFound = errors.ResourceNotFoundException
ServiceQuotaExceeded = errors.ServiceQuotaExceededException
Conflict = errors.ConflictException
IdempotentParameterMismatch = errors.IdempotentParameterMismatchException
Validation = errors.ValidationException

INVALID_PARAMETERS = "Request has invalid parameters"
INVALID_FORMAT = "Request has invalid image format"
TOO_LARGE = "Image size is too large."
S3_UNREADABLE = "Unable to get object metadata from S3. Check object key, region and/or access permissions."
NO_FACES = "There are no faces in the image. Should be at least 1."


def job_not_found(job_id: str) -> ResourceNotFound:
    """An unknown job id of a stored-video or bulk-analysis job."""
    return ResourceNotFound(f"The job id: {job_id} does not exist")


def collection_not_found(collection_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"The collection id: {collection_id} does not exist")


def collection_exists(collection_id: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"The collection id: {collection_id} already exists")
