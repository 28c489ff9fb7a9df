"""A PACS over DICOMweb: find studies, fetch a series into memory, analyse it, and send the results back.

- :mod:`core.pacs.connection`: where the PACS is and how to sign in (secrets or environment), one sentence per
  failure, credentials never shown;
- :mod:`core.pacs.client`: QIDO-RS search, WADO-RS retrieval, STOW-RS storage (``dicomweb-client``);
- :mod:`core.pacs.study`: a retrieved series analysed as a study, or chosen slices of it;
- :mod:`core.pacs.export`: the results as DICOM: a SEG, a secondary capture series with the outline burned in, and
  the PDF report as an Encapsulated PDF, all in the source study with new UIDs;
- :mod:`core.pacs.cli`: ``python -m core pacs``.

Nothing retrieved is written to disk: instances arrive as pydicom data sets in memory and leave the same way.
"""
