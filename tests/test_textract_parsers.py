"""The libraries people parse Textract with, run unmodified against the gateway: amazon-textract-textractor's
`Textractor(...).analyze_document(...)` (pointed at the gateway by the AWS_ENDPOINT_URL environment variable, which
botocore honours) and amazon-textract-response-parser's `trp.Document` on a boto3 AnalyzeDocument answer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "textract-reference"


def form_with_table() -> bytes:
    """A born-digital page: two "Label: value" fields and a ruled 3 x 3 table with a header row."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 720, "Name: Ada Lovelace")
    pdf.drawString(72, 695, "Account: 55-1234")
    rows = [["Item", "Qty", "Price"], ["Pencils", "12", "3.60"], ["Paper", "2", "9.00"]]
    left, top, width, height = 72, 640, 150, 24
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            pdf.rect(left + c * width, top - (r + 1) * height, width, height)
            pdf.drawString(left + c * width + 6, top - (r + 1) * height + 8, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_trp_parses_tables_and_fields_of_the_gateways_answer(gateway):
    from trp import Document

    textract = gateway.client("textract", read_timeout=300)
    response = textract.analyze_document(Document={"Bytes": form_with_table()}, FeatureTypes=["TABLES", "FORMS"])
    document = Document(response)
    [page] = document.pages
    [table] = page.tables
    assert [[cell.text.strip() for cell in row.cells] for row in table.rows] == [
        ["Item", "Qty", "Price"], ["Pencils", "12", "3.60"], ["Paper", "2", "9.00"]]
    assert page.form.getFieldByKey("Name:").value.text == "Ada Lovelace"
    assert page.form.getFieldByKey("Account:").value.text == "55-1234"
    assert "Name: Ada Lovelace" in [line.text for line in page.lines]


def test_textractor_analyze_document_runs_against_the_gateway(gateway, monkeypatch, tmp_path):
    from textractor import Textractor
    from textractor.data.constants import TextractFeatures

    monkeypatch.setenv("AWS_ENDPOINT_URL", gateway.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    extractor = Textractor(region_name="us-east-1")
    document = extractor.analyze_document(
        file_source=str(REFERENCE / "single-page-1.png"),
        features=[TextractFeatures.TABLES, TextractFeatures.FORMS, TextractFeatures.QUERIES],
        queries=["What is the name of the package?"], save_image=False)
    assert "Textractor Test" in document.text
    assert len(document.tables) >= 1 and document.tables[0].column_count >= 2
    keys = {key_value.key.text.strip().rstrip(":") for key_value in document.key_values}
    assert "Name of package" in keys, keys
    answers = {query.query: (query.result.answer if query.result else None) for query in document.queries}
    assert answers["What is the name of the package?"] == "Textractor"


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch, tmp_path):
    # The parsers build their own boto3 sessions: keep any real AWS configuration of the machine out of them.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
