"""One page's analysis: the features a request names, run on a Page, assembled into its Blocks; pages run in the
model worker processes when the gateway has them (each page is read and analysed there, in parallel)."""

from __future__ import annotations

from models.workers import installed_pool
from services.textract import layout, queries, signatures
from services.textract.blocks import PageBlocks
from services.textract.page import Forms, Page, center, inside
from services.textract.reading import Document

FEATURES = ("TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT")
# What needs the page's pixels (a born-digital page is rendered only then).
IMAGE_FEATURES = frozenset({"TABLES", "FORMS", "SIGNATURES", "LAYOUT", "QUERIES"})


def _over_workers(function, calls: list[tuple]) -> list:
    """`function(*arguments)` for each of `calls`, in parallel over the model worker processes (inline without
    them); the answers in the order of `calls`."""
    pool = installed_pool()
    if pool is None:
        return [function(*arguments) for arguments in calls]
    return [future.result() for future in [pool.submit(function, *arguments) for arguments in calls]]


def page_blocks(data: bytes, index: int, sync: bool, features: list[str] | None, page_queries: list[dict],
                page_member: bool) -> list[dict]:
    """The blocks of page `index` of a document: text only when `features` is None, else its analysis."""
    with Document(data, sync=sync) as document:
        page = document.page(index, need_image=bool(set(features or ()) & IMAGE_FEATURES))
    if features is None:
        return text_blocks(page, page_member)
    return analysis_blocks(page, set(features), page_queries, page_member)


def pages_blocks(data: bytes, indexes: list[int], sync: bool, features: list[str] | None,
                 queries_of: dict[int, list[dict]], page_member: bool) -> list[list[dict]]:
    """`page_blocks` for several pages, spread over the model worker processes (inline without them)."""
    return _over_workers(page_blocks, [(data, i, sync, features, queries_of.get(i, []), page_member) for i in indexes])


def expense_documents(data: bytes, indexes: list[int], sync: bool) -> list[dict]:
    """AnalyzeExpense's ExpenseDocuments for pages `indexes`, over the model workers."""
    return _over_workers(expense_page, [(data, i, sync) for i in indexes])


def expense_page(data: bytes, index: int, sync: bool) -> dict:
    from services.textract import expense
    from services.textract import tables as tables_module

    with Document(data, sync=sync) as document:
        page = document.page(index, need_image=True)
    blocks = text_blocks(page, page_member=True)
    return expense.expense_document(page, tables_module.find_tables(page), index + 1, blocks)


def identity_documents(datas: list[bytes]) -> list[dict]:
    """AnalyzeID's IdentityDocuments, one per document page sent (front and back), over the model workers."""
    return _over_workers(identity_page, [(data, n) for n, data in enumerate(datas, start=1)])


def identity_page(data: bytes, number: int) -> dict:
    from services.textract import identity

    with Document(data, sync=True) as document:
        page = document.page(0, need_image=False)
    return identity.identity_document(page, number, text_blocks(page))


def text_blocks(page: Page, page_member: bool = False) -> list[dict]:
    """DetectDocumentText: PAGE, LINE and WORD blocks."""
    return PageBlocks(page, page_member=page_member).blocks


def analysis_blocks(page: Page, features: set[str], page_queries: list[dict], page_member: bool = False) -> list[dict]:
    """AnalyzeDocument: the text blocks plus those of each feature named."""
    from services.textract import forms as forms_module
    from services.textract import tables as tables_module

    built = PageBlocks(page, page_member=page_member)
    found_forms: Forms | None = None
    if "FORMS" in features or "QUERIES" in features:
        found_forms = forms_module.find_forms(page)
    if "FORMS" in features:
        built.add_forms(found_forms)
    elif found_forms is not None:
        found_forms.marks = []  # marks are reported only with FORMS
    found_tables = tables_module.find_tables(page) if "TABLES" in features else []
    if found_tables:
        built.add_tables(found_tables, _marks_in_cells(found_tables, found_forms) if "FORMS" in features else None)
    regions = layout.find_layout(page) if ("LAYOUT" in features or "QUERIES" in features) else None
    if "LAYOUT" in features:
        built.add_layout(regions)
    if "SIGNATURES" in features:
        built.add_signatures(signatures.find_signatures(page))
    if "QUERIES" in features and page_queries:
        for query, answer in zip(page_queries, queries.answer(page, page_queries, found_forms, regions)):
            built.add_query(query, answer)
    return built.blocks


def _marks_in_cells(tables, forms: Forms | None) -> dict[tuple[int, int, int], list[int]]:
    placed: dict[tuple[int, int, int], list[int]] = {}
    if forms is None:
        return placed
    for m, mark in enumerate(forms.marks):
        point = center(mark.box)
        for t, table in enumerate(tables):
            cell = next((cell for cell in table.cells if inside(point, cell.box)), None)
            if cell is not None:
                placed.setdefault((t, cell.row, cell.column), []).append(m)
                break
    return placed


def queries_for_page(queries_config: list[dict], page_number: int, page_count: int) -> list[dict]:
    """The queries whose Pages (default ["1"]) include this page: "2", "1-3", "*", "3-*"."""
    chosen = []
    for query in queries_config:
        for spec in query.get("Pages") or ["1"]:
            if _page_in(spec, page_number, page_count):
                chosen.append(query)
                break
    return chosen


def _page_in(spec: str, page: int, count: int) -> bool:
    spec = spec.strip()
    if spec == "*":
        return True
    if "-" in spec:
        first, last = spec.split("-", 1)
        low = int(first) if first != "*" else 1
        high = count if last == "*" else int(last)
        return low <= page <= high
    return int(spec) == page
