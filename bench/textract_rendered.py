"""Textract on documents rendered here with exact truth: an invoice-like form (title, "Label: value" fields,
checkboxes, a ruled line-item table) drawn with reportlab, sent as the born-digital PDF and as scans of it —
clean, blurred, noisy, skewed by 2 degrees — through a running gateway (boto3 AnalyzeDocument TABLES + FORMS).

Scores per variant, against the truth the renderer knows (not against another answer of ours):
- words: F1 of the word multiset (text only: a skewed scan moves every box);
- table cells: the fraction of the table's cells whose text is read exactly, in the right row and column;
- key-values: the fraction of the form's fields answered as a KEY_VALUE_SET with the right value;
- checkboxes: the fraction of boxes found with the right state.

    .venv/bin/python bench/textract_rendered.py [--endpoint URL]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import textract_scoring as scoring  # noqa: E402

FIELDS = [("Invoice number", "INV-20417"), ("Invoice date", "2026-11-02"), ("Customer", "Harbor Tools Ltd"),
          ("Due date", "2026-12-02")]
CHECKBOXES = [("Paid", True), ("Shipped", False), ("Taxable", True)]
TABLE = [["Item", "Quantity", "Unit price", "Amount"],
         ["Steel hinges", "12", "3.40", "40.80"],
         ["Brass screws", "200", "0.05", "10.00"],
         ["Oak panel", "3", "27.50", "82.50"],
         ["Wall bracket", "8", "4.25", "34.00"]]
TITLE = "ACME Hardware Invoice"
GOAL_WORDS = 0.95


def render_pdf() -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    width, height = letter
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(72, height - 80, TITLE)
    pdf.setFont("Helvetica", 12)
    y = height - 130
    for label, value in FIELDS:
        pdf.drawString(72, y, f"{label}: {value}")
        y -= 24
    y -= 10
    x = 72
    for label, checked in CHECKBOXES:
        pdf.rect(x, y - 2, 12, 12)
        if checked:
            pdf.line(x + 2, y, x + 10, y + 8)
            pdf.line(x + 2, y + 8, x + 10, y)
        pdf.drawString(x + 18, y, label)
        x += 120
    top = y - 40
    widths = [200, 90, 100, 90]
    row_height = 24
    for r, row in enumerate(TABLE):
        cx = 72
        pdf.setFont("Helvetica-Bold" if r == 0 else "Helvetica", 12)
        for c, text in enumerate(row):
            pdf.rect(cx, top - row_height * (r + 1), widths[c], row_height)
            pdf.drawString(cx + 6, top - row_height * (r + 1) + 8, text)
            cx += widths[c]
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scans(pdf: bytes) -> dict[str, bytes]:
    import numpy as np
    import pypdfium2
    from PIL import Image, ImageFilter

    document = pypdfium2.PdfDocument(pdf)
    clean = document[0].render(scale=200 / 72).to_pil().convert("RGB")
    document.close()
    rng = np.random.default_rng(7)
    noisy = np.asarray(clean, dtype=np.float32) + rng.normal(0, 14, (clean.height, clean.width, 1))
    variants = {
        "scan clean": clean,
        "scan blurred": clean.filter(ImageFilter.GaussianBlur(1.3)),
        "scan noisy": Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
        "scan skewed 2°": clean.rotate(2, resample=Image.BICUBIC, expand=True, fillcolor="white"),
    }
    out = {}
    for name, image in variants.items():
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        out[name] = buffer.getvalue()
    return out


def truth_words() -> Counter:
    texts = [TITLE, *(f"{label}: {value}" for label, value in FIELDS), *(label for label, _ in CHECKBOXES),
             *(cell for row in TABLE for cell in row)]
    return Counter(word for text in texts for word in text.split())


def score(response: dict) -> dict[str, float]:
    ours = Counter(block["Text"] for block in response["Blocks"] if block["BlockType"] == "WORD")
    truth = truth_words()
    matched = sum((ours & truth).values())
    words = scoring.prf(matched, sum(ours.values()), sum(truth.values()))["f1"]
    best_cells = 0.0
    for _, cells in scoring.tables(response):
        right = sum(cells.get((r + 1, c + 1), "") == scoring.loose(text) for r, row in enumerate(TABLE)
                    for c, text in enumerate(row))
        best_cells = max(best_cells, right / sum(len(row) for row in TABLE))
    pairs = {scoring.loose(key).rstrip(":"): scoring.loose(value) for key, value in scoring.key_values(response)}
    key_values = sum(pairs.get(scoring.loose(label)) == scoring.loose(value) for label, value in FIELDS) / len(FIELDS)
    marks = [block for block in response["Blocks"] if block["BlockType"] == "SELECTION_ELEMENT"]
    right_marks = 0
    for label, checked in CHECKBOXES:
        # The mark nearest to the left of the label's word.
        [word] = [b for b in response["Blocks"] if b["BlockType"] == "WORD" and b["Text"] == label][:1] or [None]
        if word is None or not marks:
            continue
        wbox = word["Geometry"]["BoundingBox"]
        near = min(marks, key=lambda m: abs(m["Geometry"]["BoundingBox"]["Top"] - wbox["Top"]) * 4
                   + abs(m["Geometry"]["BoundingBox"]["Left"] - wbox["Left"]))
        right_marks += (near["SelectionStatus"] == "SELECTED") == checked
    return {"words": words, "tables": best_cells, "key_values": key_values,
            "checkboxes": right_marks / len(CHECKBOXES)}


def run(endpoint: str) -> dict[str, dict[str, float]]:
    import boto3
    from botocore.config import Config

    textract = boto3.client("textract", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                            aws_secret_access_key="bench", config=Config(read_timeout=600, retries={"max_attempts": 1}))
    pdf = render_pdf()
    documents = {"born-digital PDF": pdf, **scans(pdf)}
    results = {}
    for name, data in documents.items():
        response = textract.analyze_document(Document={"Bytes": data}, FeatureTypes=["TABLES", "FORMS"])
        results[name] = score(response)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="use this running gateway instead of starting one")
    args = parser.parse_args(argv)
    if args.endpoint:
        results = run(args.endpoint)
    else:
        from tests.conftest import GatewayProcess

        with tempfile.TemporaryDirectory(prefix="aigate-textract-rendered-") as tmp:
            gateway = GatewayProcess(Path(tmp) / "data", env={"AIGATE_LOG_LEVEL": "WARNING"}).start(timeout=120)
            try:
                results = run(gateway.url)
            finally:
                gateway.stop()
    keys = ["words", "tables", "key_values", "checkboxes"]
    print(f"{'document':<20}" + "".join(f"{key:>12}" for key in keys))
    for name, row in results.items():
        print(f"{name:<20}" + "".join(f"{row[key]:>12.3f}" for key in keys))
    scanned = [row for name, row in results.items() if name.startswith("scan")]
    means = {key: sum(row[key] for row in scanned) / len(scanned) for key in keys}
    print(f"{'mean of the scans':<20}" + "".join(f"{means[key]:>12.3f}" for key in keys))
    print(f"textract_rendered: scanned words F1 {means['words']:.3f} (goal {GOAL_WORDS:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
