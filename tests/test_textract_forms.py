"""Textract FORMS (services/textract/forms.py) on real inputs: a form drawn with reportlab read as a born-digital
PDF and as a noisy scan (OCR), a reportlab AcroForm, and a real photographed form beside Amazon Textract's own
answer for it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from services.textract.forms import acroform_fields, find_forms
from services.textract.page import Forms, Page, iou
from services.textract.reading import Document

REFERENCE = Path("/work/shared/textract-reference")

FIELDS = [("Name:", "John Smith"), ("Date of Birth:", "04/12/1985"), ("Phone:", "555-0100"),
          ("City:", "Springfield"), ("Policy Number:", "AB-12345")]
# label, how the box is drawn
CHECKBOXES = [("Married", "x"), ("Single", ""), ("Smoker", "fill"), ("Veteran", "")]
EXPECTED_PAIRS = {"Name": "John Smith", "Date of Birth": "04/12/1985", "Phone": "555-0100", "City": "Springfield",
                  "Policy Number": "AB-12345", "Married": "[X]", "Single": "[ ]", "Smoker": "[X]",
                  "Veteran": "[ ]", "Email": ""}
EXPECTED_STATES = {"Married": True, "Single": False, "Smoker": True, "Veteran": False}


def _form_pdf() -> bytes:
    """A letter page: a big title (round letters that a naive square finder takes for boxes), five filled
    fields, one empty field on an underline, four labelled checkboxes, a grid of square table cells."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setFont("Helvetica-Bold", 40)
    pdf.drawString(72, 700, "ORDER DOCUMENT")
    pdf.setFont("Helvetica", 12)
    y = 640
    for label, value in FIELDS:
        pdf.drawString(72, y, f"{label} {value}")
        y -= 32
    pdf.drawString(72, y, "Email:")
    pdf.line(72 + pdf.stringWidth("Email:", "Helvetica", 12) + 6, y - 2, 300, y - 2)
    y -= 50
    for n, (label, style) in enumerate(CHECKBOXES):
        x, top = 72 + (n % 2) * 200, y - (n // 2) * 36
        pdf.setLineWidth(1)
        pdf.rect(x, top - 3, 14, 14)
        if style == "x":
            pdf.line(x + 2, top - 1, x + 12, top + 9)
            pdf.line(x + 2, top + 9, x + 12, top - 1)
        elif style == "fill":
            pdf.rect(x + 3, top, 8, 8, fill=1)
        pdf.drawString(x + 20, top, label)
    # A 4 x 2 grid of square cells, two of them holding digits: a table, not checkboxes.
    for row in range(2):
        for column in range(4):
            pdf.rect(72 + column * 30, 360 - row * 30, 30, 30)
    pdf.drawString(82, 370, "7")
    pdf.drawString(112, 370, "8")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _pairs(page: Page, forms: Forms) -> dict[str, str]:
    result = {}
    for pair in forms.pairs:
        key = " ".join(page.words[i].text for i in pair.key_words).rstrip(":").strip()
        value = " ".join([page.words[i].text for i in pair.value_words]
                         + ["[X]" if forms.marks[m].selected else "[ ]" for m in pair.value_marks])
        assert key not in result, key
        result[key] = value
    return result


def _states(page: Page, forms: Forms) -> dict[str, bool]:
    return {" ".join(page.words[i].text for i in pair.key_words): forms.marks[pair.value_marks[0]].selected
            for pair in forms.pairs if pair.value_marks}


@pytest.fixture(scope="module")
def form_pdf() -> bytes:
    return _form_pdf()


@pytest.fixture(scope="module")
def digital_page(form_pdf) -> Page:
    return Document(form_pdf, sync=True).page(0, need_image=True)


@pytest.fixture(scope="module")
def models():
    from services.gateway.config import Settings
    from services.gateway.runtime import start_model_worker

    start_model_worker(Settings())


@pytest.fixture(scope="module")
def scanned_page(digital_page, models) -> Page:
    """The form's 200 dpi rendering made to look scanned (a grey cast, sensor noise, a slight blur) and read
    back as a PNG: OCR'd words, marks from the pixels."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(7)
    pixels = digital_page.image.astype(np.float32) * 0.92 + 8 + rng.normal(0, 12, digital_page.image.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Document(buffer.getvalue(), sync=True).page(0, need_image=True)


def test_digital_form_pairs_and_checkboxes_exactly(digital_page):
    assert digital_page.digital and digital_page.image is not None
    forms = find_forms(digital_page)
    assert _pairs(digital_page, forms) == EXPECTED_PAIRS
    # Exactly the four checkboxes: no title letter, no table cell.
    assert len(forms.marks) == 4
    assert _states(digital_page, forms) == EXPECTED_STATES
    # Each checkbox box is where it was drawn: 14 pt squares, 72 pt from the left (first column).
    first = min(forms.marks, key=lambda m: (m.box[1], m.box[0]))
    assert abs(first.box[0] - 72 / 612) < 0.004 and abs((first.box[2] - first.box[0]) - 14 / 612) < 0.004
    # The empty field's value lies right of its key, on the underline.
    email = next(p for p in forms.pairs if digital_page.words[p.key_words[0]].text == "Email:")
    assert email.value_words == [] and email.value_box[0] >= email.key_box[2] - 1e-6
    assert email.value_box[2] == pytest.approx(300 / 612, abs=0.01)


def test_scanned_form_checkbox_states_and_most_pairs(scanned_page):
    assert not scanned_page.digital
    forms = find_forms(scanned_page)
    assert len(forms.marks) == 4
    assert _states(scanned_page, forms) == EXPECTED_STATES
    pairs = _pairs(scanned_page, forms)
    right = [key for key, value in EXPECTED_PAIRS.items() if pairs.get(key) == value]
    assert len(right) >= 9, pairs  # measured 10 of 10; one OCR slip allowed


def test_page_without_image_has_no_marks(digital_page):
    page = Page(number=1, width=digital_page.width, height=digital_page.height, words=digital_page.words,
                lines=digital_page.lines, digital=True, rules=digital_page.rules)
    forms = find_forms(page)
    assert forms.marks == []
    assert _pairs(page, forms) == {k: v for k, v in EXPECTED_PAIRS.items() if v not in ("[X]", "[ ]")}


# ------------------------------------------------------------------------------------------ AcroForm


def _acroform_pdf() -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.drawString(72, 712, "Name")
    pdf.acroForm.textfield(name="name", value="Jane Roe", x=150, y=700, width=200, height=20)
    pdf.acroForm.textfield(name="city", value="", x=150, y=660, width=200, height=20)
    pdf.acroForm.checkbox(name="agree", checked=True, x=150, y=620, size=14)
    pdf.acroForm.checkbox(name="newsletter", checked=False, x=150, y=590, size=14)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_acroform_fields_exact():
    fields = {f.name: f for f in acroform_fields(_acroform_pdf(), 0)}
    assert sorted(fields) == ["agree", "city", "name", "newsletter"]
    assert (fields["name"].value, fields["name"].is_checkbox, fields["name"].checked) == ("Jane Roe", False, False)
    assert (fields["city"].value, fields["city"].is_checkbox) == ("", False)
    assert (fields["agree"].is_checkbox, fields["agree"].checked) == (True, True)
    assert (fields["newsletter"].is_checkbox, fields["newsletter"].checked, fields["newsletter"].value) == \
        (True, False, "")
    assert fields["name"].box == pytest.approx((150 / 612, (792 - 720) / 792, 350 / 612, (792 - 700) / 792))
    assert fields["agree"].box == pytest.approx((150 / 612, (792 - 634) / 792, 164 / 612, (792 - 620) / 792))


def test_acroform_fields_none_without_acroform(form_pdf):
    assert acroform_fields(form_pdf, 0) == []
    assert acroform_fields(b"not a pdf", 0) == []


# ------------------------------------------------------------------------------------------ a real form


@pytest.mark.skipif(not (REFERENCE / "patient_intake_form_sample.png").is_file(), reason="reference not present")
def test_patient_intake_checkboxes_agree_with_textract(models):
    name = "patient_intake_form_sample.png"
    page = Document((REFERENCE / name).read_bytes(), sync=True).page(0, need_image=True)
    forms = find_forms(page)
    blocks = json.loads((REFERENCE / f"{name}.analyze.json").read_text())["Blocks"]
    theirs = []
    for block in blocks:
        if block["BlockType"] == "SELECTION_ELEMENT":
            b = block["Geometry"]["BoundingBox"]
            theirs.append(((b["Left"], b["Top"], b["Left"] + b["Width"], b["Top"] + b["Height"]),
                           block["SelectionStatus"] == "SELECTED"))
    assert len(theirs) == 12
    agree = 0
    for box, selected in theirs:
        best = max(forms.marks, key=lambda m: iou(m.box, box))
        agree += iou(best.box, box) >= 0.5 and best.selected == selected
    # Measured: all 12 found (IoU >= 0.5) with Textract's state, and nothing else taken for a checkbox.
    assert agree == 12
    assert len(forms.marks) == 12
    pairs = _pairs_list(page, forms)
    # Handwritten values beside printed labels (OCR reads most of them).
    for pair in [("First Name", "ALEJANDRO"), ("Last Name", "ROSALEZ"), ("Date of Birth", "10/10/1982"),
                 ("Marital Status", "MARRIED"), ("Relationship to Patient", "BROTHER"), ("Email Address", "")]:
        assert pair in pairs


def _pairs_list(page: Page, forms: Forms) -> list[tuple[str, str]]:
    return [(" ".join(page.words[i].text for i in pair.key_words).rstrip(":").strip(),
             " ".join(page.words[i].text for i in pair.value_words)) for pair in forms.pairs]
