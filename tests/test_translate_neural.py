"""The neural MT engine's real loading and generation paths (transformers MarianMT, and the same model converted
to CTranslate2), and the gateway's routing to it.

No neural MT weights can be had offline here, so the test builds a tiny randomly initialised MarianMT model
itself (a sentencepiece vocabulary trained on a few sentences, `save_pretrained`) and converts it with
CTranslate2's own converter. Its translations are nonsense: the assertions check the plumbing (which engine
answers which pair, pivots, shapes of the output), not the words.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess, s3_env

CORPUS = [
    "The house is red and the car is blue.", "Das Haus ist rot und das Auto ist blau.",
    "We translate short sentences with a tiny model.", "Wir übersetzen kurze Sätze mit einem kleinen Modell.",
    "La maison est rouge et la voiture est bleue.", "El perro come pan en la cocina.",
]


def build_tiny_marian(folder: Path, source: str, target: str) -> Path:
    """A 1-layer MarianMT checkpoint with its tokenizer files, as `save_pretrained` writes them."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    model_io = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 10), model_writer=model_io, vocab_size=60,
                                   model_type="unigram", character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0,
                                   pad_id=-1, hard_vocab_limit=False, minloglevel=2)
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(model_io.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model_io.getvalue())
    vocab = {"</s>": 0, "<unk>": 1}
    for index in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(index), len(vocab))
    vocab["<pad>"] = len(vocab)  # last, as in OPUS-MT vocabularies (CTranslate2's converter expects it there)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"),
                                source_lang=source, target_lang=target)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(tokenizer.get_vocab()), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=vocab["<pad>"],
                          eos_token_id=0, decoder_start_token_id=vocab["<pad>"], forced_eos_token_id=0)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def convert_ct2(folder: Path, output: Path) -> Path:
    import ctranslate2

    ctranslate2.converters.TransformersConverter(
        str(folder), copy_files=["source.spm", "target.spm", "vocab.json", "tokenizer_config.json"],
    ).convert(str(output), force=True)
    return output


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    engine_dir = root / "neural-mt"
    marian = build_tiny_marian(engine_dir / "opus-mt-en-de", "en", "de")
    convert_ct2(marian, engine_dir / "ct2-opus-mt-en-fr")
    # A neural model for a pair Apertium also has: the neural engine must win it.
    shutil.copytree(marian, engine_dir / "opus-mt-en-es")
    # A broken model for en->gl: loading it fails at the first request, and Apertium answers instead.
    (engine_dir / "opus-mt-en-gl").mkdir()
    (engine_dir / "opus-mt-en-gl" / "config.json").write_text('{"model_type": "marian"}')
    # A folder that says nothing about its languages is skipped, not fatal.
    (engine_dir / "mystery").mkdir()
    (engine_dir / "mystery" / "config.json").write_text("{}")
    return root


def test_engine_loads_both_formats(models_dir):
    from models.neural_mt import NeuralMTEngine
    from models.weights import ResolvedWeights

    engine = NeuralMTEngine.load(ResolvedWeights(models_dir / "neural-mt", "models_dir"))
    described = {item["name"]: item for item in engine.describe()}
    assert set(described) == {"opus-mt-en-de", "ct2-opus-mt-en-fr", "opus-mt-en-es", "opus-mt-en-gl"}
    assert described["opus-mt-en-de"]["format"] == "transformers"
    assert described["ct2-opus-mt-en-fr"]["format"] == "ctranslate2"
    assert engine.pairs == [("en", "de"), ("en", "es"), ("en", "fr"), ("en", "gl")]
    for target in ("de", "fr"):
        out = engine.translate(["The house is red.", "A second, longer sentence to translate."], "en", target)
        assert len(out) == 2 and all(isinstance(text, str) and text for text in out)
    with pytest.raises(KeyError):
        engine.translate(["x"], "de", "en")
    engine.close()


