"""The relying party's own pages: minimal, server-rendered, German first (``?lang=en`` for
English), accessible (one ``h1`` that takes focus, a live region for what changes, labelled
links and figures, working without script). A citizen portal restyles or replaces them;
they only show what the service API returns.

Every value that reaches HTML goes through ``html.escape``; pages never carry personal data
beyond the name the citizen just disclosed on her own login.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from typing import Any

LANGS = ("de", "en")

TEXT: dict[str, dict[str, str]] = {
    "de": {
        "login_title": "Mit der Bürger-ID anmelden",
        "login_intro": "Zeigen Sie Ihre Bürger-ID aus Ihrer Wallet. Sie sehen in der Wallet, "
        "welche Angaben abgefragt werden, und entscheiden selbst.",
        "pid_title": "Bürger-ID ohne Brief",
        "pid_intro": "Zeigen Sie Ihren Personalausweis aus der Wallet (PID). Finden wir Sie "
        "eindeutig im Melderegister, erhalten Sie Ihre Bürger-ID sofort.",
        "authorize_title": "Anmelden für Ihre Wallet",
        "authorize_intro": "Ihre Wallet möchte Nachweise der Stadt abrufen. Melden Sie sich "
        "dazu mit Ihrem Personalausweis (PID) oder Ihrer Bürger-ID an.",
        "client_title": "Angaben aus der Wallet teilen",
        "client_intro": "Ein Dienst der Stadt bittet um Angaben aus Ihrer Wallet.",
        "same_device": "Wallet auf diesem Gerät öffnen",
        "cross_device": "Oder mit dem Smartphone scannen",
        "qr_label": "QR-Code für die Wallet",
        "waiting": "Warte auf Ihre Wallet …",
        "continue": "Ich habe die Angaben in der Wallet freigegeben – weiter",
        "refused": "Das hat nicht geklappt. Bitte versuchen Sie es erneut.",
        "expired": "Die Anfrage ist abgelaufen. Bitte starten Sie neu.",
        "retry": "Neu starten",
        "wait_title": "Bitte warten Sie kurz",
        "too_many_starts": "Von Ihrem Internetanschluss aus wurden in kurzer Zeit sehr viele "
        "Anmeldungen begonnen. Bitte warten Sie eine Minute und starten Sie dann neu.",
        "logged_in": "Sie sind angemeldet",
        "issued_by": "Ausgestellt von",
        "offer_title": "Ihre Bürger-ID liegt bereit",
        "offer_intro": "Öffnen Sie das Angebot in Ihrer Wallet. Es gilt 10 Minuten und nur einmal.",
        "offer_link": "Bürger-ID in die Wallet laden",
        "offer_qr": "Oder mit dem Smartphone scannen",
        "no_match_title": "Bitte im Bürgerbüro melden",
        "no_match": "Wir konnten Sie nicht eindeutig im Melderegister finden. Es wurde "
        "nichts ausgestellt. Bitte melden Sie sich im Bürgerbüro, dort hilft man Ihnen "
        "weiter.",
        "other_session": "Diese Anmeldung wurde in einem anderen Browser begonnen. Bitte "
        "kehren Sie dorthin zurück oder starten Sie neu.",
        "consent_title": "Zustimmen",
        "consent_as": "Angemeldet als",
        "consent_intro": "Ihre Wallet erhält von der Stadt:",
        "consent_yes": "Zustimmen und Nachweis in die Wallet laden",
        "consent_no": "Ablehnen",
        "other_lang": "English",
    },
    "en": {
        "login_title": "Log in with your Bürger-ID",
        "login_intro": "Show your Bürger-ID from your wallet. Your wallet tells you what is "
        "asked for, and you decide.",
        "pid_title": "Your Bürger-ID without a letter",
        "pid_intro": "Show your national ID from your wallet (PID). If we find you in the "
        "resident register without doubt, you get your Bürger-ID at once.",
        "authorize_title": "Log in for your wallet",
        "authorize_intro": "Your wallet wants to fetch credentials of the city. Log in with "
        "your national ID (PID) or your Bürger-ID.",
        "client_title": "Share details from your wallet",
        "client_intro": "A service of the city asks for details from your wallet.",
        "same_device": "Open the wallet on this device",
        "cross_device": "Or scan with your smartphone",
        "qr_label": "QR code for the wallet",
        "waiting": "Waiting for your wallet …",
        "continue": "I have shared the details in my wallet – continue",
        "refused": "That did not work. Please try again.",
        "expired": "The request has expired. Please start again.",
        "retry": "Start again",
        "wait_title": "Please wait a moment",
        "too_many_starts": "Very many logins were started from your internet connection in a "
        "short time. Please wait a minute, then start again.",
        "logged_in": "You are logged in",
        "issued_by": "Issued by",
        "offer_title": "Your Bürger-ID is ready",
        "offer_intro": "Open the offer in your wallet. It is valid for 10 minutes, once.",
        "offer_link": "Add the Bürger-ID to my wallet",
        "offer_qr": "Or scan with your smartphone",
        "no_match_title": "Please visit the Bürgerbüro",
        "no_match": "We could not find you in the resident register without doubt. Nothing "
        "was issued. Please visit the Bürgerbüro, they will help you.",
        "other_session": "This login was started in another browser. Please return there or "
        "start again.",
        "consent_title": "Consent",
        "consent_as": "Logged in as",
        "consent_intro": "Your wallet receives from the city:",
        "consent_yes": "Consent and add the credential to my wallet",
        "consent_no": "Decline",
        "other_lang": "Deutsch",
    },
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#111}a.button,button{display:inline-block;padding:.75rem 1.25rem;"
    "background:#0b5394;color:#fff;border:0;border-radius:.4rem;text-decoration:none;"
    "font-size:1rem}a:focus,button:focus,h1:focus{outline:3px solid #111;outline-offset:2px}"
    "figure{margin:1.5rem 0}svg{background:#fff}.secondary{background:#555}"
    "form button{margin:0 .5rem .75rem 0}"
)


def lang_of(value: str | None) -> str:
    """A supported language code (German by default)."""
    return value if value in LANGS else "de"


def text(lang: str, key: str) -> str:
    """One text in `lang`."""
    return TEXT[lang][key]


# The QR codes of the pages use one fixed mask pattern. Every mask is read by every decoder
# (ISO/IEC 18004: the mask only breaks up patterns); trying all eight for the one with the
# lowest penalty costs four times the rest of the symbol, on every login page, for a code
# shown large and sharp on a screen. tests/wallet_api/test_page_qr.py reads codes of each
# length a page shows back.
QR_MASK = 2


def qr_symbol(data: str) -> Any:
    """The QR symbol of `data` as the pages draw it (error correction M, the fixed mask)."""
    import segno

    return segno.make(data, error="m", mask=QR_MASK)


def qr_svg(data: str, label: str) -> str:
    """An inline SVG QR code, an image named by its title (without ``role="img"`` some screen
    readers walk into the drawing instead of announcing one image)."""
    svg = str(qr_symbol(data).svg_inline(scale=4, title=label))
    return svg.replace("<svg ", '<svg role="img" ', 1)


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page, with what its Content-Security-Policy must allow."""

    html: str
    script: str = ""  # its one inline script, "" for none

    @property
    def headers(self) -> dict[str, str]:
        return security_headers(_STYLE, self.script)


