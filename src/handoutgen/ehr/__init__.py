"""The EHR round trip over FHIR R4: read a Patient's name and language, render
the handout, and write it back as a DocumentReference with a Procedure
("patient education") that points to it.

Nothing here knows a particular server: any FHIR R4 server that takes a
bearer token and conditional create will do (transaction Bundles where it
has them). rows.py is the EHR side of `batch`'s fhir_patient rows.
"""
