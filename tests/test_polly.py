"""Polly through unmodified boto3 against a running gateway: real synthesis (Piper neural, espeak-ng standard),
audio decoded back with PyAV, speech marks, SSML, lexicons, synthesis tasks to S3 and AWS errors."""

from __future__ import annotations

import io
import json
import time
import uuid

import av
import numpy as np
import pytest
import requests

from tests.helpers import error_code, error_code_and_message, wait_for_synthesis_task


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Encoded audio -> mono float samples and rate."""
    container = av.open(io.BytesIO(data))
    stream = container.streams.audio[0]
    chunks = [frame.to_ndarray().astype(np.float32) for frame in container.decode(stream)]
    rate = stream.codec_context.sample_rate
    samples = np.concatenate([c.mean(axis=0) if c.ndim == 2 and c.shape[0] <= 2 else c.reshape(-1) for c in chunks])
    if np.abs(samples).max() > 2:  # integer formats
        samples = samples / 32768
    return samples, rate


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def speak(polly, **kwargs) -> tuple[bytes, dict]:
    kwargs.setdefault("VoiceId", "Joanna")
    result = polly.synthesize_speech(**kwargs)
    return result["AudioStream"].read(), result


def marks(polly, **kwargs) -> list[dict]:
    data, result = speak(polly, OutputFormat="json", **kwargs)
    assert result["ContentType"] == "application/x-json-stream"
    return [json.loads(line) for line in data.decode().splitlines() if line]


def voiced_seconds(samples: np.ndarray, rate: int) -> float:
    frame = rate // 50
    energy = np.array([np.sqrt(np.mean(samples[i:i + frame] ** 2)) for i in range(0, len(samples) - frame, frame)])
    return float((energy > 0.02).sum()) / 50


# ---------------------------------------------------------------- audio formats and engines

@pytest.mark.parametrize("engine", ["neural", "standard"])
def test_mp3_has_speech(polly, engine):
    data, result = speak(polly, Text="The quick brown fox jumps over the lazy dog.", OutputFormat="mp3",
                         Engine=engine)
    assert result["ContentType"] == "audio/mpeg"
    assert result["RequestCharacters"] == 44
    samples, rate = decode(data)
    assert rate == (24000 if engine == "neural" else 22050)  # Polly's defaults per engine
    assert 1.5 < len(samples) / rate < 6
    assert voiced_seconds(samples, rate) > 1.0


@pytest.mark.parametrize("fmt,rate,content_type", [("ogg_vorbis", "16000", "audio/ogg"), ("ogg_opus", "48000", "audio/ogg"),
                                                   ("mp3", "8000", "audio/mpeg")])
def test_other_formats_and_rates(polly, fmt, rate, content_type):
    data, result = speak(polly, Text="Testing one two three.", OutputFormat=fmt, SampleRate=rate, Engine="neural")
    assert result["ContentType"] == content_type
    samples, decoded_rate = decode(data)
    assert decoded_rate == int(rate)
    assert voiced_seconds(samples, decoded_rate) > 0.5


def test_pcm_is_16_bit_mono_at_the_requested_rate(polly):
    data16, result = speak(polly, Text="Testing one two three.", OutputFormat="pcm", Engine="neural")
    data8, _ = speak(polly, Text="Testing one two three.", OutputFormat="pcm", SampleRate="8000", Engine="neural")
    assert result["ContentType"] == "audio/pcm"
    seconds16, seconds8 = len(data16) / 2 / 16000, len(data8) / 2 / 8000
    assert 0.8 < seconds16 < 4 and abs(seconds16 - seconds8) < 0.35  # same speech, half the samples
    assert voiced_seconds(pcm(data16), 16000) > 0.5


def test_standard_voices_of_other_languages(polly):
    data, _ = speak(polly, Text="Bonjour tout le monde, comment allez-vous ?", VoiceId="Celine", OutputFormat="pcm")
    assert voiced_seconds(pcm(data), 16000) > 1.0
    data, _ = speak(polly, Text="Guten Morgen, wie geht es Ihnen?", VoiceId="Hans", OutputFormat="pcm")
    assert voiced_seconds(pcm(data), 16000) > 1.0


def test_voices_of_different_gender_sound_different(polly):
    female, _ = speak(polly, Text="Good morning everyone.", VoiceId="Joanna", OutputFormat="pcm")
    male, _ = speak(polly, Text="Good morning everyone.", VoiceId="Matthew", OutputFormat="pcm")
    assert female != male


def test_streams_first_sentence_before_the_rest_is_synthesized(gateway):
    text = " ".join(f"This is sentence number {n}, which is long enough to take a while to say." for n in range(8))
    started = time.perf_counter()
    with requests.post(f"{gateway.url}/v1/speech", json={"Text": text, "VoiceId": "Joanna", "Engine": "neural",
                                                       "OutputFormat": "mp3"}, stream=True, timeout=120) as response:
        assert response.status_code == 200
        chunks = response.iter_content(chunk_size=None)
        first = next(chunks)
        first_at = time.perf_counter() - started
        rest = b"".join(chunks)
        total = time.perf_counter() - started
    assert first and len(rest) > len(first)
    assert first_at < total / 2, (first_at, total)


# ---------------------------------------------------------------- voices

def test_describe_voices(polly):
    voices = polly.describe_voices()["Voices"]
    by_id = {voice["Id"]: voice for voice in voices}
    assert {"Joanna", "Matthew", "Amy", "Celine", "Hans"} <= set(by_id)
    assert by_id["Joanna"] == {"Gender": "Female", "Id": "Joanna", "LanguageCode": "en-US",
                               "LanguageName": "US English", "Name": "Joanna",
                               "SupportedEngines": ["neural", "standard", "long-form", "generative"]}
    assert by_id["Celine"]["SupportedEngines"] == ["standard"]
    neural = polly.describe_voices(Engine="neural")["Voices"]
    assert neural and all("neural" in voice["SupportedEngines"] for voice in neural)
    assert "Celine" not in {voice["Id"] for voice in neural}
    french = polly.describe_voices(LanguageCode="fr-FR")["Voices"]
    assert {voice["LanguageCode"] for voice in french} == {"fr-FR"}
    hindi = polly.describe_voices(LanguageCode="hi-IN", IncludeAdditionalLanguageCodes=True)["Voices"]
    assert "Aditi" in {voice["Id"] for voice in hindi}


def test_every_listed_voice_speaks(polly):
    for voice in polly.describe_voices(Engine="standard")["Voices"]:
        data, _ = speak(polly, Text="Hello there, one two three.", VoiceId=voice["Id"], OutputFormat="pcm",
                        Engine="standard")
        assert voiced_seconds(pcm(data), 16000) > 0.2, voice["Id"]
    data, _ = speak(polly, Text="Hello there.", VoiceId="Brian", OutputFormat="pcm", Engine="neural")
    assert voiced_seconds(pcm(data), 16000) > 0.2


# ---------------------------------------------------------------- errors

def test_errors(polly):
    assert error_code(lambda: speak(polly, Text="x" * 3001, OutputFormat="mp3")) == "TextLengthExceededException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", SampleRate="44100")) == \
        "InvalidSampleRateException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="pcm", SampleRate="24000")) == \
        "InvalidSampleRateException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", VoiceId="Celine", Engine="neural")) == \
        "EngineNotSupportedException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", LanguageCode="fr-FR")) == \
        "LanguageNotSupportedException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", SpeechMarkTypes=["word"])) == \
        "MarksNotSupportedForFormatException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="json", SpeechMarkTypes=["ssml"])) == \
        "SsmlMarksNotSupportedForTextTypeException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", LexiconNames=["missing"])) == \
        "LexiconNotFoundException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="wav")) == "ValidationException"
    assert error_code(lambda: speak(polly, Text="hi", OutputFormat="mp3", VoiceId="Nobody")) == "ValidationException"
    assert error_code(lambda: polly.describe_voices(NextToken="bogus")) == "InvalidNextTokenException"


@pytest.mark.parametrize("ssml,reason", [
    ("<speak>unclosed", "well-formed"),
    ("<speak><blink>x</blink></speak>", "unsupported SSML tag <blink>"),
    ("<speak>a <break time=\"11s\"/> b</speak>", "maximum of 10s"),
    ("<speak>a <break strength=\"huge\"/> b</speak>", "break strength"),
    ("<speak><prosody rate=\"999%\">x</prosody></speak>", "prosody rate"),
    ("<speak><prosody pitch=\"loud\">x</prosody></speak>", "prosody pitch"),
    ("<speak><say-as interpret-as=\"date\" format=\"mdy\">13/45/2020</say-as></speak>", "month 13"),
    ("<speak><say-as interpret-as=\"poem\">x</say-as></speak>", "interpret-as 'poem'"),
    ("<speak><phoneme alphabet=\"klingon\" ph=\"x\">x</phoneme></speak>", "alphabet"),
    ("<p>not speak</p>", "root element must be <speak>"),
    ("<speak><lang xml:lang=\"xx-YY\">x</lang></speak>", "xml:lang"),
    ("<!DOCTYPE speak [<!ENTITY x \"boom\">]><speak>&x;</speak>", "DOCTYPE"),
    ("<speak>&undefined;</speak>", "well-formed"),
])
def test_invalid_ssml(polly, ssml, reason):
    code, message = error_code_and_message(lambda: speak(polly, Text=ssml, TextType="ssml", OutputFormat="mp3"))
    assert code == "InvalidSsmlException"
    assert reason in message


def test_invalid_ssml_over_native_http(gateway):
    response = requests.post(f"{gateway.url}/v1/speech", timeout=30, json={
        "Text": "<speak><foo/></speak>", "TextType": "ssml", "VoiceId": "Joanna", "OutputFormat": "mp3"})
    assert response.status_code == 400
    assert response.json()["__type"].endswith("InvalidSsmlException")


# ---------------------------------------------------------------- speech marks

def test_word_and_sentence_marks_use_byte_offsets(polly):
    text = "Café prices rose. Naïve investors paid €5 more!"
    found = marks(polly, Text=text, SpeechMarkTypes=["sentence", "word"], Engine="neural")
    raw = text.encode("utf-8")
    sentences = [m for m in found if m["type"] == "sentence"]
    words = [m for m in found if m["type"] == "word"]
    assert [m["value"] for m in sentences] == ["Café prices rose.", "Naïve investors paid €5 more!"]
    assert [m["value"] for m in words] == ["Café", "prices", "rose", "Naïve", "investors", "paid", "€5", "more"]
    for mark in sentences + words:
        assert raw[mark["start"]:mark["end"]].decode("utf-8") == mark["value"]
    times = [m["time"] for m in words]
    assert times == sorted(times) and times[-1] > 1000
    audio, _ = speak(polly, Text=text, OutputFormat="pcm", Engine="neural")
    assert times[-1] < len(audio) / 2 / 16000 * 1000  # the last word starts inside the audio


def test_ssml_and_viseme_marks(polly):
    ssml = '<speak>Hello <mark name="here"/>world. <break time="800ms"/><mark name="end"/>Bye.</speak>'
    found = marks(polly, Text=ssml, TextType="ssml", SpeechMarkTypes=["ssml", "word", "viseme"], Engine="neural")
    ssml_marks = [m for m in found if m["type"] == "ssml"]
    assert [m["value"] for m in ssml_marks] == ["here", "end"]
    raw = ssml.encode()
    assert raw[ssml_marks[0]["start"]:ssml_marks[0]["end"]] == b'<mark name="here"/>'
    word_times = {m["value"]: m["time"] for m in found if m["type"] == "word"}
    assert ssml_marks[0]["time"] == word_times["world"]
    assert ssml_marks[1]["time"] >= word_times["world"] + 800  # after the break
    visemes = [m for m in found if m["type"] == "viseme"]
    assert {"p", "t", "o", "sil"} & {m["value"] for m in visemes}
    assert all(set(m) == {"time", "type", "value"} for m in visemes)


@pytest.mark.parametrize("voice", ["Joanna", "Matthew"])  # Festival slt HTS, espeak-ng
def test_standard_engine_word_marks(polly, voice):
    found = marks(polly, Text="One two three four five.", SpeechMarkTypes=["word"], Engine="standard",
                  VoiceId=voice)
    assert [m["value"] for m in found] == ["one", "two", "three", "four", "five"] or \
        [m["value"] for m in found] == ["One", "two", "three", "four", "five"]
    times = [m["time"] for m in found]
    assert times == sorted(times) and times[-1] - times[0] > 600
    visemes = marks(polly, Text="Five people.", SpeechMarkTypes=["viseme"], Engine="standard", VoiceId=voice)
    assert [m["value"] for m in visemes][:2] == ["f", "a"] and "p" in {m["value"] for m in visemes}


# ---------------------------------------------------------------- SSML effects on audio

def duration(polly, text, **kwargs) -> float:
    data, _ = speak(polly, Text=text, TextType="ssml", OutputFormat="pcm", **kwargs)
    return len(data) / 2 / 16000


@pytest.mark.parametrize("engine", ["neural", "standard"])
def test_break_and_rate_change_duration(polly, engine):
    plain = duration(polly, "<speak>I will wait here for you.</speak>", Engine=engine)
    pause = duration(polly, '<speak>I will wait <break time="2s"/> here for you.</speak>', Engine=engine)
    slow = duration(polly, '<speak><prosody rate="50%">I will wait here for you.</prosody></speak>', Engine=engine)
    fast = duration(polly, '<speak><prosody rate="x-fast">I will wait here for you.</prosody></speak>', Engine=engine)
    assert 1.8 < pause - plain < 2.4
    assert slow > plain * 1.5
    assert fast < plain * 0.85


@pytest.mark.parametrize("voice", ["Joanna", "Matthew"])
def test_standard_voices_follow_ssml_phonemes_and_lang(polly, voice):
    """Festival says plain words; <phoneme> and <lang> runs of its voices are said by espeak-ng."""
    ssml = ('<speak>I like <phoneme alphabet="ipa" ph="pɪˈkɑːn">pecan</phoneme> pie, '
            '<lang xml:lang="de-DE">danke schön</lang>.</speak>')
    found = marks(polly, Text=ssml, TextType="ssml", SpeechMarkTypes=["word"], Engine="standard", VoiceId=voice)
    assert [m["value"] for m in found] == ["I", "like", "pecan", "pie", "danke", "schön"]
    times = [m["time"] for m in found]
    assert times == sorted(times) and times[-1] > times[0] + 500
    data, _ = speak(polly, Text=ssml, TextType="ssml", OutputFormat="pcm", Engine="standard", VoiceId=voice)
    assert voiced_seconds(pcm(data), 16000) > 1.0


def test_volume_pitch_whisper_breath_and_lang(polly):
    loud, _ = speak(polly, Text="<speak>Good evening.</speak>", TextType="ssml", OutputFormat="pcm", Engine="neural")
    soft, _ = speak(polly, Text='<speak><prosody volume="x-soft">Good evening.</prosody></speak>', TextType="ssml",
                    OutputFormat="pcm", Engine="neural")
    assert np.sqrt(np.mean(pcm(soft) ** 2)) < 0.4 * np.sqrt(np.mean(pcm(loud) ** 2))
    for engine in ("neural", "standard"):
        for body in ('<prosody pitch="+30%">Good evening.</prosody>',
                     '<amazon:effect name="whispered">Good evening.</amazon:effect>',
                     'Good <amazon:breath duration="long"/> evening.',
                     '<lang xml:lang="fr-FR">Bonjour mes amis.</lang>',
                     '<emphasis level="strong">Good</emphasis> evening.'):
            data, _ = speak(polly, Text=f"<speak>{body}</speak>", TextType="ssml", OutputFormat="pcm", Engine=engine)
            assert voiced_seconds(pcm(data), 16000) > 0.3, (engine, body)
            assert data != loud


def test_say_as_sub_and_phoneme_marks_keep_the_input_text(polly):
    ssml = ('<speak>Call <say-as interpret-as="telephone">555-0123</say-as> on '
            '<say-as interpret-as="date" format="mdy">12/25/2024</say-as> about the '
            '<sub alias="World Wide Web Consortium">W3C</sub> <phoneme alphabet="ipa" ph="pɪˈkɑːn">pecan</phoneme>'
            ' for <say-as interpret-as="characters">ABC</say-as>.</speak>')
    found = marks(polly, Text=ssml, TextType="ssml", SpeechMarkTypes=["word"], Engine="neural")
    values = [m["value"] for m in found]
    assert values == ["Call", "555-0123", "on", "12/25/2024", "about", "the", "W3C", "pecan", "for", "ABC"]
    times = {m["value"]: m["time"] for m in found}
    # the expansions take the time of their spoken words: "five five five, zero one two three" is long
    assert times["on"] - times["555-0123"] > 1200
    assert times["about"] - times["12/25/2024"] > 1200
    assert times["pecan"] - times["W3C"] > 1000


# ---------------------------------------------------------------- lexicons

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
      alphabet="{alphabet}" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
  <lexeme><grapheme>Qbit</grapheme><phoneme>{phoneme}</phoneme></lexeme>
</lexicon>"""


