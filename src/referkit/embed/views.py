"""Pure presentation helpers for the embedded dashboard: masking, share links, money, colours.

No business rule lives here: numbers come from the stats, referral and reward services; this
module only decides how they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from referkit.kit.money import decimals
from referkit.program.schemas import EmbedSettings, EmbedTheme


def mask_email(email: str | None) -> str:
    """``sam@example.com`` → ``s***@example.com``: enough to recognise a friend, no more."""
    if not email or "@" not in email:
        return "A friend"
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def format_amount(amount: int, unit: str) -> str:
    """Minor units as text: ``2500, USD`` → ``25.00 USD``; points and other kinds as counts."""
    if len(unit) != 3 or not unit.isupper():
        return f"{amount:,} {unit}"
    digits = decimals(unit)
    major = amount / 10**digits
    return f"{major:,.{digits}f} {unit}"


def share_links(link: str, program_name: str) -> dict[str, str]:
    """Plain share URLs (no third-party script): each opens the network's own share page."""
    text = f"Join me on {program_name}: {link}"
    return {
        "email": "mailto:?"
        + urlencode({"subject": f"Join me on {program_name}", "body": text}, quote_via=quote),
        "sms": "sms:?&" + urlencode({"body": text}, quote_via=quote),
        "whatsapp": "https://wa.me/?" + urlencode({"text": text}, quote_via=quote),
        "x": "https://x.com/intent/tweet?"
        + urlencode({"text": f"Join me on {program_name}", "url": link}, quote_via=quote),
        "linkedin": "https://www.linkedin.com/sharing/share-offsite/?"
        + urlencode({"url": link}, quote_via=quote),
        "facebook": "https://www.facebook.com/sharer/sharer.php?"
        + urlencode({"u": link}, quote_via=quote),
    }


# Colours ------------------------------------------------------------------------------------

Rgb = tuple[int, int, int]
_LIGHT = {"bg": "#ffffff", "fg": "#1f2328", "accent": "#4338ca"}
_DARK = {"bg": "#111418", "fg": "#e8eaed", "accent": "#8b93ff"}


def _rgb(hex_color: str) -> Rgb:
    value = hex_color.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: Rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _luminance(rgb: Rgb) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(a: str, b: str, weight: float) -> str:
    """``weight`` of ``a`` and the rest of ``b``."""
    ra, rb = _rgb(a), _rgb(b)
    return _hex(tuple(round(x * weight + y * (1 - weight)) for x, y in zip(ra, rb, strict=True)))  # type: ignore[arg-type]


def _readable_on(background: str) -> str:
    """Near-black or near-white, whichever contrasts more with ``background``."""
    dark, light = "#111111", "#ffffff"
    return dark if contrast(dark, background) >= contrast(light, background) else light


@dataclass(frozen=True)
class Palette:
    bg: str
    fg: str
    muted: str
    card: str
    border: str
    accent: str
    on_accent: str

    def css(self) -> str:
        return "".join(
            f"--rk-{name.replace('_', '-')}:{value};" for name, value in self.__dict__.items()
        )


def palette(dark: bool, settings: EmbedSettings) -> Palette:
    """Colours for one scheme; whatever the program picks, text keeps a 4.5:1 contrast."""
    base = _DARK if dark else _LIGHT
    bg = settings.background or base["bg"]
    fg = base["fg"] if settings.background is None else _readable_on(bg)
    accent = settings.accent or base["accent"]
    muted = _mix(fg, bg, 0.72)
    if contrast(muted, bg) < 4.5:
        muted = fg
    return Palette(
        bg=bg,
        fg=fg,
        muted=muted,
        card=_mix(fg, bg, 0.04),
        border=_mix(fg, bg, 0.25),
        accent=accent,
        on_accent=_readable_on(accent),
    )


def stylesheet_variables(settings: EmbedSettings) -> str:
    """The CSS custom properties of the page, for the chosen theme (both schemes for auto)."""
    shared = f"--rk-radius:{settings.radius if settings.radius is not None else 10}px;"
    if settings.font:
        shared += f'--rk-font:"{settings.font}",system-ui,-apple-system,"Segoe UI",sans-serif;'
    if settings.theme is EmbedTheme.auto:
        light, dark = palette(False, settings), palette(True, settings)
        return (
            f":root{{{shared}{light.css()}color-scheme:light dark}}"
            f"@media (prefers-color-scheme: dark){{:root{{{dark.css()}}}}}"
        )
    scheme = palette(settings.theme is EmbedTheme.dark, settings)
    return f":root{{{shared}{scheme.css()}color-scheme:{settings.theme.value}}}"
