"""Settings.Profanity = MASK: profane words and phrases in the translation become `?$#@$` (what AWS writes).

The word lists are small and hand-written (common profanity of each language the engines output); a word list
is never complete, and languages without a list here are left unmasked (AppliedSettings then omits Profanity).
Words that are harmless in another language (French "con" is Spanish "with") are left out, because the
source language's list is applied to the output too (for words an engine leaves untranslated).
"""

from __future__ import annotations

import re

MASK = "?$#@$"

WORDS: dict[str, tuple[str, ...]] = {
    "en": ("fuck", "fucking", "fucked", "fucker", "motherfucker", "shit", "shitty", "bullshit", "bitch", "bitches",
           "bastard", "asshole", "arsehole", "dick", "dickhead", "cunt", "piss", "pissed", "wanker", "twat",
           "damn", "goddamn", "crap", "slut", "whore", "prick", "bollocks"),
    "es": ("mierda", "joder", "jodido", "jodida", "puta", "puto", "putas", "putos", "cabrón", "cabrona",
           "gilipollas", "coño", "polla", "carajo", "pendejo", "pendeja", "maricón", "hostia", "cojones",
           "follar", "capullo", "zorra", "imbécil", "chingar", "chingada"),
    "ca": ("merda", "collons", "puta", "puto", "fotre", "fotut", "fotuda", "cabró", "gilipolles", "cony",
           "polla", "hòstia", "imbècil", "malparit"),
    "gl": ("merda", "carallo", "caralludo", "puta", "cona", "fillo de puta", "joder", "hostia", "cabrón"),
    "fr": ("merde", "putain", "connard", "connasse", "salope", "enculé", "bordel", "chier",
           "bite", "couille", "couilles", "pute", "nique"),
    "de": ("scheiße", "scheisse", "arschloch", "fick", "ficken", "fotze", "hure", "wichser", "schlampe",
           "verdammt", "kacke", "miststück"),
    "it": ("cazzo", "merda", "stronzo", "stronza", "puttana", "vaffanculo", "fottuto", "coglione", "troia",
           "minchia"),
    "pt": ("merda", "porra", "caralho", "puta", "foda", "foder", "fodido", "cacete", "buceta", "viado",
           "cabrão", "otário"),
    "hr": ("jebote", "jebati", "jebem", "kurac", "pička", "sranje", "kurva", "govno", "pizda"),
    "sr": ("jebote", "jebati", "jebem", "kurac", "pička", "sranje", "kurva", "govno", "pizda"),
    "bs": ("jebote", "jebati", "jebem", "kurac", "pička", "sranje", "kurva", "govno", "pizda"),
    "eo": ("fek", "feka", "fekulo", "putino", "merdo", "fiki", "fikulo", "aĉulo"),
}
_PATTERNS = {
    lang: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                     + r")(?!\w)", re.IGNORECASE)
    for lang, words in WORDS.items()
}


def supports(language: str) -> bool:
    return language.split("-")[0] in _PATTERNS


def mask(text: str, language: str) -> str:
    pattern = _PATTERNS.get(language.split("-")[0])
    return pattern.sub(MASK, text) if pattern else text