def test_lexicon_lifecycle_and_application(polly):
    name = f"lex{uuid.uuid4().hex[:8]}"
    polly.put_lexicon(Name=name, Content=PLS.format(alphabet="ipa", phoneme="ˈkjuːbɪt"))
    got = polly.get_lexicon(Name=name)
    assert got["Lexicon"]["Name"] == name and "W3C" in got["Lexicon"]["Content"]
    attributes = got["LexiconAttributes"]
    assert attributes["Alphabet"] == "ipa" and attributes["LanguageCode"] == "en-US"
    assert attributes["LexemesCount"] == 2 and attributes["Size"] > 100
    assert attributes["LexiconArn"].endswith(f":lexicon/{name}")
    assert name in {item["Name"] for item in polly.list_lexicons()["Lexicons"]}

    text = "The W3C met."
    without = marks(polly, Text=text, SpeechMarkTypes=["word"], Engine="neural")
    with_lexicon = marks(polly, Text=text, SpeechMarkTypes=["word"], Engine="neural", LexiconNames=[name])
    assert [m["value"] for m in with_lexicon] == ["The", "W3C", "met"]
    span = lambda found: found[2]["time"] - found[1]["time"]  # noqa: E731
    assert span(with_lexicon) > span(without) + 250  # "World Wide Web Consortium" is longer than "W three C"

    polly.put_lexicon(Name=name, Content=PLS.format(alphabet="x-sampa", phoneme='"kju:bIt'))
    assert polly.get_lexicon(Name=name)["LexiconAttributes"]["Alphabet"] == "x-sampa"
    data, _ = speak(polly, Text="A Qbit.", OutputFormat="pcm", Engine="standard", LexiconNames=[name])
    assert voiced_seconds(pcm(data), 16000) > 0.3

    polly.delete_lexicon(Name=name)
    assert error_code(lambda: polly.get_lexicon(Name=name)) == "LexiconNotFoundException"
    assert error_code(lambda: polly.delete_lexicon(Name=name)) == "LexiconNotFoundException"


