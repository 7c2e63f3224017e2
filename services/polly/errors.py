"""Amazon Polly's errors, checked against its botocore model at import."""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("polly")

EngineNotSupported = errors.EngineNotSupportedException
InvalidLexicon = errors.InvalidLexiconException
InvalidNextToken = errors.InvalidNextTokenException
InvalidS3Bucket = errors.InvalidS3BucketException
InvalidSampleRate = errors.InvalidSampleRateException
InvalidSsmlException = errors.InvalidSsmlException
LanguageNotSupported = errors.LanguageNotSupportedException
LexiconNotFound = errors.LexiconNotFoundException
LexiconSizeExceeded = errors.LexiconSizeExceededException
MarksNotSupportedForFormat = errors.MarksNotSupportedForFormatException
MaxLexemeLengthExceeded = errors.MaxLexemeLengthExceededException
MaxLexiconsNumberExceeded = errors.MaxLexiconsNumberExceededException
ResourceNotFound = errors.ResourceNotFoundException
ServiceFailure = errors.ServiceFailureException
SsmlMarksNotSupportedForTextType = errors.SsmlMarksNotSupportedForTextTypeException
SynthesisTaskNotFound = errors.SynthesisTaskNotFoundException
TextLengthExceeded = errors.TextLengthExceededException
TooManyTags = errors.TooManyTagsException
UnsupportedPlsAlphabet = errors.UnsupportedPlsAlphabetException
UnsupportedPlsLanguage = errors.UnsupportedPlsLanguageException
Validation = errors.ValidationException


class InvalidSsml(InvalidSsmlException):
    """InvalidSsmlException with Polly's wording: "Invalid SSML request: <reason>"."""

    def __init__(self, reason: str):
        super().__init__(f"Invalid SSML request: {reason}")
