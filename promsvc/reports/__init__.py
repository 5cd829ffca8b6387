"""Presenting results: publication, result pages, PDF reports, charts and open data (docs/reports.md)."""
