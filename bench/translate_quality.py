"""Translation quality of each available engine: chrF (and BLEU) with sacrebleu on a small hand-written
English/Spanish/Catalan parallel set (30 everyday sentences, written for this benchmark; references are one
human translation each, so scores are lower than multi-reference figures).

Engines are called directly (the same ones the gateway routes to): Apertium for every pair it has, a pivot through
English where it has none (es->ca), and the neural engine when `AIGATE_MODELS_DIR`/`AIGATE_MODEL_PATHS` point at
neural models that cover these pairs.

    .venv/bin/python bench/translate_quality.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sacrebleu  # noqa: E402

from models.registry import ModelRegistry  # noqa: E402
from services.gateway.config import Settings  # noqa: E402

# (English, Spanish, Catalan)
PARALLEL = [
    ("The house is very big.", "La casa es muy grande.", "La casa és molt gran."),
    ("My brother works in a hospital.", "Mi hermano trabaja en un hospital.", "El meu germà treballa en un hospital."),
    ("We eat bread and cheese every morning.", "Comemos pan y queso cada mañana.",
     "Mengem pa i formatge cada matí."),
    ("The children are playing in the park.", "Los niños están jugando en el parque.",
     "Els nens estan jugant al parc."),
    ("I do not like cold coffee.", "No me gusta el café frío.", "No m'agrada el cafè fred."),
    ("The train leaves at eight o'clock.", "El tren sale a las ocho.", "El tren surt a les vuit."),
    ("She bought a new car last week.", "Ella compró un coche nuevo la semana pasada.",
     "Ella va comprar un cotxe nou la setmana passada."),
    ("The city has many old churches.", "La ciudad tiene muchas iglesias antiguas.",
     "La ciutat té moltes esglésies antigues."),
    ("Where is the nearest pharmacy?", "¿Dónde está la farmacia más cercana?", "On és la farmàcia més propera?"),
    ("The weather will be good tomorrow.", "El tiempo será bueno mañana.", "El temps serà bo demà."),
    ("We need more water for the plants.", "Necesitamos más agua para las plantas.",
     "Necessitem més aigua per a les plantes."),
    ("The doctor said that I must rest.", "El médico dijo que debo descansar.", "El metge va dir que he de descansar."),
    ("They live in a small village near the sea.", "Viven en un pueblo pequeño cerca del mar.",
     "Viuen en un poble petit a prop del mar."),
    ("The book is on the table.", "El libro está sobre la mesa.", "El llibre és sobre la taula."),
    ("I want to learn a new language.", "Quiero aprender un idioma nuevo.", "Vull aprendre una llengua nova."),
    ("The shop closes at nine in the evening.", "La tienda cierra a las nueve de la noche.",
     "La botiga tanca a les nou del vespre."),
    ("My mother reads the newspaper every day.", "Mi madre lee el periódico todos los días.",
     "La meva mare llegeix el diari cada dia."),
    ("The government will build a new school.", "El gobierno construirá una escuela nueva.",
     "El govern construirà una escola nova."),
    ("The dog sleeps under the bed.", "El perro duerme debajo de la cama.", "El gos dorm sota el llit."),
    ("We travelled to the mountains in summer.", "Viajamos a las montañas en verano.",
     "Vam viatjar a les muntanyes a l'estiu."),
    ("The students write a long letter.", "Los estudiantes escriben una carta larga.",
     "Els estudiants escriuen una carta llarga."),
    ("This restaurant serves fresh fish.", "Este restaurante sirve pescado fresco.",
     "Aquest restaurant serveix peix fresc."),
    ("The museum is open on Sundays.", "El museo está abierto los domingos.", "El museu és obert els diumenges."),
    ("I lost my keys in the street.", "Perdí mis llaves en la calle.", "Vaig perdre les claus al carrer."),
    ("The company sells computers and phones.", "La empresa vende ordenadores y teléfonos.",
     "L'empresa ven ordinadors i telèfons."),
    ("Our teacher speaks three languages.", "Nuestro profesor habla tres idiomas.",
     "El nostre professor parla tres idiomes."),
    ("The river crosses the whole country.", "El río cruza todo el país.", "El riu travessa tot el país."),
    ("It is raining and the streets are wet.", "Está lloviendo y las calles están mojadas.",
     "Està plovent i els carrers estan molls."),
    ("The workers ask for a better salary.", "Los trabajadores piden un salario mejor.",
     "Els treballadors demanen un salari millor."),
    ("We will visit our grandparents next month.", "Visitaremos a nuestros abuelos el mes que viene.",
     "Visitarem els nostres avis el mes que ve."),
]
COLUMN = {"en": 0, "es": 1, "ca": 2}
PAIRS = [("en", "es"), ("es", "en"), ("en", "ca"), ("ca", "en"), ("es", "ca")]


def main() -> None:
    settings = Settings()
    registry = ModelRegistry(settings)
    engines = {}
    for name in ("apertium", "neural-mt"):
        try:
            engines[name] = registry.get(name)
        except Exception as error:  # no weights for it here
            reason = str(error).splitlines()[0].removesuffix("; tried:")
            print(f"{name:10s} not available: {reason} (see AIGATE_MODELS_DIR in the README's Translate section)")
    rows = []
    headline = None
    print(f"{'engine':22s} {'pair':6s} {'chrF':>6s} {'BLEU':>6s} {'sent/s':>8s}")
    for source, target in PAIRS:
        sources = [row[COLUMN[source]] for row in PARALLEL]
        references = [row[COLUMN[target]] for row in PARALLEL]
        for name, engine in engines.items():
            pairs = set(engine.pairs)
            if (source, target) in pairs:
                route = [(source, target)]
                label = name
            elif (source, "en") in pairs and ("en", target) in pairs:
                route = [(source, "en"), ("en", target)]
                label = f"{name} (pivot en)"
            else:
                continue
            started = time.perf_counter()
            hypotheses = sources
            for step in route:
                hypotheses = engine.translate(hypotheses, *step)
            elapsed = time.perf_counter() - started
            chrf = sacrebleu.corpus_chrf(hypotheses, [references]).score
            bleu = sacrebleu.corpus_bleu(hypotheses, [references]).score
            rows.append((label, f"{source}-{target}", chrf, bleu))
            print(f"{label:22s} {source}-{target:3s} {chrf:6.1f} {bleu:6.1f} {len(sources) / elapsed:8.1f}")
            if name == "apertium" and (source, target) == ("en", "es"):
                headline = chrf
    registry.close()
    if headline is None:
        print("translate_quality: no engine for en-es (goal chrF >= 50)")
        return
    print(f"translate_quality: chrF {headline:.1f} apertium en-es (goal >= 50)")


if __name__ == "__main__":
    main()
