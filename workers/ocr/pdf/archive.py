"""Saving the searchable PDF: PDF/A-2b by default (pikepdf.pdfa), a plain PDF when asked or when the
document holds something PDF/A forbids that only changing the user's content could fix.

PDF/A-2b takes: XMP metadata declaring pdfaid part 2, conformance B, with the document information mirrored
in it; an sRGB output intent (the ICC profile pikepdf ships); every font embedded (the text layer's
glyphless font is, with widths that agree with its program); no encryption, no LZW, no JavaScript, and
annotations that print. pikepdf.pdfa.prepare adds the metadata and the output intent and makes the
structural repairs that change no page content (hidden annotations, image interpolation flags, the Print
flag); pikepdf.pdfa.save writes the file and validates the written bytes with pikepdf's allowlist
validator (built from veraPDF's rules). A document that still does not pass (a font the user's PDF does not
embed, a CMYK image without a CMYK output intent, ...) is written as a plain PDF instead, without the
PDF/A claim, and the reason is logged: the user's pages are never converted to make them pass.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

import pikepdf

__all__ = ["PDFA_FLAVOUR", "retitle", "save_document"]

log = logging.getLogger(__name__)
PDFA_FLAVOUR = "2b"
PRODUCER = "ocr-service"


def _set_metadata(pdf: pikepdf.Pdf, title: str | None, creator: str) -> None:
    """Title and creator in the document information and the XMP metadata alike."""
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        if title:
            meta["dc:title"] = title
        meta["xmp:CreatorTool"] = creator
    if title:
        pdf.docinfo[pikepdf.Name.Title] = title
    pdf.docinfo[pikepdf.Name.Creator] = creator


def _drop_pdfa_claim(pdf: pikepdf.Pdf) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        for key in ("pdfaid:part", "pdfaid:conformance", "pdfaid:amd", "pdfaid:rev"):
            if key in meta:
                del meta[key]


def _has_pdfa_intent(pdf: pikepdf.Pdf) -> bool:
    intents = pdf.Root.get("/OutputIntents")
    return isinstance(intents, pikepdf.Array) and any(i.get("/S") == "/GTS_PDFA1" for i in intents)


def _save_pdfa(pdf: pikepdf.Pdf, target: BinaryIO) -> bool:
    """Write the document as PDF/A-2b when it passes: with the PDF/A output intent it has (a document made for
    print keeps its CMYK one), else with sRGB's. False when it cannot pass (nothing is written then)."""
    from pikepdf import pdfa

    intents: list[str | None] = [None, "sRGB"] if _has_pdfa_intent(pdf) else ["sRGB"]
    findings: list[str] = []
    for intent in intents:
        try:
            pdfa.save(pdf, target, PDFA_FLAVOUR, output_intent=intent)
            return True
        except pdfa.PdfaError as exc:
            findings = [str(finding) for finding in exc.report.findings][:5]
    log.warning("the document cannot be PDF/A-%s as it is; written as a plain PDF: %s", PDFA_FLAVOUR, findings)
    _drop_pdfa_claim(pdf)
    return False


def save_document(pdf: pikepdf.Pdf, target: BinaryIO, *, title: str | None, creator: str, archive: bool) -> bool:
    """Write `pdf` to `target` (seekable, at its start): PDF/A-2b when `archive` and it passes, else plain.
    True when the file written is PDF/A."""
    _set_metadata(pdf, title, creator)
    if archive and _save_pdfa(pdf, target):
        return True
    pdf.docinfo[pikepdf.Name.Producer] = PRODUCER
    pdf.save(target)
    return False


def retitle(data: bytes, title: str | None) -> bytes:
    """A searchable PDF with another title (a cached result copied to a job of another file name), in its
    document information and its XMP metadata alike, so that a PDF/A stays one."""
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            if title:
                meta["dc:title"] = title
            elif "dc:title" in meta:
                del meta["dc:title"]
        if not title and pikepdf.Name.Title in pdf.docinfo:
            del pdf.docinfo[pikepdf.Name.Title]
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()
