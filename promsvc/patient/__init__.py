"""The patient side: the pages at `/q/{token}` and the JSON form API (docs/patient.md)."""
