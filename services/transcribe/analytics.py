"""Call analytics (post-call): a stereo call (agent and customer on their own channels, or a mono call split by
diarization) is recognised, cut into turns, and analysed: per-turn sentiment (Comprehend's BatchDetectSentiment,
in-process), talk time, non-talk time, interruptions, talk speed, issues, and the caller's categories (rules on
words, sentiment, interruptions and non-talk time). The output JSON follows AWS's call-analytics structure."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from services.gateway.context import Principal
from services.gateway.jobs import JobRun
from services.gateway.runtime import runtime
from services.transcribe.errors import BadRequest
from services.transcribe.jobs import (
    DEFAULT_BUCKET,
    output_uri,
    pii_detector,
    recognize,
    vocabulary_and_filter,
    write_output,
)
from services.transcribe.resources import CATEGORIES, CallCategory, vocabulary_language
from services.transcribe.transcript import Token, apply_filter, join_text, redact

CALL_ANALYTICS = "transcribe.call-analytics"
TURN_GAP = 1.0  # seconds of a speaker's silence that end their turn
NON_TALK_MIN_MS = 3000  # AWS reports silences of 3 s or more
SENTIMENT_SCALE = 5.0  # AWS scores sentiment from -5 to 5
ISSUE_CUES = ("not working", "doesn't work", "does not work", "isn't working", "problem", "issue", "broken",
              "error", "wrong", "charged twice", "double charged", "can't", "cannot", "unable to", "never arrived",
              "didn't arrive", "did not arrive", "refund", "complaint", "cancel", "late", "missing", "damaged")


def roles_of(request: dict) -> dict[int, str]:
    return {d["ChannelId"]: d["ParticipantRole"] for d in request.get("ChannelDefinitions") or []} or \
        {0: "AGENT", 1: "CUSTOMER"}


def output_location(request: dict, name: str) -> tuple[str, str]:
    location = request.get("OutputLocation")
    if not location:
        return DEFAULT_BUCKET, f"analytics/{name}.json"
    rest = location[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if key.endswith(".json"):
        return bucket, key
    return bucket, f"{key.rstrip('/') + '/' if key else ''}{name}.json"


# ---------------------------------------------------------------- turns and characteristics


def turns_of(tokens: list[Token], roles: dict[int, str]) -> list[dict]:
    """Consecutive words of one channel with no pause over TURN_GAP make a turn; turns sorted by start."""
    turns: list[dict] = []
    current: dict[int, dict] = {}
    for token in tokens:
        turn = current.get(token.channel)
        if token.type == "punctuation":
            if turn:
                turn["tokens"].append(token)
            continue
        if turn is None or token.start - turn["end"] > TURN_GAP or turn["tokens"][-1].content in (".", "?", "!") \
                and token.start - turn["end"] > 0.6:
            turn = {"channel": token.channel, "role": roles.get(token.channel, "AGENT"), "tokens": [],
                    "start": token.start, "end": token.end}
            current[token.channel] = turn
            turns.append(turn)
        turn["tokens"].append(token)
        turn["end"] = max(turn["end"], token.end)
    turns.sort(key=lambda t: t["start"])
    for turn in turns:
        turn["text"] = join_text(turn["tokens"])
        turn["words"] = sum(1 for t in turn["tokens"] if t.type == "pronunciation")
    return turns


def sentiments(principal: Principal, texts: list[str], language: str) -> list[dict]:
    """Comprehend's sentiment for each text, in batches of 25 (its batch limit)."""
    code = language.split("-")[0]
    out: list[dict] = []
    for start in range(0, len(texts), 25):
        batch = [text.encode()[:4900].decode(errors="ignore") or "." for text in texts[start:start + 25]]
        result = runtime().dispatcher.call_wire("comprehend", "BatchDetectSentiment", principal,
                                                {"TextList": batch, "LanguageCode": code}, "transcribe-analytics")
        found = {item["Index"]: item for item in result.get("ResultList", [])}
        for index in range(len(batch)):
            item = found.get(index)
            out.append(item or {"Sentiment": "NEUTRAL", "SentimentScore": {"Positive": 0, "Negative": 0,
                                                                           "Neutral": 1, "Mixed": 0}})
    return out


