"""The optional patient and study fields of a report: one list for the page, the command line and the PDF."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class PatientField:
    """How one patient field is asked for: its label on the page and in the PDF, its command-line flag and help."""

    label: str
    flag: str
    help: str


PATIENT_FIELDS = {
    "name": PatientField("Patient name", "--patient-name", "patient's name as it should print (any script, e.g. "
                         "'Zażółć Müller')"),
    "patient_id": PatientField("Patient ID", "--patient-id", "hospital or study ID"),
    "birth_date": PatientField("Date of birth", "--birth-date", "date of birth, as it should print"),
    "study_date": PatientField("Study date", "--study-date", "date of the MRI study, as it should print"),
    "referring_physician": PatientField("Referring physician", "--referring-physician", "who asked for the study"),
    "notes": PatientField("Notes", "--notes", "free text printed with the patient details"),
}
""":class:`PatientFields` field -> how it is asked for, in the order the report prints them."""


@dataclass(frozen=True)
class PatientFields:
    """Optional patient and study details typed in by the user; all empty gives a de-identified report."""

    name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date: str = ""
    referring_physician: str = ""
    notes: str = ""

    def filled(self) -> list[tuple[str, str]]:
        """(label, value) of every field that was given, surrounding whitespace removed."""
        return [(PATIENT_FIELDS[f.name].label, getattr(self, f.name).strip())
                for f in fields(self) if getattr(self, f.name).strip()]
