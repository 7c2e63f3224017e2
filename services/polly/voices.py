"""Polly voice ids served by this gateway and the installed voice behind each.

Every Polly voice id keeps working: English ids speak with the Piper neural voice (engines `neural`,
`long-form`, `generative`); with engine `standard`, the US English female ids speak with Festival's slt HTS voice
and every other id with the espeak-ng voice of its language, a variant per id so voices of one language differ.
Id, Name, Gender and LanguageCode are Polly's, so apps that pick voices by them keep working; README.md (## Polly)
lists which installed voice is behind each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    gender: str  # Female / Male
    language: str  # Polly language code
    language_name: str
    espeak: str  # espeak-ng voice (standard engine), with a variant for the gender
    neural: bool  # served by the Piper neural voice
    additional: tuple[str, ...] = ()
    festival: bool = False  # standard engine on Festival's slt HTS voice (espeak-ng for <phoneme> / <lang>)


_LANG = {
    "en-US": ("US English", "en-us"), "en-GB": ("British English", "en"), "en-AU": ("Australian English", "en-us"),
    "en-IN": ("Indian English", "en"), "en-GB-WLS": ("Welsh English", "en"), "en-NZ": ("New Zealand English", "en"),
    "en-ZA": ("South African English", "en"), "en-IE": ("Irish English", "en"), "en-SG": ("Singaporean English", "en"),
    "fr-FR": ("French", "fr"), "fr-CA": ("Canadian French", "fr"), "fr-BE": ("Belgian French", "fr-be"),
    "de-DE": ("German", "de"), "de-AT": ("Austrian German", "de"), "de-CH": ("Swiss Standard German", "de"),
    "es-ES": ("Castilian Spanish", "es"), "es-MX": ("Mexican Spanish", "es-419"), "es-US": ("US Spanish", "es-419"),
    "it-IT": ("Italian", "it"), "pt-BR": ("Brazilian Portuguese", "pt-br"), "pt-PT": ("Portuguese", "pt"),
    "nl-NL": ("Dutch", "nl"), "nl-BE": ("Belgian Dutch", "nl"), "da-DK": ("Danish", "da"), "sv-SE": ("Swedish", "sv"),
    "nb-NO": ("Norwegian", "nb"), "fi-FI": ("Finnish", "fi"), "is-IS": ("Icelandic", "is"), "pl-PL": ("Polish", "pl"),
    "ru-RU": ("Russian", "ru"), "tr-TR": ("Turkish", "tr"), "ro-RO": ("Romanian", "ro"), "cs-CZ": ("Czech", "cs"),
    "cy-GB": ("Welsh", "cy"), "ca-ES": ("Catalan", "ca"), "arb": ("Arabic", "ar"), "ar-AE": ("Gulf Arabic", "ar"),
    "cmn-CN": ("Chinese Mandarin", "cmn"), "yue-CN": ("Cantonese", "yue"), "ja-JP": ("Japanese", "ja"),
    "ko-KR": ("Korean", "ko"), "hi-IN": ("Hindi", "hi"),
}

# (id, gender, language[, additional languages]); English ids also get the neural voice.
_VOICES = [
    ("Joanna", "F", "en-US"), ("Matthew", "M", "en-US"), ("Ivy", "F", "en-US"), ("Joey", "M", "en-US"),
    ("Justin", "M", "en-US"), ("Kendra", "F", "en-US"), ("Kevin", "M", "en-US"), ("Kimberly", "F", "en-US"),
    ("Salli", "F", "en-US"), ("Ruth", "F", "en-US"), ("Stephen", "M", "en-US"), ("Danielle", "F", "en-US"),
    ("Gregory", "M", "en-US"), ("Tiffany", "F", "en-US"),
    ("Amy", "F", "en-GB"), ("Brian", "M", "en-GB"), ("Emma", "F", "en-GB"), ("Arthur", "M", "en-GB"),
    ("Nicole", "F", "en-AU"), ("Russell", "M", "en-AU"), ("Olivia", "F", "en-AU"),
    ("Aditi", "F", "en-IN", ("hi-IN",)), ("Raveena", "F", "en-IN"), ("Kajal", "F", "en-IN", ("hi-IN",)),
    ("Geraint", "M", "en-GB-WLS"), ("Aria", "F", "en-NZ"), ("Ayanda", "F", "en-ZA"), ("Niamh", "F", "en-IE"),
    ("Jasmine", "F", "en-SG"),
    ("Celine", "F", "fr-FR"), ("Mathieu", "M", "fr-FR"), ("Lea", "F", "fr-FR"), ("Remi", "M", "fr-FR"), ("Ambre", "F", "fr-FR"),
    ("Florian", "M", "fr-FR"),
    ("Chantal", "F", "fr-CA"), ("Gabrielle", "F", "fr-CA"), ("Liam", "M", "fr-CA"), ("Isabelle", "F", "fr-BE"),
    ("Marlene", "F", "de-DE"), ("Hans", "M", "de-DE"), ("Vicki", "F", "de-DE"), ("Daniel", "M", "de-DE"), ("Lennart", "M", "de-DE"),
    ("Hannah", "F", "de-AT"), ("Sabrina", "F", "de-CH"),
    ("Conchita", "F", "es-ES"), ("Enrique", "M", "es-ES"), ("Lucia", "F", "es-ES"), ("Sergio", "M", "es-ES"),
    ("Mia", "F", "es-MX"), ("Andres", "M", "es-MX"), ("Penelope", "F", "es-US"), ("Miguel", "M", "es-US"),
    ("Lupe", "F", "es-US"), ("Pedro", "M", "es-US"),
    ("Carla", "F", "it-IT"), ("Giorgio", "M", "it-IT"), ("Bianca", "F", "it-IT"), ("Adriano", "M", "it-IT"), ("Beatrice", "F", "it-IT"),
    ("Lorenzo", "M", "it-IT"),
    ("Camila", "F", "pt-BR"), ("Ricardo", "M", "pt-BR"), ("Vitoria", "F", "pt-BR"), ("Thiago", "M", "pt-BR"),
    ("Ines", "F", "pt-PT"), ("Cristiano", "M", "pt-PT"),
    ("Lotte", "F", "nl-NL"), ("Ruben", "M", "nl-NL"), ("Laura", "F", "nl-NL"), ("Lisa", "F", "nl-BE"),
    ("Naja", "F", "da-DK"), ("Mads", "M", "da-DK"), ("Sofie", "F", "da-DK"), ("Astrid", "F", "sv-SE"),
    ("Elin", "F", "sv-SE"), ("Liv", "F", "nb-NO"), ("Ida", "F", "nb-NO"), ("Suvi", "F", "fi-FI"),
    ("Dora", "F", "is-IS"), ("Karl", "M", "is-IS"), ("Ewa", "F", "pl-PL"), ("Maja", "F", "pl-PL"),
    ("Jacek", "M", "pl-PL"), ("Jan", "M", "pl-PL"), ("Ola", "F", "pl-PL"), ("Tatyana", "F", "ru-RU"),
    ("Maxim", "M", "ru-RU"), ("Filiz", "F", "tr-TR"), ("Burcu", "F", "tr-TR"), ("Carmen", "F", "ro-RO"),
    ("Jitka", "F", "cs-CZ"), ("Gwyneth", "F", "cy-GB"), ("Arlet", "F", "ca-ES"), ("Zeina", "F", "arb"),
    ("Hala", "F", "ar-AE"), ("Zayd", "M", "ar-AE"), ("Zhiyu", "F", "cmn-CN"), ("Hiujin", "F", "yue-CN"),
    ("Mizuki", "F", "ja-JP"), ("Takumi", "M", "ja-JP"), ("Kazuha", "F", "ja-JP"), ("Tomoko", "F", "ja-JP"),
    ("Seoyeon", "F", "ko-KR"), ("Jihye", "F", "ko-KR"),
]

# US English female voices whose standard engine is Festival's CMU ARCTIC slt (HTS): far clearer than espeak-ng.
FESTIVAL_VOICES = {"Joanna", "Salli", "Kimberly", "Kendra", "Ivy"}

# espeak-ng variants giving each gender a distinct character.
_FEMALE_VARIANTS = ["f3", "f2", "f4", "f1", "f5"]
_MALE_VARIANTS = ["m3", "m1", "m2", "m4", "m7"]


def _build() -> dict[str, VoiceInfo]:
    voices: dict[str, VoiceInfo] = {}
    counters: dict[tuple[str, str], int] = {}
    for entry in _VOICES:
        voice_id, gender, language = entry[:3]
        additional = entry[3] if len(entry) > 3 else ()
        name, espeak = _LANG[language]
        n = counters.get((espeak, gender), 0)
        counters[(espeak, gender)] = n + 1
        variants = _FEMALE_VARIANTS if gender == "F" else _MALE_VARIANTS
        voices[voice_id] = VoiceInfo(voice_id, "Female" if gender == "F" else "Male", language, name,
                                     f"{espeak}+{variants[n % len(variants)]}", language.startswith("en"),
                                     tuple(additional), voice_id in FESTIVAL_VOICES)
    return voices


VOICES: dict[str, VoiceInfo] = _build()


def language_name(code: str) -> str:
    return _LANG.get(code, (code, ""))[0]


def espeak_language(code: str) -> str | None:
    """espeak-ng voice for a Polly / BCP-47 language code (`fr-FR` -> `fr`), None when unknown."""
    if code in _LANG:
        return _LANG[code][1]
    base = code.split("-")[0].lower()
    for key, (_, espeak) in _LANG.items():
        if key.split("-")[0].lower() == base:
            return espeak
    return None


def supported_engines(voice: VoiceInfo) -> list[str]:
    return ["neural", "standard", "long-form", "generative"] if voice.neural else ["standard"]