def score_of(item: dict) -> float:
    scores = item["SentimentScore"]
    return round(SENTIMENT_SCALE * (float(scores["Positive"]) - float(scores["Negative"])), 2)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def characteristics(turns: list[dict], duration: float, roles: dict[int, str]) -> dict:
    participants = sorted(set(roles.values()))
    talk = {role: sum(t["end"] - t["start"] for t in turns if t["role"] == role) for role in participants}
    words = {role: sum(t["words"] for t in turns if t["role"] == role) for role in participants}
    # Non-talk time: stretches where nobody speaks.
    spans = sorted((t["start"], t["end"]) for t in turns)
    silences, cursor = [], 0.0
    for start, end in spans + [(duration, duration)]:
        if _ms(start - cursor) >= NON_TALK_MIN_MS:
            silences.append({"BeginOffsetMillis": _ms(cursor), "EndOffsetMillis": _ms(start),
                             "DurationMillis": _ms(start - cursor)})
        cursor = max(cursor, end)
    # Interruptions: a turn that starts while the other participant's turn is still going.
    interruptions: dict[str, list[dict]] = {}
    for index, turn in enumerate(turns):
        for other in turns[:index]:
            if other["role"] != turn["role"] and other["start"] < turn["start"] < other["end"] - 0.2:
                interruptions.setdefault(turn["role"], []).append({
                    "BeginOffsetMillis": _ms(turn["start"]), "EndOffsetMillis": _ms(min(other["end"], turn["end"])),
                    "DurationMillis": _ms(min(other["end"], turn["end"]) - turn["start"])})
                break
    overall = {}
    quarters: dict[str, list[dict]] = {}
    for role in participants:
        own = [t for t in turns if t["role"] == role]
        weight = sum(t["words"] for t in own) or 1
        overall[role] = round(sum(t["score"] * t["words"] for t in own) / weight, 2) if own else 0.0
        periods = []
        for quarter in range(4):
            a, b = duration * quarter / 4, duration * (quarter + 1) / 4
            inside = [t for t in own if a <= (t["start"] + t["end"]) / 2 < b]
            w = sum(t["words"] for t in inside)
            score = round(sum(t["score"] * t["words"] for t in inside) / w, 2) if w else 0.0
            periods.append({"BeginOffsetMillis": _ms(a), "EndOffsetMillis": _ms(b), "Score": score})
        quarters[role] = periods
    return {
        "NonTalkTime": {"Instances": silences, "TotalTimeMillis": sum(s["DurationMillis"] for s in silences)},
        "Interruptions": {"TotalCount": sum(len(v) for v in interruptions.values()),
                          "TotalTimeMillis": sum(i["DurationMillis"] for v in interruptions.values() for i in v),
                          "InterruptionsByInterrupter": interruptions},
        "TotalConversationDurationMillis": _ms(duration),
        "Sentiment": {"OverallSentiment": overall, "SentimentByPeriod": {"QUARTER": quarters}},
        "TalkSpeed": {"DetailsByParticipant": {
            role: {"AverageWordsPerMinute": int(round(words[role] / (talk[role] / 60))) if talk[role] else 0}
            for role in participants}},
        "TalkTime": {"DetailsByParticipant": {role: {"TotalTimeMillis": _ms(talk[role])} for role in participants},
                     "TotalTimeMillis": _ms(sum(talk.values()))},
    }


def issues_in(text: str) -> list[dict]:
    """Sentences that state a problem (phrase cues): their character offsets in the turn."""
    found, start = [], 0
    lowered = text.lower()
    for end in [i + 1 for i, ch in enumerate(text) if ch in ".?!"] + [len(text)]:
        if end <= start:
            continue
        sentence = lowered[start:end]
        if any(cue in sentence for cue in ISSUE_CUES):
            begin = start + (len(sentence) - len(sentence.lstrip()))
            found.append({"CharacterOffsets": {"Begin": begin, "End": end}})
        start = end
    return found