@pytest.mark.parametrize("content,code", [
    ("<lexicon", "InvalidLexiconException"),
    (PLS.format(alphabet="arpabet", phoneme="K"), "UnsupportedPlsAlphabetException"),
    (PLS.format(alphabet="ipa", phoneme="k").replace('xml:lang="en-US"', 'xml:lang="xx-XX"'),
     "UnsupportedPlsLanguageException"),
    (PLS.format(alphabet="ipa", phoneme="k" * 150), "MaxLexemeLengthExceededException"),
    (PLS.format(alphabet="ipa", phoneme="k").replace("</lexicon>", "<!--" + "x" * 40000 + "--></lexicon>"),
     "LexiconSizeExceededException"),
])
def test_bad_lexicons(polly, content, code):
    assert error_code(lambda: polly.put_lexicon(Name="badlex", Content=content)) == code


def test_lexicons_are_per_region(gateway):
    east, west = gateway.client("polly", region="us-east-1"), gateway.client("polly", region="eu-west-1")
    east.put_lexicon(Name="regional", Content=PLS.format(alphabet="ipa", phoneme="k"))
    assert "regional" not in {item["Name"] for item in west.list_lexicons()["Lexicons"]}
    assert error_code(lambda: west.get_lexicon(Name="regional")) == "LexiconNotFoundException"
    east.delete_lexicon(Name="regional")


