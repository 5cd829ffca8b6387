"""One template system for every HTML page (promsvc.templating)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from promsvc import templating

PROMSVC = Path(templating.__file__).parent


def test_every_page_template_of_every_package_compiles_under_its_prefix():
    files = sorted(f"{prefix}/{p.name}" for prefix, folder in templating.FOLDERS.items() for p in folder.glob("*.html"))
    assert templating.load_all() == len(files)
    assert set(templating.environment.list_templates(extensions=["html"])) == set(files)
    assert "patient/start.html" in files and "results/results.html" in files and "delivery/code.html" in files


def test_no_other_module_makes_a_template_environment():
    makers = [str(p.relative_to(PROMSVC)) for p in PROMSVC.rglob("*.py") if "jinja2.Environment(" in p.read_text(encoding="utf-8")]
    assert makers == ["templating.py"]


def test_pages_are_escaped_and_a_missing_name_is_an_error():
    page = templating.render("delivery/code.html", problem=None, csrf_token='"><script>')
    assert 'value="&#34;&gt;&lt;script&gt;"' in page
    with pytest.raises(jinja2.UndefinedError):
        templating.render("delivery/code.html", problem=None)
