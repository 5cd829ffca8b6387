"""The one template system of every HTML page: one Jinja environment over the page templates of
each package that serves pages, each under its own prefix.

    patient/   promsvc/patient/templates/   the patient pages (/q/…, /privacy, /accessibility)
    results/   promsvc/reports/templates/   the result pages (/results/…)
    delivery/  promsvc/delivery/pages/      the letter-code page (/code)

Every page is escaped (`autoescape`), a name missing from the context is an error rather than an
empty string (`StrictUndefined`), and `load_all` compiles every template when the app is made,
so that a broken template stops the service at start-up instead of failing a request.

Pages are rendered to a string that the page's handler returns in its own `Response` (each kind
of page has its own security and cache headers and cookies), so the environment is used
directly rather than through Litestar's `TemplateConfig`, which would only add a second way to
reach it. The texts patients receive (e-mail, SMS, letters) are not pages: they are
`string.Template`s with a closed set of placeholders (promsvc.delivery.messages).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).parent
FOLDERS = {
    "patient": HERE / "patient" / "templates",
    "results": HERE / "reports" / "templates",
    "delivery": HERE / "delivery" / "pages",
}

environment = jinja2.Environment(
    loader=jinja2.PrefixLoader({prefix: jinja2.FileSystemLoader(folder) for prefix, folder in FOLDERS.items()}),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # the templates ship with the code: compiled once, never looked at again
)


def render(name: str, **context: Any) -> str:
    """The page `name` (`patient/start.html`) with `context`."""
    return environment.get_template(name).render(**context)


def load_all() -> int:
    """Compile every template (at start-up); a syntax error raises jinja2.TemplateSyntaxError
    naming the file and line. Returns how many there are."""
    names = environment.list_templates(extensions=["html"])
    for name in names:
        environment.get_template(name)
    return len(names)
