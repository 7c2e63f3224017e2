"""Textract's Block graph from a Page and what the feature modules found on it: the one place that knows the
wire shapes (BlockType, Geometry, Relationships, EntityTypes, ...).

    PAGE -CHILD-> LINE -CHILD-> WORD
    PAGE -CHILD-> TABLE -CHILD-> CELL -CHILD-> WORD | SELECTION_ELEMENT;  TABLE -MERGED_CELL-> MERGED_CELL -CHILD-> CELL
                  TABLE -TABLE_TITLE-> TABLE_TITLE -CHILD-> WORD  (and TABLE_FOOTER)
    PAGE -CHILD-> KEY_VALUE_SET(KEY) -VALUE-> KEY_VALUE_SET(VALUE) -CHILD-> WORD | SELECTION_ELEMENT
    PAGE -CHILD-> LAYOUT_* -CHILD-> LINE;  PAGE -CHILD-> QUERY -ANSWER-> QUERY_RESULT;  PAGE -CHILD-> SIGNATURE
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from services.textract.page import Box, Forms, LayoutRegion, Page, Point, QueryAnswer, Table, union


def plain(value):
    """`value` with numpy scalars made Python numbers (the feature modules compute with numpy; JSON wants floats)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if isinstance(value, float) and type(value) is float:
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def geometry(box: Box, polygon: list[Point] | None = None) -> dict:
    left, top, right, bottom = (float(v) for v in box)
    points = [(float(x), float(y)) for x, y in polygon] if polygon else \
        [(left, top), (right, top), (right, bottom), (left, bottom)]
    return {"BoundingBox": {"Width": right - left, "Height": bottom - top, "Left": left, "Top": top},
            "Polygon": [{"X": x, "Y": y} for x, y in points]}


def _id() -> str:
    return str(uuid.uuid4())