def build_tiny_m2m100(folder: Path) -> Path:
    """A 1-layer M2M100 checkpoint (multilingual: target chosen by a forced language token)."""
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    model_io = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS * 10), model_writer=model_io, vocab_size=50,
                                   model_type="unigram", character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0,
                                   pad_id=-1, hard_vocab_limit=False, minloglevel=2)
    (folder / "sentencepiece.bpe.model").write_bytes(model_io.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model_io.getvalue())
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for index in range(processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(index), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = M2M100Tokenizer(str(folder / "vocab.json"), str(folder / "sentencepiece.bpe.model"),
                                src_lang="en", tgt_lang="fr")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = M2M100Config(vocab_size=len(vocab) + len(tokenizer.lang_code_to_id) + 8, d_model=16,
                          encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                          encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=1,
                          bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_engine_m2m100_multilingual(tmp_path):
    from models.neural_mt import NeuralMTEngine
    from models.weights import ResolvedWeights

    build_tiny_m2m100(tmp_path / "m2m100-tiny")
    engine = NeuralMTEngine.load(ResolvedWeights(tmp_path, "models_dir"))
    (model,) = engine.models
    assert model.family == "m2m100" and model.format == "transformers"
    assert {("en", "de"), ("de", "fr"), ("ja", "es")} <= set(engine.pairs)  # every pair of its languages
    out = engine.translate(["The house is red.", "El perro come pan."], "en", "de")
    assert len(out) == 2 and all(isinstance(text, str) for text in out)
    # The forced target-language token is not part of the text.
    assert not any("__de__" in text or "__en__" in text for text in out)
    engine.close()


@pytest.fixture(scope="module")
def neural_gateway(tmp_path_factory, s3_server, models_dir):
    process = GatewayProcess(tmp_path_factory.mktemp("gw-neural") / "data",
                             env={**s3_env(s3_server), "AIGATE_MODELS_DIR": str(models_dir)}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def translate(neural_gateway):
    return neural_gateway.client("translate")


def test_list_languages_includes_neural_pairs(translate):
    codes = {item["LanguageCode"] for item in translate.list_languages()["Languages"]}
    assert {"de", "fr"} <= codes  # from the neural models
    assert {"ca", "gl", "eu"} <= codes  # from Apertium


def test_routes_to_neural_engine(translate):
    for target in ("de", "fr"):
        result = translate.translate_text(Text="The house is red. The car is blue.", SourceLanguageCode="en",
                                          TargetLanguageCode=target)
        assert result["TargetLanguageCode"] == target and result["TranslatedText"].strip()
    # en->es is covered by both engines: the configured neural model wins (its output is not Apertium's Spanish).
    result = translate.translate_text(Text="The house is red.", SourceLanguageCode="en", TargetLanguageCode="es")
    assert "casa" not in result["TranslatedText"].lower()
    # es->en stays on Apertium.
    result = translate.translate_text(Text="La casa es roja.", SourceLanguageCode="es", TargetLanguageCode="en")
    assert "house" in result["TranslatedText"].lower()


def test_broken_model_falls_back_to_apertium(translate):
    for _ in range(2):  # the second request goes straight to Apertium: the broken folder's pairs are withdrawn
        result = translate.translate_text(Text="The house is big.", SourceLanguageCode="en", TargetLanguageCode="gl")
        assert "casa" in result["TranslatedText"].lower()


def test_pivot_across_engines(translate):
    # gl->en (Apertium) then en->de (neural).
    result = translate.translate_text(Text="A casa é grande.", SourceLanguageCode="gl", TargetLanguageCode="de")
    assert result["SourceLanguageCode"] == "gl" and result["TranslatedText"].strip()
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
        translate.translate_text(Text="Das Haus ist rot.", SourceLanguageCode="de", TargetLanguageCode="en")


def test_neural_document_html(translate):
    page = "<html><body><h1>The house</h1><p>The car is <i>blue</i>.</p></body></html>"
    result = translate.translate_document(Document={"Content": page.encode(), "ContentType": "text/html"},
                                          SourceLanguageCode="en", TargetLanguageCode="de")
    out = result["TranslatedDocument"]["Content"].decode()
    assert out.startswith("<html><body><h1>") and "</h1><p>" in out and "<i>" in out and out.endswith(
        "</p></body></html>")