# ---------------------------------------------------------------- synthesis tasks

def test_synthesis_task_to_s3(polly, s3, bucket):
    # 14 sentences: more than one checkpointed step (12 sentences each)
    text = " ".join(f"Paragraph {n} is read aloud here." for n in range(14))
    task = polly.start_speech_synthesis_task(Text=text, VoiceId="Matthew", Engine="neural", OutputFormat="mp3",
                                             OutputS3BucketName=bucket, OutputS3KeyPrefix="audio/")["SynthesisTask"]
    assert task["TaskStatus"] in ("scheduled", "inProgress")
    assert task["RequestCharacters"] == len(text) and task["SampleRate"] == "24000"
    assert task["OutputUri"].endswith(f"/{bucket}/audio/{task['TaskId']}.mp3")
    done = wait_for_synthesis_task(polly, task["TaskId"])
    assert done["TaskStatus"] == "completed", done
    data = s3.get_object(Bucket=bucket, Key=f"audio/{task['TaskId']}.mp3")["Body"].read()
    samples, rate = decode(data)
    assert len(samples) / rate > 15 and voiced_seconds(samples, rate) > 10

    marks_task = polly.start_speech_synthesis_task(
        Text=text, VoiceId="Matthew", Engine="standard", OutputFormat="json", SpeechMarkTypes=["sentence", "word"],
        OutputS3BucketName=bucket)["SynthesisTask"]
    assert wait_for_synthesis_task(polly, marks_task["TaskId"])["TaskStatus"] == "completed"
    lines = s3.get_object(Bucket=bucket, Key=f"{marks_task['TaskId']}.marks")["Body"].read().decode().splitlines()
    found = [json.loads(line) for line in lines]
    words = [m for m in found if m["type"] == "word"]
    assert len(words) == len(text.split())
    assert [m["time"] for m in words] == sorted(m["time"] for m in words)
    assert words[-1]["time"] > 15_000  # times run across the task's steps
    assert text.encode()[words[-1]["start"]:words[-1]["end"]].decode() == "here"

    listed = polly.list_speech_synthesis_tasks(Status="completed")["SynthesisTasks"]
    assert {task["TaskId"], marks_task["TaskId"]} <= {item["TaskId"] for item in listed}
    page = polly.list_speech_synthesis_tasks(MaxResults=1)
    assert len(page["SynthesisTasks"]) == 1 and page["NextToken"]


