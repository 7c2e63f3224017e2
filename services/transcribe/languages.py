"""AWS Transcribe language codes <-> Whisper's language codes."""

from __future__ import annotations

from functools import lru_cache

from services.transcribe.errors import BadRequest

# The AWS code reported for a language Whisper identified, when the caller gave no LanguageOptions.
PREFERRED = {
    "en": "en-US", "es": "es-US", "fr": "fr-FR", "de": "de-DE", "pt": "pt-BR", "it": "it-IT", "nl": "nl-NL",
    "ja": "ja-JP", "ko": "ko-KR", "zh": "zh-CN", "ar": "ar-SA", "ru": "ru-RU", "hi": "hi-IN", "tr": "tr-TR",
    "sv": "sv-SE", "da": "da-DK", "pl": "pl-PL", "he": "he-IL", "id": "id-ID", "ms": "ms-MY", "th": "th-TH",
    "vi": "vi-VN", "uk": "uk-UA", "cs": "cs-CZ", "fi": "fi-FI", "el": "el-GR", "ro": "ro-RO", "hu": "hu-HU",
    "no": "no-NO", "ca": "ca-ES", "fa": "fa-IR", "ta": "ta-IN", "te": "te-IN", "bn": "bn-IN", "ur": "ur-PK",
}


@lru_cache
def aws_language_codes() -> tuple[str, ...]:
    from services.gateway.protocol.service_models import service_spec

    return tuple(service_spec("transcribe").model.shape_for("LanguageCode").enum)


def to_whisper(code: str) -> str:
    base = code.split("-")[0].lower()
    return {"iw": "he", "nb": "no"}.get(base, base)


def to_aws(whisper_code: str, options: list[str] | None = None) -> str:
    for option in options or []:
        if to_whisper(option) == whisper_code:
            return option
    if whisper_code in PREFERRED and PREFERRED[whisper_code] in aws_language_codes():
        return PREFERRED[whisper_code]
    for code in aws_language_codes():
        if to_whisper(code) == whisper_code:
            return code
    return whisper_code


def whisper_supports(code: str) -> bool:
    return to_whisper(code) in WHISPER_LANGUAGES


# Whisper's language set (tokenizer.LANGUAGES of openai-whisper / faster-whisper).
WHISPER_LANGUAGES = frozenset(
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la mi "
    "ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be tg sd "
    "gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue".split()
)


def unsupported(code: str) -> BadRequest:
    return BadRequest(f"The language code {code} isn't supported by the speech model of this gateway.")


def check_supported(code: str) -> None:
    """BadRequestException for a language code the speech model doesn't have."""
    if not whisper_supports(code):
        raise unsupported(code)