# ---------------------------------------------------------------- categories


def _in_range(turn: dict, rule: dict, duration: float) -> bool:
    absolute, relative = rule.get("AbsoluteTimeRange"), rule.get("RelativeTimeRange")
    start_ms, end_ms = turn["start"] * 1000, turn["end"] * 1000
    total = duration * 1000
    if absolute:
        if "First" in absolute:
            return start_ms <= absolute["First"]
        if "Last" in absolute:
            return end_ms >= total - absolute["Last"]
        return start_ms >= absolute.get("StartTime", 0) and end_ms <= absolute.get("EndTime", total)
    if relative:
        if "First" in relative:
            return start_ms <= total * relative["First"] / 100
        if "Last" in relative:
            return end_ms >= total * (1 - relative["Last"] / 100)
        return start_ms >= total * relative.get("StartPercentage", 0) / 100 and \
            end_ms <= total * relative.get("EndPercentage", 100) / 100
    return True


def _rule_hits(rule: dict, turns: list[dict], chars: dict, duration: float) -> tuple[bool, list[dict]]:
    (kind, spec), = ((k, v) for k, v in rule.items() if v is not None)
    role = spec.get("ParticipantRole")
    scoped = [t for t in turns if (role is None or t["role"] == role) and _in_range(t, spec, duration)]
    points: list[dict] = []
    if kind == "TranscriptFilter":
        targets = [target.lower() for target in spec["Targets"]]
        for turn in scoped:
            text = " ".join(turn["text"].lower().replace(",", " ").replace(".", " ").replace("?", " ").split())
            if any(f" {target} " in f" {text} " for target in targets):
                points.append({"BeginOffsetMillis": _ms(turn["start"]), "EndOffsetMillis": _ms(turn["end"])})
        hit = bool(points)
    elif kind == "SentimentFilter":
        wanted = set(spec["Sentiments"])
        points = [{"BeginOffsetMillis": _ms(t["start"]), "EndOffsetMillis": _ms(t["end"])}
                  for t in scoped if t["sentiment"] in wanted]
        hit = bool(points)
    elif kind == "InterruptionFilter":
        found = [i for who, items in chars["Interruptions"]["InterruptionsByInterrupter"].items()
                 if role is None or who == role for i in items]
        threshold = spec.get("Threshold", 0)
        found = [i for i in found if i["DurationMillis"] >= threshold]
        points = [{"BeginOffsetMillis": i["BeginOffsetMillis"], "EndOffsetMillis": i["EndOffsetMillis"]}
                  for i in found]
        hit = bool(found)
    else:  # NonTalkTimeFilter
        threshold = spec.get("Threshold", NON_TALK_MIN_MS)
        found = [s for s in chars["NonTalkTime"]["Instances"] if s["DurationMillis"] >= threshold]
        points = [{"BeginOffsetMillis": s["BeginOffsetMillis"], "EndOffsetMillis": s["EndOffsetMillis"]}
                  for s in found]
        hit = bool(found)
    if spec.get("Negate"):
        return not hit, []
    return hit, points


def match_categories(categories: list[dict], turns: list[dict], chars: dict, duration: float) -> dict:
    matched, details = [], {}
    for category in categories:
        points: list[dict] = []
        ok = True
        for rule in category["Rules"]:
            hit, found = _rule_hits(rule, turns, chars, duration)
            if not hit:
                ok = False
                break
            points.extend(found)
        if ok:
            matched.append(category["CategoryName"])
            details[category["CategoryName"]] = {"PointsOfInterest": points}
    return {"MatchedCategories": matched, "MatchedDetails": details}


# ---------------------------------------------------------------- the job