def test_synthesis_task_errors(polly, bucket):
    assert error_code(lambda: polly.get_speech_synthesis_task(TaskId="0" * 32)) == "SynthesisTaskNotFoundException"
    too_long = "word " * 20_001
    assert error_code(lambda: polly.start_speech_synthesis_task(
        Text=too_long, VoiceId="Joanna", OutputFormat="mp3", OutputS3BucketName=bucket)) == \
        "TextLengthExceededException"
    assert error_code(lambda: polly.start_speech_synthesis_task(
        Text="<speak><bad/></speak>", TextType="ssml", VoiceId="Joanna", OutputFormat="mp3",
        OutputS3BucketName=bucket)) == "InvalidSsmlException"
    missing = polly.start_speech_synthesis_task(Text="Hello.", VoiceId="Joanna", OutputFormat="mp3",
                                                OutputS3BucketName=f"missing-{uuid.uuid4().hex[:8]}")["SynthesisTask"]
    failed = wait_for_synthesis_task(polly, missing["TaskId"])
    assert failed["TaskStatus"] == "failed" and failed["TaskStatusReason"]


def test_rest_json_routes_reach_each_operation(gateway, polly):
    """Path labels and methods route to the right handler: the error names the resource asked for."""
    code, message = error_code_and_message(lambda: polly.get_lexicon(Name="mylexicon"))
    assert code == "LexiconNotFoundException" and "mylexicon" in message
    assert polly.list_lexicons()["Lexicons"] is not None
    coverage = requests.get(gateway.url + "/v1/coverage", timeout=10).json()["polly"]
    assert len(coverage["implemented"]) == 12  # botocore 1.44's model adds Tag/Untag/ListTagsForResource
    # the HTTP/2 bidirectional event stream has no counterpart here yet
    assert coverage["not_implemented"] == ["StartSpeechSynthesisStream"]


