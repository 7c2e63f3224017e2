"""Neural machine translation from user-supplied model folders (no MT weights ship offline here).

The engine's weights path (`<models_dir>/neural-mt/` or `model_paths["neural-mt"]`) is either one model folder or a
folder of model folders. Each model folder is one of:

- a **CTranslate2** model (`model.bin`): an OPUS-MT/MarianMT, NLLB or M2M100 conversion
  (`ct2-transformers-converter --model Helsinki-NLP/opus-mt-en-de --output_dir opus-mt-en-de`, which copies the
  tokenizer files next to `model.bin`), or an argos-translate package (`model/` + `sentencepiece.model` +
  `metadata.json` with `from_code`/`to_code`);
- a **transformers** checkpoint (`config.json` + weights) of MarianMT, NLLB or M2M100.

Which pairs a folder translates: an optional `aigate.json` (`{"pairs": [["en", "de"]]}` or
`{"languages": ["en", "fr", ...]}` for multilingual models); else argos' `metadata.json`; else the folder name
(`opus-mt-en-de`, `en-de`); multilingual NLLB/M2M100 checkpoints default to every language their tokenizer has
that maps to an AWS code. Models load on first use and stay loaded with the engine.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)

# AWS language code -> FLORES-200 code used by NLLB.
NLLB_CODES = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "bg": "bul_Cyrl", "bn": "ben_Beng",
    "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "id": "ind_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor", "kk": "kaz_Cyrl",
    "kn": "kan_Knda", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym",
    "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "mt": "mlt_Latn", "nl": "nld_Latn", "no": "nob_Latn",
    "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "si": "sin_Sinh", "sk": "slk_Latn", "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl",
    "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn",
    "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "zh": "zho_Hans",
    "zh-TW": "zho_Hant",
}
_NAME_PAIR = re.compile(r"(?:^|[-_.])([a-z]{2,3})-([a-z]{2,3})$")
BATCH_SIZE = 16


class NeuralModelError(RuntimeError):
    pass


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in ("model.bin", "config.json", "metadata.json"))


@dataclass
class NeuralModel:
    """One model folder: what it is, which pairs it serves; loads its weights on first use."""

    path: Path
    format: str  # "ctranslate2" or "transformers"
    family: str  # "marian", "nllb", "m2m100"
    pairs: set[tuple[str, str]]
    model_dir: Path
    _loaded: Any = None
    _tokenizer: Any = None
    _spm: Any = None
    _lang_ids: set[int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def inspect(cls, path: Path) -> NeuralModel:
        manifest = _read_json(path / "aigate.json")
        argos = _read_json(path / "metadata.json")
        model_dir = path / "model" if (path / "model" / "model.bin").exists() else path
        fmt = "ctranslate2" if (model_dir / "model.bin").exists() else "transformers"
        config = _read_json(path / "config.json")
        tok_config = _read_json(path / "tokenizer_config.json")
        tok_class = str(tok_config.get("tokenizer_class", ""))
        model_type = str(config.get("model_type", ""))
        if "Nllb" in tok_class or "nllb" in path.name.lower():
            family = "nllb"
        elif "M2M100" in tok_class or model_type == "m2m_100" or "m2m100" in path.name.lower():
            family = "m2m100"
        else:
            family = manifest.get("family", "marian")
        if fmt == "transformers" and not config:
            raise NeuralModelError(f"{path}: neither model.bin (CTranslate2) nor config.json (transformers)")

        pairs: set[tuple[str, str]] = set()
        if manifest.get("pairs"):
            pairs = {(str(a), str(b)) for a, b in manifest["pairs"]}
        elif manifest.get("languages"):
            langs = [str(code) for code in manifest["languages"]]
            pairs = {(a, b) for a in langs for b in langs if a != b}
        elif argos.get("from_code") and argos.get("to_code"):
            pairs = {(argos["from_code"], argos["to_code"])}
        elif family in ("nllb", "m2m100"):
            langs = cls._tokenizer_languages(path, family)
            pairs = {(a, b) for a in langs for b in langs if a != b}
        else:
            match = _NAME_PAIR.search(path.name.lower())
            if match:
                pairs = {(match.group(1), match.group(2))}
        if not pairs:
            raise NeuralModelError(
                f"{path}: cannot tell which languages it translates; name the folder <src>-<tgt> "
                f"(e.g. opus-mt-en-de) or add aigate.json with {{\"pairs\": [[\"en\", \"de\"]]}}")
        return cls(path=path, format=fmt, family=family, pairs=pairs, model_dir=model_dir)

    @staticmethod
    def _tokenizer_languages(path: Path, family: str) -> list[str]:
        vocab_text = ""
        for name in ("tokenizer.json", "vocab.json", "special_tokens_map.json", "tokenizer_config.json"):
            if (path / name).exists():
                vocab_text += (path / name).read_text(encoding="utf-8", errors="ignore")
        if family == "nllb":
            found = [aws for aws, code in NLLB_CODES.items() if code in vocab_text]
        else:
            found = [code for code in NLLB_CODES if f"__{code}__" in vocab_text]
        if found:
            return found
        # Recent transformers write no language tokens into the files: they come from the tokenizer's own table.
        try:
            if family == "nllb":
                from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as nllb_codes

                return [aws for aws, code in NLLB_CODES.items() if code in set(nllb_codes)]
            from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as m2m_codes

            table = _read_json(path / "tokenizer_config.json").get("language_codes", "m2m100")
            return [code for code in NLLB_CODES if code in set(m2m_codes.get(table, []))]
        except ImportError:
            return []

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        if self._loaded is not None:
            return
        if self.format == "ctranslate2":
            import ctranslate2

            self._loaded = ctranslate2.Translator(str(self.model_dir), device="cpu", compute_type="default",
                                                  inter_threads=1, intra_threads=0)
            if self._has_hf_tokenizer():
                self._tokenizer = self._hf_tokenizer()
            else:
                self._spm = self._sentencepiece()
        else:
            import torch
            from transformers import AutoModelForSeq2SeqLM

            self._tokenizer = self._hf_tokenizer()
            model = AutoModelForSeq2SeqLM.from_pretrained(str(self.path))
            model.eval()
            self._loaded = (model, torch)
        log.info("loaded neural MT model %s (%s, %s)", self.path, self.format, self.family)

    def _has_hf_tokenizer(self) -> bool:
        return any((self.path / name).exists() for name in ("tokenizer_config.json", "tokenizer.json", "source.spm"))

    def _hf_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.path))

    def _sentencepiece(self):
        import sentencepiece

        for name in ("sentencepiece.model", "source.spm", "spm.model"):
            if (self.path / name).exists():
                return sentencepiece.SentencePieceProcessor(model_file=str(self.path / name))
        raise NeuralModelError(f"{self.path}: CTranslate2 model without a tokenizer (sentencepiece.model or "
                               f"the Hugging Face tokenizer files)")

    # ------------------------------------------------------------------ translation

    def _lang_token(self, code: str) -> str:
        if self.family == "nllb":
            return NLLB_CODES.get(code, code)
        if self.family == "m2m100":
            return f"__{code}__"
        return code

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        with self._lock:
            self._load()
        out: list[str] = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = texts[start:start + BATCH_SIZE]
            if self.format == "ctranslate2":
                out.extend(self._translate_ct2(batch, source, target))
            else:
                out.extend(self._translate_hf(batch, source, target))
        return out

    def _set_source(self, source: str) -> None:
        if self.family in ("nllb", "m2m100") and hasattr(self._tokenizer, "src_lang"):
            self._tokenizer.src_lang = self._lang_token(source) if self.family == "nllb" else source

    def _translate_hf(self, texts: list[str], source: str, target: str) -> list[str]:
        model, torch = self._loaded
        tokenizer = self._tokenizer
        self._set_source(source)
        inputs = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=512)
        options: dict[str, Any] = {"num_beams": 2, "max_new_tokens": min(512, 2 * inputs["input_ids"].shape[1] + 16)}
        if self.family in ("nllb", "m2m100"):
            options["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(self._lang_token(target))
        with torch.inference_mode():
            generated = model.generate(**inputs, **options)
        drop = self._language_ids()
        rows = [[int(i) for i in row if int(i) not in drop] for row in generated]
        return [text.strip() for text in tokenizer.batch_decode(rows, skip_special_tokens=True)]

    def _language_ids(self) -> set[int]:
        """Ids of the language tokens (which recent tokenizers do not count as special, so decoding keeps them)."""
        if self.family not in ("nllb", "m2m100"):
            return set()
        if getattr(self, "_lang_ids", None) is None:
            tokens = [self._lang_token(code) for code in NLLB_CODES]
            if self.family == "nllb":
                try:
                    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

                    tokens += list(FAIRSEQ_LANGUAGE_CODES)
                except ImportError:
                    pass
            unk = self._tokenizer.unk_token_id
            ids = {i for i in self._tokenizer.convert_tokens_to_ids(tokens) if i is not None and i != unk}
            ids.update(int(i) for i in (getattr(self._tokenizer, "lang_code_to_id", None) or {}).values())
            self._lang_ids = ids
        return self._lang_ids

    def _translate_ct2(self, texts: list[str], source: str, target: str) -> list[str]:
        translator = self._loaded
        prefix = [[self._lang_token(target)]] * len(texts) if self.family in ("nllb", "m2m100") else None
        if self._tokenizer is not None:
            self._set_source(source)
            tokens = [self._tokenizer.convert_ids_to_tokens(self._tokenizer.encode(text)) for text in texts]
        else:
            tokens = [self._spm.encode(text, out_type=str) for text in texts]
            if self.family in ("nllb", "m2m100"):
                tokens = [[self._lang_token(source), *t, "</s>"] for t in tokens]
        max_len = max((len(t) for t in tokens), default=1)
        results = translator.translate_batch(tokens, target_prefix=prefix, beam_size=2,
                                             max_decoding_length=min(512, 2 * max_len + 16))
        out = []
        for result in results:
            hyp = result.hypotheses[0]
            if prefix:
                hyp = hyp[1:]
            if self._tokenizer is not None:
                drop = self._language_ids()
                ids = [i for i in self._tokenizer.convert_tokens_to_ids(hyp) if i not in drop]
                out.append(self._tokenizer.decode(ids, skip_special_tokens=True).strip())
            else:
                out.append(self._spm.decode(hyp).strip())
        return out

    def close(self) -> None:
        self._loaded = self._tokenizer = self._spm = None


class NeuralMTEngine:
    """Every model folder found under the engine's weights path, by language pair (first folder wins a pair;
    folders are taken in name order, so a specialised `opus-mt-en-de` sorts before `zz-nllb` if so named)."""

    name = "neural-mt"

    def __init__(self, models: list[NeuralModel], weights: ResolvedWeights | None = None):
        self.models = models
        self.weights = weights
        self._broken: set[Path] = set()
        self.by_pair: dict[tuple[str, str], NeuralModel] = {}
        for model in models:
            for pair in sorted(model.pairs):
                self.by_pair.setdefault(pair, model)

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> NeuralMTEngine:
        return cls(cls._scan(weights.path, {}), weights)

    @staticmethod
    def _scan(root: Path, known: dict[Path, NeuralModel]) -> list[NeuralModel]:
        if is_model_folder(root):
            folders = [root]
        elif root.is_dir():
            folders = sorted(p for p in root.iterdir() if is_model_folder(p))
        else:
            folders = []
        models = []
        for folder in folders:
            if folder in known:  # already inspected (and maybe loaded): keep it
                models.append(known[folder])
                continue
            try:
                models.append(NeuralModel.inspect(folder))
            except NeuralModelError as error:
                log.warning("skipping neural MT folder: %s", error)
        return models

    def rescan(self) -> None:
        """Pick up model folders added (or removed) since the engine loaded; loaded models stay loaded."""
        if self.weights is None:
            return
        models = [m for m in self._scan(self.weights.path, {model.path: model for model in self.models})
                  if m.path not in self._broken]
        if [m.path for m in models] != [m.path for m in self.models]:
            by_pair: dict[tuple[str, str], NeuralModel] = {}
            for model in models:
                for pair in sorted(model.pairs):
                    by_pair.setdefault(pair, model)
            self.models, self.by_pair = models, by_pair

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self.by_pair)

    def describe(self) -> list[dict]:
        return [{"name": m.name, "path": str(m.path), "format": m.format, "family": m.family,
                 "pairs": sorted(m.pairs)} for m in self.models]

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        model = self.by_pair.get((source, target))
        if model is None:
            raise KeyError(f"no neural MT model for {source}-{target}")
        try:
            return model.translate(texts, source, target)
        except Exception as error:
            if model._loaded is None:  # the folder cannot be loaded: stop offering its pairs
                log.error("neural MT model %s cannot be loaded (%s: %s); its pairs are withdrawn",
                          model.path, type(error).__name__, error)
                self.models = [m for m in self.models if m is not model]
                self._broken.add(model.path)
                self.by_pair = {pair: m for pair, m in self.by_pair.items() if m is not model}
                for other in self.models:
                    for pair in sorted(other.pairs):
                        self.by_pair.setdefault(pair, other)
            raise

    def close(self) -> None:
        for model in self.models:
            model.close()
