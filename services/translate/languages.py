"""Language codes and names as Amazon Translate shows them."""

from __future__ import annotations

from functools import lru_cache

from services.translate.errors import UnsupportedDisplayLanguageCode

# English names of the codes the engines may serve (AWS's list plus the Apertium languages AWS lacks).
ENGLISH_NAMES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "bg": "Bulgarian", "bn": "Bengali",
    "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "es-MX": "Spanish (Mexico)", "et": "Estonian",
    "eu": "Basque", "fa": "Farsi (Persian)", "fa-AF": "Dari", "fi": "Finnish", "fr": "French",
    "fr-CA": "French (Canada)", "ga": "Irish", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh",
    "kn": "Kannada", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam",
    "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "nl": "Dutch", "no": "Norwegian (Bokmål)",
    "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese (Brazil)", "pt-PT": "Portuguese (Portugal)",
    "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
    "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "zh": "Chinese (Simplified)", "zh-TW": "Chinese (Traditional)",
}
DISPLAY_LANGUAGES = ("de", "en", "es", "fr", "it", "ja", "ko", "pt", "zh", "zh-TW")


def normalize(code: str) -> str:
    """`EN`, `en-us` -> `en`; keeps the regional codes AWS distinguishes (`zh-TW`, `fr-CA`, `pt-PT`, `es-MX`)."""
    base, _, region = code.replace("_", "-").partition("-")
    base = base.lower()
    if region:
        candidate = f"{base}-{region.upper()}" if len(region) == 2 else f"{base}-{region}"
        if candidate in ENGLISH_NAMES:
            return candidate
    return base


@lru_cache(maxsize=32)
def _locale_names(display: str) -> dict[str, str]:
    try:
        from babel import Locale

        return dict(Locale.parse(display.replace("-", "_")).languages)
    except Exception:  # babel missing or locale unknown: English names
        return {}


def language_name(code: str, display: str = "en") -> str:
    if display == "en":
        return ENGLISH_NAMES.get(code, code)
    names = _locale_names(display)
    key = code.replace("-", "_")
    name = names.get(key) or names.get(code.split("-")[0])
    if name:
        return name[:1].upper() + name[1:] if display not in ("zh", "zh-TW", "ja", "ko") else name
    return ENGLISH_NAMES.get(code, code)


def check_display_language(display: str) -> None:
    if display not in DISPLAY_LANGUAGES:
        raise UnsupportedDisplayLanguageCode(f"Display language code {display} is not supported.")