def _source_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def security_headers(style: str, script: str = "") -> dict[str, str]:
    """The headers of a page that carries one inline style block `style` and at most one
    inline `<script>…</script>` `script`: no caching, and a Content-Security-Policy that lets
    the browser run exactly these (by hash), fetch and show images from this origin only,
    and never frame the page (clickjacking of a login or a consent)."""
    inline = script.removeprefix("<script>").removesuffix("</script>")
    scripts = _source_hash(inline) if script else "'none'"
    policy = "; ".join(
        (
            "default-src 'none'",
            "img-src 'self'",
            f"style-src {_source_hash(style)}",
            f"script-src {scripts}",
            "connect-src 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def page(
    lang: str, title: str, body: str, *, other_lang_href: str | None = None, script: str = ""
) -> Page:
    """The frame every page shares; `script` goes last in the body."""
    switch = ""
    if other_lang_href is not None:
        other = "en" if lang == "de" else "de"
        switch = (
            f'<p><a href="{escape(other_lang_href)}" lang="{other}" hreflang="{other}">'
            f"{escape(text(lang, 'other_lang'))}</a></p>"
        )
    return Page(
        "<!doctype html>"
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><h1 tabindex="-1" id="title" autofocus>{escape(title)}</h1>'
        f"{body}</main>{switch}{script}</body></html>",
        script,
    )


def poll_script(status_url: str, continue_url: str) -> str:
    """Polls the login's state every 2 s and goes on to `continue_url` when the wallet answered
    on another device, or the login failed or expired (the only script of these pages)."""
    return (
        "<script>(function(){var s=document.getElementById('status');"
        f"var u={_js(status_url)},c={_js(continue_url)};"
        "function tick(){fetch(u,{credentials:'same-origin',cache:'no-store'})"
        ".then(function(r){return r.json()}).then(function(j){"
        "if(j.status==='verified'&&j.flow!=='same-device'||j.status==='failed'"
        "||j.status==='expired'){location.href=c;return}setTimeout(tick,2000)})"
        ".catch(function(){setTimeout(tick,4000)})}setTimeout(tick,2000)})();</script>"
    )


def _js(value: str) -> str:
    import json

    return json.dumps(value).replace("<", "\\u003c")


def waiting_page(
    lang: str,
    *,
    title_key: str,
    intro_key: str,
    same_device_url: str,
    cross_device_url: str,
    status_url: str,
    continue_url: str,
    other_lang_href: str,
) -> Page:
    """A started transaction: the same-device link, the QR code and the live status."""
    t = TEXT[lang]
    body = (
        f"<p>{escape(t[intro_key])}</p>"
        f'<p><a class="button" href="{escape(same_device_url)}">{escape(t["same_device"])}</a></p>'
        f'<figure><figcaption id="qr-caption">{escape(t["cross_device"])}</figcaption>'
        f"{qr_svg(cross_device_url, t['qr_label'])}</figure>"
        f'<p id="status" role="status" aria-live="polite">{escape(t["waiting"])}</p>'
        f'<noscript><p><a href="{escape(continue_url)}">{escape(t["continue"])}</a></p></noscript>'
    )
    script = poll_script(status_url, continue_url)
    return page(lang, t[title_key], body, other_lang_href=other_lang_href, script=script)


def message_page(lang: str, title_key: str, message_key: str, retry_href: str | None) -> Page:
    """A page that says one thing (refused, expired, no match, another session)."""
    t = TEXT[lang]
    retry = (
        f'<p><a class="button" href="{escape(retry_href)}">{escape(t["retry"])}</a></p>'
        if retry_href
        else ""
    )
    body = f'<p role="alert">{escape(t[message_key])}</p>{retry}'
    return page(lang, t[title_key], body)


def logged_in_page(lang: str, presentation: dict[str, Any]) -> Page:
    """After a login: who is logged in, by which credential."""
    t = TEXT[lang]
    claims = presentation.get("claims", {})
    name = " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name") if claims.get(k))
    body = (
        f'<p role="status">{escape(name)}</p>'
        f"<p>{escape(t['issued_by'])}: {escape(str(presentation.get('issuer_name', '')))}</p>"
    )
    return page(lang, t["logged_in"], body)


def offer_page(lang: str, offer_url: str) -> Page:
    """The Bürger-ID offer after a PID match."""
    t = TEXT[lang]
    body = (
        f"<p>{escape(t['offer_intro'])}</p>"
        f'<p><a class="button" href="{escape(offer_url)}">{escape(t["offer_link"])}</a></p>'
        f"<figure><figcaption>{escape(t['offer_qr'])}</figcaption>"
        f"{qr_svg(offer_url, t['qr_label'])}</figure>"
    )
    return page(lang, t["offer_title"], body)


def consent_page(lang: str, *, credentials: list[str], action: str, csrf: str, name: str) -> Page:
    """Consent in the authorization code flow: what the wallet receives."""
    t = TEXT[lang]
    items = "".join(f"<li>{escape(c)}</li>" for c in credentials)
    body = (
        f'<p role="status">{escape(t["consent_as"])} {escape(name)}</p>'
        f"<p>{escape(t['consent_intro'])}</p><ul>{items}</ul>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button type="submit" name="decision" value="allow">{escape(t["consent_yes"])}</button> '
        f'<button type="submit" name="decision" value="deny" class="secondary">'
        f"{escape(t['consent_no'])}</button></form>"
    )
    return page(lang, t["consent_title"], body)