# ---------------------------------------------------------------- optional Coqui TTS engine

def test_coqui_engine_loading_path(tmp_path):
    """No Coqui model (nor the coqui-tts package) can be had offline here: this checks the loading path as far as
    it goes — weights resolved from a models folder, the model folder's files found, and a clear error naming the
    missing package (or, where coqui-tts is installed, the checkpoint loaded by its Synthesizer)."""
    import importlib.util

    from models.catalog import CATALOG
    from models.coqui_tts import CoquiEngine, CoquiUnavailable, model_files
    from models.weights import resolve_weights
    from services.gateway.config import Settings

    folder = tmp_path / "coqui"
    folder.mkdir()
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path)
    with pytest.raises(Exception):
        resolve_weights(CATALOG["coqui"], settings)  # nothing there yet
    (folder / "config.json").write_text(json.dumps({"model": "vits", "audio": {"sample_rate": 22050}}))
    weights = resolve_weights(CATALOG["coqui"], settings)
    assert weights.source == "models_dir" and weights.path == folder / "config.json"
    with pytest.raises(CoquiUnavailable, match="no checkpoint"):
        model_files(weights.path)
    (folder / "best_model.pth").write_bytes(b"not a real checkpoint")
    assert model_files(weights.path) == (folder / "best_model.pth", folder / "config.json")
    if importlib.util.find_spec("TTS") is None:
        with pytest.raises(CoquiUnavailable, match="coqui-tts package is not installed"):
            CoquiEngine.load(weights)
    else:
        with pytest.raises(Exception):
            CoquiEngine.load(weights)  # a corrupt checkpoint must fail loudly, not speak


