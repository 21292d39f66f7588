"""The practice's branding on handouts: name, logo and accent colour, from config.

Three settings, each also settable from the environment with the ``B12_``
prefix (``B12_PRACTICE_NAME``, ``B12_PRACTICE_LOGO``, ``B12_ACCENT_COLOR``):

``PRACTICE_NAME``
    Printed in the handout's header next to the practitioner's name.
``PRACTICE_LOGO``
    Path to a PNG, JPEG, GIF, WebP or SVG file of at most 2 MB. A missing,
    unreadable or unrecognised file leaves the logo out and logs a warning;
    it never stops a handout.
``ACCENT_COLOR``
    ``#rgb`` or ``#rrggbb``. Anything else falls back to :data:`DEFAULT_ACCENT`
    with a warning. It reaches the page through a generated stylesheet
    (:func:`brand_css`), never an inline style (the site's CSP forbids them).

Medical flags are drawn in a fixed dark red by ``handout.css`` whatever the
accent, so a pale brand colour cannot soften them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

DEFAULT_ACCENT = "#1f5f8b"
HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
LOGO_MAX_BYTES = 2 * 1024 * 1024
PRACTICE_NAME_MAX_CHARS = 120

# Leading bytes of the image types a logo may have → media type.
LOGO_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class Logo:
    path: Path
    media_type: str

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class Branding:
    practice_name: str = ""
    accent_color: str = DEFAULT_ACCENT
    logo: Logo | None = None


def sniff_image(head: bytes, path: Path) -> str | None:
    """The media type of an image from its first bytes, or None if not one we embed."""
    for signature, media_type in LOGO_SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if path.suffix.lower() == ".svg" and b"<svg" in head:
        return "image/svg+xml"
    return None


def check_logo(setting) -> tuple[Logo | None, str | None]:
    """``(logo, None)`` for a usable file, else ``(None, why)``; None setting → no logo."""
    if setting in (None, ""):
        return None, None
    path = Path(str(setting)).expanduser().absolute()
    try:
        if not path.is_file():
            return None, f"PRACTICE_LOGO {str(path)!r} is not a file"
        if path.stat().st_size > LOGO_MAX_BYTES:
            return None, f"PRACTICE_LOGO {str(path)!r} is larger than {LOGO_MAX_BYTES} bytes"
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError as e:
        return None, f"PRACTICE_LOGO {str(path)!r} cannot be read ({e.strerror or e})"
    media_type = sniff_image(head, path)
    if media_type is None:
        return None, (f"PRACTICE_LOGO {str(path)!r} is not a PNG, JPEG, GIF, WebP "
                      "or SVG image")
    return Logo(path, media_type), None


def check_accent(setting) -> tuple[str, str | None]:
    """``(colour, None)`` for a valid ``#rgb``/``#rrggbb``, else the default and why."""
    if setting in (None, ""):
        return DEFAULT_ACCENT, None
    text = str(setting).strip()
    if HEX_COLOR.match(text):
        return text.lower(), None
    return DEFAULT_ACCENT, (f"ACCENT_COLOR {text[:40]!r} is not a colour written as "
                            f"#rgb or #rrggbb; using {DEFAULT_ACCENT}")


def branding_from_config(config: Mapping) -> tuple[Branding, list[str]]:
    """The branding ``config`` describes, and a warning for each setting not usable."""
    name = " ".join(str(config.get("PRACTICE_NAME") or "").split())
    warnings = []
    if len(name) > PRACTICE_NAME_MAX_CHARS:
        warnings.append(f"PRACTICE_NAME is longer than {PRACTICE_NAME_MAX_CHARS} "
                        "characters; it is cut")
        name = name[:PRACTICE_NAME_MAX_CHARS].rstrip()
    accent, accent_problem = check_accent(config.get("ACCENT_COLOR"))
    logo, logo_problem = check_logo(config.get("PRACTICE_LOGO"))
    warnings += [w for w in (accent_problem, logo_problem) if w]
    return Branding(practice_name=name, accent_color=accent, logo=logo), warnings


def current_branding() -> Branding:
    """The app's branding, checked now (the logo file may have changed); each
    problem is logged as a warning once per process and app."""
    branding, problems = branding_from_config(current_app.config)
    logged = current_app.extensions.setdefault("planner.branding_warnings", set())
    for problem in problems:
        if problem not in logged:
            logged.add(problem)
            current_app.logger.warning("handout branding: %s", problem)
    return branding


def brand_css(branding: Branding) -> str:
    """The stylesheet carrying the accent colour (validated hex, so safe to write out)."""
    accent = branding.accent_color
    return "\n".join([
        "/* Practice colour for handouts (ACCENT_COLOR); generated by "
        "planner.handouts.branding. */",
        f".handout .masthead {{ border-bottom-color: {accent}; }}",
        f".handout h1, .handout h2 {{ color: {accent}; }}",
        f".handout .practice {{ color: {accent}; }}",
        f".handout table.week thead th, .handout table.compare thead th "
        f"{{ border-bottom-color: {accent}; }}",
        f".handout .supplement-card {{ border-color: {accent}; }}",
        "",
    ])