@dataclass
class PageBlocks:
    """The blocks of one page, PAGE first; `page_member` adds "Page": n to each (async answers carry it)."""

    page: Page
    page_member: bool = False
    blocks: list[dict] = field(default_factory=list)
    word_ids: list[str] = field(default_factory=list)
    line_ids: list[str] = field(default_factory=list)
    mark_ids: list[str] = field(default_factory=list)
    _page_block: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        page = self.page
        self._page_block = self._add({"BlockType": "PAGE",
                                      "Geometry": geometry((0.0, 0.0, 1.0, 1.0), page.polygon)})
        self.word_ids = [_id() for _ in page.words]
        for line in page.lines:
            line_id = _id()
            self.line_ids.append(line_id)
            words = [page.words[i] for i in line.words]
            self._add({"BlockType": "LINE", "Confidence": line.confidence, "Text": line.text(page),
                       "Geometry": geometry(line.box(page), _line_polygon(words)), "Id": line_id,
                       "Relationships": [{"Type": "CHILD", "Ids": [self.word_ids[i] for i in line.words]}]},
                      child=True)
        for i in (i for line in page.lines for i in line.words):
            word = page.words[i]
            self._add({"BlockType": "WORD", "Confidence": word.confidence, "Text": word.text,
                       "TextType": word.text_type, "Geometry": geometry(word.box, word.polygon),
                       "Id": self.word_ids[i]})

    def _add(self, block: dict, child: bool = False) -> dict:
        block = plain(block)
        block.setdefault("Id", _id())
        if self.page_member:
            block["Page"] = self.page.number
        self.blocks.append(block)
        if child:
            self._page_block.setdefault("Relationships", [{"Type": "CHILD", "Ids": []}])[0]["Ids"].append(block["Id"])
        return block

    # ------------------------------------------------------------------ features

    def add_forms(self, forms: Forms) -> None:
        self.mark_ids = [_id() for _ in forms.marks]
        for mark, mark_id in zip(forms.marks, self.mark_ids):
            self._add({"BlockType": "SELECTION_ELEMENT", "Confidence": mark.confidence, "Geometry": geometry(mark.box),
                       "Id": mark_id, "SelectionStatus": "SELECTED" if mark.selected else "NOT_SELECTED"})
        for pair in forms.pairs:
            value_id = _id()
            key = {"BlockType": "KEY_VALUE_SET", "Confidence": pair.confidence, "Geometry": geometry(pair.key_box),
                   "Relationships": [{"Type": "VALUE", "Ids": [value_id]},
                                     {"Type": "CHILD", "Ids": [self.word_ids[i] for i in pair.key_words]}],
                   "EntityTypes": ["KEY"]}
            value_children = [self.word_ids[i] for i in pair.value_words] + [self.mark_ids[i] for i in pair.value_marks]
            value = {"BlockType": "KEY_VALUE_SET", "Confidence": pair.confidence, "Geometry": geometry(pair.value_box),
                     "Id": value_id, "EntityTypes": ["VALUE"]}
            if value_children:
                value["Relationships"] = [{"Type": "CHILD", "Ids": value_children}]
            self._add(key, child=True)
            self._add(value, child=True)

    def add_tables(self, tables: list[Table], marks_in_cells: dict[tuple[int, int, int], list[int]] | None = None) -> None:
        """`marks_in_cells`: (table index, row, column) -> selection marks (from add_forms) inside that cell."""
        for t, table in enumerate(tables):
            cell_ids = {(cell.row, cell.column): _id() for cell in table.cells}
            table_block = {"BlockType": "TABLE", "Confidence": table.confidence, "Geometry": geometry(table.box),
                           "Relationships": [{"Type": "CHILD", "Ids": [cell_ids[(c.row, c.column)] for c in table.cells]}],
                           "EntityTypes": ["STRUCTURED_TABLE" if table.structured else "SEMI_STRUCTURED_TABLE"]}
            table_block = self._add(table_block, child=True)
            for cell in table.cells:
                children = [self.word_ids[i] for i in cell.words]
                if marks_in_cells:
                    children += [self.mark_ids[m] for m in marks_in_cells.get((t, cell.row, cell.column), [])]
                block = {"BlockType": "CELL", "Confidence": cell.confidence, "RowIndex": cell.row,
                         "ColumnIndex": cell.column, "RowSpan": cell.row_span, "ColumnSpan": cell.column_span,
                         "Geometry": geometry(cell.box), "Id": cell_ids[(cell.row, cell.column)]}
                if children:
                    block["Relationships"] = [{"Type": "CHILD", "Ids": children}]
                if cell.entity_types:
                    block["EntityTypes"] = list(cell.entity_types)
                self._add(block)
            merged_ids = []
            for merged in table.merged:
                covered = [cell_ids[(r, c)] for r in range(merged.row, merged.row + merged.row_span)
                           for c in range(merged.column, merged.column + merged.column_span) if (r, c) in cell_ids]
                block = self._add({"BlockType": "MERGED_CELL", "Confidence": merged.confidence,
                                   "RowIndex": merged.row, "ColumnIndex": merged.column, "RowSpan": merged.row_span,
                                   "ColumnSpan": merged.column_span, "Geometry": geometry(merged.box),
                                   "Relationships": [{"Type": "CHILD", "Ids": covered}]})
                merged_ids.append(block["Id"])
            if merged_ids:
                table_block["Relationships"].append({"Type": "MERGED_CELL", "Ids": merged_ids})
            for kind, words in (("TABLE_TITLE", table.title_words), ("TABLE_FOOTER", table.footer_words)):
                if words:
                    block = self._add({"BlockType": kind, "Confidence": table.confidence,
                                       "Geometry": geometry(union(self.page.words[i].box for i in words)),
                                       "Relationships": [{"Type": "CHILD", "Ids": [self.word_ids[i] for i in words]}]})
                    table_block["Relationships"].append({"Type": kind, "Ids": [block["Id"]]})

    def add_layout(self, regions: list[LayoutRegion]) -> None:
        for region in regions:
            block = {"BlockType": region.kind, "Confidence": region.confidence, "Geometry": geometry(region.box)}
            if region.lines:
                block["Relationships"] = [{"Type": "CHILD", "Ids": [self.line_ids[i] for i in region.lines]}]
            self._add(block, child=True)

    def add_signatures(self, boxes: list[tuple[Box, float]]) -> None:
        for box, confidence in boxes:
            self._add({"BlockType": "SIGNATURE", "Confidence": confidence, "Geometry": geometry(box)}, child=True)

    def add_query(self, query: dict, answer: QueryAnswer | None) -> None:
        block = {"BlockType": "QUERY", "Query": {key: query[key] for key in ("Text", "Alias", "Pages") if key in query}}
        if answer is not None:
            result = {"BlockType": "QUERY_RESULT", "Confidence": answer.confidence, "Text": answer.text, "Id": _id()}
            if answer.box is not None:
                result["Geometry"] = geometry(answer.box)
            block["Relationships"] = [{"Type": "ANSWER", "Ids": [result["Id"]]}]
            self._add(block, child=True)
            self._add(result, child=True)
        else:
            self._add(block, child=True)


def _line_polygon(words) -> list[Point] | None:
    """A line's 4 corners from its first and last words' polygons (keeps the slant of a skewed line)."""
    first, last = words[0], words[-1]
    if first.polygon is None or last.polygon is None:
        return None
    return [first.polygon[0], last.polygon[1], last.polygon[2], first.polygon[3]]
