"""The portal's page frame and small building blocks (server-rendered, no script except
the login page's polling).

Every page: ``lang``, a skip link, one ``h1`` that takes focus, a header with the tenant's
logo and name, the navigation (when logged in) with logout as a form, the language switch,
and a visible focus outline. Every value goes through ``html.escape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from wallet_api.portal.brand import Brand
from wallet_api.portal.texts import t
from wallet_api.relying_party import pages


@dataclass(frozen=True, slots=True)
class Frame:
    """What every page of one request shares."""

    lang: str
    brand: Brand
    ags: str
    path: str  # this page, for the language switch
    csrf: str | None  # None: no session yet
    logged_in: bool

    @property
    def base(self) -> str:
        return f"/portal/{self.ags}"


_STYLE = (
    "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;line-height:1.5;"
    "color:#1a1a1a;background:#fff}header{background:var(--brand);color:#fff;padding:.75rem 1rem;"
    "display:flex;align-items:center;gap:.75rem}header img{height:2.5rem;width:auto;"
    "background:#fff;border-radius:.25rem}header .name{font-weight:700;font-size:1.15rem}"
    "nav ul{list-style:none;margin:0;padding:.5rem 1rem;display:flex;flex-wrap:wrap;"
    "gap:.25rem 1rem;"
    "border-bottom:1px solid #ccc}nav a{color:#1a1a1a}main{max-width:42rem;margin:0 auto;"
    "padding:1rem}a{color:#0a4a86}.button,button{display:inline-block;padding:.7rem 1.2rem;"
    "background:var(--brand);color:#fff;border:2px solid var(--brand);border-radius:.4rem;"
    "text-decoration:none;font-size:1rem;cursor:pointer}.secondary{background:#fff;"
    "color:#1a1a1a;border-color:#595959}.danger{background:#a4121a;border-color:#a4121a}"
    ":focus-visible{outline:3px solid #1a1a1a;outline-offset:3px;box-shadow:0 0 0 6px #ffd54a}"
    "h1{font-size:1.6rem;line-height:1.25;overflow-wrap:break-word;hyphens:auto}h1:focus{outline:none}.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;"
    "background:#fff;color:#1a1a1a;padding:.5rem;z-index:9}.card{border:1px solid #bbb;"
    "border-radius:.5rem;padding:1rem;margin:1rem 0}dl{display:grid;grid-template-columns:"
    "max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}.alert{border-left:.4rem "
    "solid #a4121a;background:#fdf0f0;padding:.75rem 1rem}.ok{border-left:.4rem solid #1e6b34;"
    "background:#eef7f0;padding:.75rem 1rem}label{display:block;font-weight:600;margin-top:1rem}"
    "input[type=text],input[type=date],input[type=number]{font-size:1rem;padding:.5rem;"
    "border:2px solid #595959;border-radius:.3rem;width:100%;max-width:20rem}"
    ".hint{color:#4a4a4a;font-size:.95rem}.error{color:#a4121a;font-weight:600}"
    "fieldset{border:1px solid #bbb;border-radius:.4rem;margin:1rem 0}legend{font-weight:600}"
    "fieldset label{font-weight:400;margin:.25rem 0}form{margin:.75rem 0}"
    "footer{max-width:42rem;margin:2rem auto;padding:1rem;border-top:1px solid #ccc}"
    "figure{margin:1rem 0}svg{background:#fff}.plain{list-style:none;padding:0}"
)


def hidden_csrf(frame: Frame) -> str:
    """The CSRF field of a form."""
    return f'<input type="hidden" name="csrf" value="{escape(frame.csrf or "")}">'


def post_button(frame: Frame, action: str, label: str, css: str = "", fields: str = "") -> str:
    """A form that is a single button (POST with the CSRF token)."""
    cls = f' class="{css}"' if css else ""
    return (
        f'<form method="post" action="{escape(action)}">{hidden_csrf(frame)}{fields}'
        f'<button type="submit"{cls}>{escape(label)}</button></form>'
    )


def link_button(href: str, label: str, css: str = "button") -> str:
    """A link that looks like a button."""
    return f'<a class="{css}" href="{escape(href)}">{escape(label)}</a>'


def page(frame: Frame, title: str, body: str, *, script: str = "") -> str:
    """The whole page."""
    lang = frame.lang
    other = "en" if lang == "de" else "de"
    switch = f"{frame.base}/lang?to={other}&next={quote(frame.path, safe='')}"
    nav = ""
    if frame.logged_in:
        items = "".join(
            f'<li><a href="{frame.base}/{path}">{escape(t(lang, key))}</a></li>'
            for path, key in (
                ("permits", "nav_permits"),
                ("visitors", "nav_visitors"),
                ("devices", "nav_devices"),
            )
        )
        logout = post_button(frame, f"{frame.base}/logout", t(lang, "logout"), "secondary")
        nav = f'<nav aria-label="{escape(t(lang, "nav"))}"><ul>{items}<li>{logout}</li></ul></nav>'
    brand = frame.brand
    return (
        "<!doctype html>"
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} – {escape(brand.name)}</title>"
        f"<style>{_style(brand)}</style></head><body>"
        f'<a class="skip" href="#main">{escape(t(lang, "skip"))}</a>'
        f'<header><img src="{escape(brand.logo_url)}" alt="">'
        f'<span class="name">{escape(brand.name)} · {escape(t(lang, "portal"))}</span></header>'
        f'{nav}<main id="main"><h1 tabindex="-1" id="title">{escape(title)}</h1>{body}</main>'
        f'<footer><a href="{escape(switch)}" lang="{other}" hreflang="{other}">'
        f"{escape(t(lang, 'other_lang'))}</a></footer>{script}</body></html>"
    )


def _style(brand: Brand) -> str:
    return f":root{{--brand:{escape(brand.colour)}}}{_STYLE}"


def security_headers(frame: Frame, script: str = "") -> dict[str, str]:
    """The headers of every portal page: no caching, and a Content-Security-Policy that
    allows exactly this page's one style block and its one script (by hash), images and
    fetches from the portal's own origin, and no framing (the relying party's pages
    follow the same policy)."""
    return pages.security_headers(_style(frame.brand), script)