def analyse(principal: Principal, name: str, request: dict, recognized: dict, filter_words: list[str] | None,
            categories: list[dict]) -> dict:
    settings = request.get("Settings") or {}
    roles = roles_of(request)
    tokens = [Token(**token) for token in recognized["tokens"]]
    if filter_words:
        tokens = apply_filter(tokens, filter_words, settings.get("VocabularyFilterMethod") or "mask")
    redaction = settings.get("ContentRedaction")
    if redaction:
        tokens = redact(tokens, pii_detector(principal), set(redaction.get("PiiEntityTypes") or ["ALL"]))
    turns = turns_of(tokens, roles)
    found = sentiments(principal, [t["text"] for t in turns], recognized["language"]) if turns else []
    for turn, item in zip(turns, found):
        turn["sentiment"], turn["score"] = item["Sentiment"], score_of(item)
    duration = recognized["duration"]
    chars = characteristics(turns, duration, roles)
    document = {
        "JobName": name, "AccountId": principal.account_id, "JobStatus": "COMPLETED",
        "LanguageCode": recognized["language"], "Channel": "VOICE", "Version": "1.0.0",
        "ContentMetadata": {"Output": "Redacted" if redaction else "Raw"},
        "Participants": [{"ParticipantRole": role} for role in sorted(set(roles.values()))],
        "Transcript": [{
            "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{index}")),
            "ParticipantRole": turn["role"], "Content": turn["text"],
            "BeginOffsetMillis": _ms(turn["start"]), "EndOffsetMillis": _ms(turn["end"]),
            "Sentiment": turn["sentiment"],
            "IssuesDetected": issues_in(turn["text"]) if turn["role"] == "CUSTOMER" else [],
            "Items": [{"Content": t.content, "Type": t.type, "Confidence": round(t.confidence, 4),
                       **({"BeginOffsetMillis": _ms(t.start), "EndOffsetMillis": _ms(t.end)}
                          if t.type == "pronunciation" else {}),
                       **({"VocabularyFilterMatch": True} if t.extra.get("vocabulary_filter_match") else {})}
                      for t in turn["tokens"]],
        } for index, turn in enumerate(turns)],
        "Categories": match_categories(categories, turns, chars, duration),
        "ConversationCharacteristics": chars,
    }
    bucket, key = output_location(request, name)
    write_output(principal.account_id, bucket, key, orjson.dumps(document), "application/json")
    uri = output_uri({"OutputBucketName": None if bucket == DEFAULT_BUCKET else bucket}, bucket, key,
                     principal.account_id)
    result = {"TranscriptFileUri": uri, "language": recognized["language"], "score": recognized["score"],
              "rate": recognized["rate"], "duration": duration}
    if redaction:
        result["RedactedTranscriptFileUri"] = uri
    return result


def run_call_analytics(run: JobRun) -> dict:
    """A call analytics job's work (registered as the runner of the call analytics JobApi)."""
    request = run.request
    settings = request.get("Settings") or {}
    options = settings.get("LanguageOptions") or []
    asr_request: dict[str, Any] = {"Media": request["Media"], "Settings": {"ChannelIdentification": True},
                                   "CallAnalytics": True}
    if len(options) == 1:
        asr_request["LanguageCode"] = options[0]
    elif options:
        asr_request.update(IdentifyLanguage=True, LanguageOptions=options)
    else:
        asr_request["LanguageCode"] = "en-US"
    vocabulary, filter_words = vocabulary_and_filter(run.principal, settings)
    language = vocabulary_language(run.principal, settings) if vocabulary else None
    categories = [{"CategoryName": row.name, "Rules": row.rules}
                  for row in CATEGORIES.list(run.principal, CallCategory.input_type == "POST_CALL")]
    recognized = run.step(recognize, run.principal.account_id, asr_request, vocabulary, language,
                          name="recognize")
    if not recognized["tokens"]:
        raise BadRequest("The media file holds no speech that could be transcribed.")
    run.progress(1, 2)
    return run.step(analyse, run.principal, run.name, request, recognized, filter_words, categories,
                    name="analyse")
