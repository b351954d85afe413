"""The decision record as a PDF (fpdf2: pure Python, maintained, no system libraries).

The built-in Helvetica keeps the file small and needs no font file on the server; it
covers Latin-1 (Dutch with its diacritics), so the few typographic characters outside
it are written as their plain equivalents rather than dropped.
"""

from __future__ import annotations

from fpdf import FPDF

from api.records.service import NEUTRAL_NOTE, STATUS_LABELS, VERIFY, DecisionRecord, Event, Line
from knowledge.local_time import local_deadline, local_time

_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "-",
                        "→": "->", "≥": ">=", "≤": "<=", "€": "EUR"})  # fmt: skip


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


class _Record(FPDF):
    def __init__(self, reference: str) -> None:
        super().__init__(format="A4")
        self.reference = reference
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, _latin1(f"Dossier {self.reference} - vertrouwelijk - pagina {self.page_no()}/{{nb}}"),
                  align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("Helvetica", "B", 12)
        self.multi_cell(0, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def para(self, value: str, *, bold: bool = False, indent: float = 0) -> None:
        self.set_font("Helvetica", "B" if bold else "", 10)
        self.set_x(self.l_margin + indent)
        self.multi_cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")

    def line_item(self, line: Line) -> None:
        self.para(line.label, bold=True)
        extra = f" (bron: {line.source})" if line.source else ""
        self.para(line.value + extra + (f" [{VERIFY}]" if line.verify else ""), indent=4)

    def events(self, events: list[Event], indent: float = 4) -> None:
        for event in events:
            line = f"{local_time(event.at)} - {STATUS_LABELS.get(event.status, event.status)} - {event.actor}"
            self.para(line + (f": {event.text}" if event.text else ""), indent=indent)


def render(record: DecisionRecord) -> bytes:
    pdf = _Record(record.reference)
    pdf.set_title(_latin1(f"Dossier {record.reference}"))
    pdf.set_creator("COA case-guidance assistant")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, _latin1(f"Beslissing {record.reference}"), new_x="LMARGIN", new_y="NEXT")
    pdf.para(f"{record.title} - versie {record.protocol_version}", bold=True)
    if record.knowledge_version:
        pdf.para(f"Teksten uit versie {record.knowledge_version} van het protocol (vastgelegd onder "
                 f"{record.protocol_version}).")
    if record.neutral:
        pdf.para(NEUTRAL_NOTE)
    for line in record.facts:
        pdf.para(f"{line.label}: {line.value}")
    sections: list[tuple[str, list[Line]]] = [
        ("Vragen en antwoorden", record.questions), ("Advies", record.advice),
        ("Doorverwezen naar", record.referrals), ("Sleutelposities", record.key_positions),
    ]  # fmt: skip
    for title, lines in sections:
        pdf.heading(title)
        if not lines:
            pdf.para("-")
        for line in lines:
            pdf.line_item(line)
    pdf.heading("Vervolgacties")
    if not record.follow_ups:
        pdf.para("-")
    for follow_up in record.follow_ups:
        pdf.para(f"{follow_up.action}: {STATUS_LABELS.get(follow_up.status, follow_up.status)} "
                 f"(uiterlijk {local_deadline(follow_up.due_at)})", bold=True)
        pdf.events(follow_up.history)
    pdf.heading("Beoordeling")
    if record.reviews:
        pdf.events(record.reviews, indent=0)
    else:
        pdf.para("Nog niet beoordeeld.")
    pdf.heading("Overdrachten")
    if not record.handovers:
        pdf.para("-")
    for handover in record.handovers:
        pdf.para(f"{local_time(handover.created_at)} - {handover.actor}: van {handover.from_location} "
                 f"({handover.from_staff_id or '-'}) naar {handover.to_location} ({handover.to_staff_id or '-'})")
        pdf.para(f"Reden: {handover.reason}", indent=4)
    if record.sources:
        pdf.heading("Bronnen")
        for source in record.sources:
            pdf.para(f"{source.title} - {source.url}")
    return bytes(pdf.output())
