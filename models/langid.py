"""Language identification with py3langid (BSD-3-Clause), loaded from resolved weights."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

    from models.settings import ModelSettings

Ranking = list[tuple[str, float]]


class LangIdEngine:
    """Ranks the languages of a text; thread-safe (scoring only reads the model)."""

    def __init__(self, identifier: LanguageIdentifier, weights: ResolvedWeights) -> None:
        self.identifier = identifier
        self.weights = weights

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> LangIdEngine:
        from py3langid.langid import LanguageIdentifier

        path = weights.path
        if path.name.endswith(".plzma"):
            # Pickled model of py3langid < 0.4.
            loader = getattr(LanguageIdentifier, "from_pickled_model", None)
            if loader is None:
                raise ValueError(
                    f"{path}: pickled .plzma models need py3langid < 0.4; the installed one reads .npz.xz models"
                )
            identifier = loader(path, norm_probs=True)
        else:
            identifier = LanguageIdentifier.from_modelpath(path, norm_probs=True)
        return cls(identifier, weights)

    @property
    def languages(self) -> list[str]:
        return list(self.identifier.labels)

    def rank(self, text: str | bytes, top: int | None = 3) -> Ranking:
        """The `top` most likely languages (ISO 639 codes) with probabilities, best first; `top=None`: all."""
        if top is not None and top < 1:
            raise ValueError("top must be at least 1")
        ranking = self.identifier.rank(text)
        return [(code, float(prob)) for code, prob in ranking[:top]]

    def classify_many(self, texts: Iterable[str | bytes], top: int | None = 3) -> list[Ranking]:
        """`rank` for each text, in order (the batch function for `MicroBatcher`)."""
        return [self.rank(text, top) for text in texts]