@pytest.mark.parametrize("fmt", ["mp3", "ogg_vorbis", "ogg_opus"])
def test_nothing_to_say_gives_a_valid_file(polly, fmt):
    for text, text_type in (("...", "text"), ("<speak><break time=\"1s\"/></speak>", "ssml")):
        data, _ = speak(polly, Text=text, TextType=text_type, OutputFormat=fmt, Engine="neural")
        samples, rate = decode(data)
        assert rate > 0 and voiced_seconds(samples, rate) == 0


def test_every_polly_voice_id_is_served(polly):
    import botocore.session

    ids = set(botocore.session.get_session().get_service_model("polly").shape_for("VoiceId").enum)
    assert {voice["Id"] for voice in polly.describe_voices()["Voices"]} == ids - UNMAPPED_VOICES
    # The ids botocore 1.44 added, whose language this gateway has not mapped: refused, not guessed.
    for voice_id in sorted(UNMAPPED_VOICES & ids):
        code = error_code(lambda: polly.synthesize_speech(Text="hi", VoiceId=voice_id, OutputFormat="mp3"))
        assert code == "ValidationException", voice_id


# Voice ids new in botocore 1.44's model (AWS's newest voices) that services/polly/voices.py does not map to a
# language and installed voice yet.
UNMAPPED_VOICES = {"Arjun", "Carlos", "Carolina", "Curtis", "Hyunduk", "Kenneth", "Kiara", "Leo", "Nate", "Tina"}


def test_concurrent_requests_on_every_engine(gateway):
    """espeak-ng (global state) and Festival (one process) are serialised inside; Piper runs in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("Joanna", "standard"), ("Matthew", "standard"), ("Joanna", "neural"), ("Celine", "standard")] * 3

    def one(job):
        client = gateway.client("polly")
        voice, engine = job
        data, _ = speak(client, Text=f"Request for {voice} on the {engine} engine, number one.", VoiceId=voice,
                        Engine=engine, OutputFormat="pcm")
        found = marks(client, Text="One two three.", VoiceId=voice, Engine=engine, SpeechMarkTypes=["word"])
        return voiced_seconds(pcm(data), 16000), len(found)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, jobs))
    assert all(seconds > 0.8 and words == 3 for seconds, words in results), results
