"""An .xlsx workbook written sheet by sheet, its rows deflated as they come.

A sheet's rows (XML from extraction.excel_cells) are deflated into a temporary file beside
the workbook. When the sheet ends its first bytes, which name its dimension and so need its
row count, are put in front as a stored deflate block, and the whole goes into the ZIP.
Memory holds one batch of rows, never a sheet. The package is the one xlsxwriter's
constant-memory mode makes, less the theme and document properties.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from extraction.deflate_stream import Buffer, DeflateStream
from extraction.excel_cells import column_letter
from extraction.zip_writer import ZipWriter, crc32_combine, stored_block

# zlib's default, as xlsxwriter's zipfile used: about 1.5 times faster at level 1, but the
# files are 30 % larger.
DEFLATE_LEVEL = 6

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_DOC = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_FROZEN_HEADER = (
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft"/>'
)
_SELECTED = 'tabSelected="1" '
_MARGINS = (
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
)
# Number formats Excel has built in, by their index; others are numbered from 164.
_BUILT_IN = {"General": 0, "0": 1, "0.00": 2}


class Styles:
    """The workbook's cell formats: 0 is the default, 1 is bold (the headers); each number
    format asked for gets the next index."""

    BOLD = 1

    def __init__(self) -> None:
        self._formats: list[str] = []

    def number(self, code: str) -> int:
        if code not in self._formats:
            self._formats.append(code)
        return 2 + self._formats.index(code)

    def xml(self) -> str:
        custom = [code for code in self._formats if code not in _BUILT_IN]
        ids = {code: _BUILT_IN.get(code) or 164 + custom.index(code) for code in self._formats}
        num_fmts = "".join(
            f'<numFmt numFmtId="{ids[code]}" formatCode="{_attribute(code)}"/>' for code in custom
        )
        xfs = "".join(
            f'<xf numFmtId="{ids[code]}" fontId="0" fillId="0" borderId="0" xfId="0"'
            ' applyNumberFormat="1"/>'
            for code in self._formats
        )
        font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
        return (
            f'{_XML}<styleSheet xmlns="{_MAIN}">'
            + (f'<numFmts count="{len(custom)}">{num_fmts}</numFmts>' if custom else "")
            + f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0"'
            f' borderId="0"/></cellStyleXfs><cellXfs count="{2 + len(self._formats)}">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
            f'{xfs}</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0"'
            ' builtinId="0"/></cellStyles><dxfs count="0"/><tableStyles count="0"'
            ' defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
            "</styleSheet>"
        )


@dataclass(frozen=True)
class SheetLayout:
    """What a sheet's first and last bytes say: its width, whether row 1 is a header and
    whether that header is frozen and filtered."""

    width: int
    header: bool
    freeze: bool
    auto_filter: bool


@dataclass
class _Sheet:
    name: str
    layout: SheetLayout
    body: DeflateStream
    rows: int = 0
    filter_ref: str | None = None


class XlsxBook:
    """Sheets are written one after the other: `start_sheet` ends the one before."""

    def __init__(self, path: Path, styles: Styles) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close() or abandon()
        self._zip = ZipWriter(self._file)
        self._folder = path.parent
        self._styles = styles
        self._sheet: _Sheet | None = None
        self._done: list[_Sheet] = []

    def start_sheet(self, name: str, layout: SheetLayout) -> None:
        self._end_sheet()
        self._sheet = _Sheet(name, layout, DeflateStream(self._folder, DEFLATE_LEVEL))

    def write_rows(self, xml: Buffer, rows: int) -> None:
        """Rows of the current sheet, as XML, in order."""
        sheet = self._sheet
        assert sheet is not None, "start_sheet first"
        sheet.body.write(xml)
        sheet.rows += rows

    def close(self) -> None:
        """End the last sheet and write the workbook's other parts."""
        self._end_sheet()
        names = [s.name for s in self._done]
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_DOC}.worksheet+xml"/>'
            for n in range(1, len(names) + 1)
        )
        parts = {
            "xl/workbook.xml": self._workbook_xml(),
            "xl/_rels/workbook.xml.rels": _relationships(
                [
                    *(("worksheet", f"worksheets/sheet{n}.xml") for n in range(1, len(names) + 1)),
                    ("styles", "styles.xml"),
                ],
                _REL,
            ),
            "xl/styles.xml": self._styles.xml(),
            "_rels/.rels": _relationships([("officeDocument", "xl/workbook.xml")], _REL),
            "[Content_Types].xml": (
                f'{_XML}<Types xmlns="{_TYPES}"><Default Extension="rels"'
                ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{_DOC}.sheet.main+xml"/>'
                f'<Override PartName="/xl/styles.xml" ContentType="{_DOC}.styles+xml"/>'
                f"{overrides}</Types>"
            ),
        }
        for name, text in parts.items():
            self._zip.add(name, text.encode(), DEFLATE_LEVEL)
        self._zip.close()
        self._file.close()

    def abandon(self) -> None:
        """Stop writing; the caller removes the file."""
        if self._sheet is not None:
            self._sheet.body.close()
        self._file.close()

    def _end_sheet(self) -> None:
        sheet, self._sheet = self._sheet, None
        if sheet is None:
            return
        index = len(self._done)
        layout = sheet.layout
        last_column = column_letter(layout.width - 1)
        dimension = f"A1:{last_column}{sheet.rows}" if sheet.rows else "A1"
        tail = "</sheetData>"
        if layout.header and layout.auto_filter:
            # As xlsxwriter's autofilter(0, 0, max(rows, 1), width - 1): a header and at
            # least one row under it.
            sheet.filter_ref = f"$A$1:${last_column}${max(sheet.rows, 2)}"
            tail += f'<autoFilter ref="{sheet.filter_ref.replace("$", "")}"/>'
        tail += f"{_MARGINS}</worksheet>"
        head = (
            f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><dimension ref="{dimension}"/>'
            f"<sheetViews><sheetView {_SELECTED if index == 0 else ''}"
            f'workbookViewId="0">{_FROZEN_HEADER if layout.header and layout.freeze else ""}'
            '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData>'
        ).encode()
        try:
            body_crc, body_size = sheet.body.finish(tail.encode())
            self._zip.add_deflated(
                f"xl/worksheets/sheet{index + 1}.xml",
                crc32_combine(zlib.crc32(head), body_crc, body_size),
                len(head) + body_size,
                [stored_block(head)],
                sheet.body.file,
            )
        finally:
            sheet.body.close()
        self._done.append(sheet)

    def _workbook_xml(self) -> str:
        sheets = "".join(
            f'<sheet name="{_attribute(s.name)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, s in enumerate(self._done, start=1)
        )
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
            f"{_text(_quoted_sheet(s.name))}!{s.filter_ref}</definedName>"
            for n, s in enumerate(self._done)
            if s.filter_ref
        )
        return (
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews><workbookView/>'
            f"</bookViews><sheets>{sheets}</sheets>"
            + (f"<definedNames>{filters}</definedNames>" if filters else "")
            + "</workbook>"
        )


def _relationships(targets: list[tuple[str, str]], base: str) -> str:
    items = "".join(
        f'<Relationship Id="rId{n}" Type="{base}/{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(targets, start=1)
    )
    return f'{_XML}<Relationships xmlns="{_PKG_REL}">{items}</Relationships>'


def _quoted_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(text: str) -> str:
    return _text(text).replace('"', "&quot;")
