"""What the portal says, German first, then English.

Refusals are written for the citizen: each failed eligibility rule becomes a sentence that
says what is wrong and what she can do, with the date when time is the answer; the rule's
code is never shown on its own.
"""

from __future__ import annotations

from datetime import date, datetime

LANGS = ("de", "en")

TEXT: dict[str, dict[str, str]] = {
    "de": {
        "portal": "Bürgerportal",
        "skip": "Zum Inhalt springen",
        "nav": "Hauptnavigation",
        "nav_permits": "Meine Parkausweise",
        "nav_visitors": "Besucherausweise",
        "nav_devices": "Meine Geräte",
        "logout": "Abmelden",
        "other_lang": "English",
        "home_title": "Bewohnerparken online",
        "home_intro": "Beantragen, bezahlen, verlängern und zurückgeben: Ihr Bewohnerparkausweis "
        "ohne Gang ins Bürgerbüro. Melden Sie sich mit Ihrer Wallet an, mit der Bürger-ID oder "
        "dem Personalausweis (PID): Öffnen Sie die Wallet auf diesem Gerät oder scannen Sie den "
        "QR-Code mit Ihrem Smartphone.",
        "login_buergerid": "Mit der Bürger-ID anmelden",
        "login_pid": "Mit dem Personalausweis (PID) anmelden",
        "no_buergerid": "Noch keine Bürger-ID? Holen Sie sie ohne Brief mit Ihrem Personalausweis.",
        "get_buergerid": "Bürger-ID holen",
        "login_title": "Anmelden mit der Wallet",
        "stepup_title": "Bitte bestätigen Sie mit Ihrer Wallet",
        "stepup_intro": "Dieser Schritt lässt sich nicht rückgängig machen. Zeigen Sie dazu "
        "noch einmal Ihre Bürger-ID aus der Wallet.",
        "login_intro": "Öffnen Sie Ihre Wallet auf diesem Gerät oder scannen Sie den QR-Code mit "
        "Ihrem Smartphone. In der Wallet sehen Sie, welche Angaben abgefragt werden.",
        "same_device": "Wallet auf diesem Gerät öffnen",
        "cross_device": "Oder mit dem Smartphone scannen",
        "qr_label": "QR-Code für die Wallet",
        "waiting": "Warte auf Ihre Wallet …",
        "continue": "Ich habe in der Wallet bestätigt – weiter",
        "login_failed": "Die Anmeldung hat nicht geklappt. Bitte versuchen Sie es erneut.",
        "login_other_session": "Diese Anmeldung wurde in einem anderen Browser begonnen. Bitte "
        "starten Sie die Anmeldung hier neu.",
        "login_not_resident": "Wir konnten Sie nicht eindeutig im Melderegister dieser Stadt "
        "finden. Bitte melden Sie sich im Bürgerbüro.",
        "login_wrong_person": "Die Wallet gehört nicht zur angemeldeten Person.",
        "retry": "Neu starten",
        "permits_title": "Meine Parkausweise",
        "permits_none": "Sie haben noch keinen Parkausweis.",
        "number": "Nummer",
        "type": "Art",
        "state": "Status",
        "zone": "Zone",
        "plate": "Kennzeichen",
        "valid": "Gültig",
        "valid_from_until": "{start} bis {end}",
        "next": "Was Sie jetzt tun können",
        "details": "Details zu Parkausweis {number}",
        "permit_title": "Parkausweis {number}",
        "fee": "Gebühr",
        "fee_open": "Offene Gebühr: {amount}. Nach der Zahlung ist der Ausweis sofort gültig.",
        "fee_open_renewal": "Offene Gebühr der Verlängerung: {amount}.",
        "pay": "Jetzt bezahlen",
        "wallet": "In die Wallet laden",
        "wallet_title": "Parkausweis in die Wallet",
        "wallet_intro": "Öffnen Sie das Angebot in Ihrer Wallet auf diesem Gerät oder scannen Sie "
        "den QR-Code. Es gilt 10 Minuten und nur einmal; Sie brauchen keinen Code.",
        "wallet_deferred": "Der Ausweis wird bezahlt, sobald die Zahlung eingeht; Ihre Wallet "
        "erhält ihn dann von selbst.",
        "wallet_link": "Angebot in der Wallet öffnen",
        "back_permit": "Zurück zum Parkausweis",
        "renew": "Verlängern",
        "renew_from": "Verlängerung ab {date} möglich.",
        "renew_done": "Verlängert bis {date}.",
        "change_vehicle": "Fahrzeug oder Kennzeichen ändern",
        "change_intro": "Der bisherige Ausweis wird sofort ungültig; Sie erhalten einen neuen "
        "für die restliche Laufzeit. Laden Sie ihn danach neu in die Wallet.",
        "change_submit": "Fahrzeug ändern",
        "return": "Parkausweis zurückgeben",
        "return_intro": "Geben Sie den Ausweis zurück, wenn Sie ihn nicht mehr brauchen (Umzug, "
        "Fahrzeug verkauft). Er wird sofort gesperrt und gilt auch in Ihrer Wallet und auf "
        "Papier nicht mehr. Bereits gezahlte Gebühren werden nicht erstattet.",
        "return_submit": "Endgültig zurückgeben",
        "returned": "Der Parkausweis wurde zurückgegeben und ist gesperrt.",
        "windscreen": "Für die Windschutzscheibe drucken",
        "windscreen_inactive": "Drucken lässt sich nur ein gültiger Parkausweis.",
        "apply_title": "Bewohnerparkausweis beantragen",
        "apply_intro": "Für welches Fahrzeug? Die Gebühr steht bei jedem Fahrzeug, bevor Sie "
        "verbindlich beantragen. Danach bezahlen Sie online.",
        "apply_free": "Keine Gebühr.",
        "apply_submit_free": "Beantragen",
        "apply_vehicle": "Fahrzeug",
        "apply_no_vehicles": "Auf Sie ist kein Fahrzeug gemeldet. Wenden Sie sich an die "
        "Zulassungsstelle oder das Bürgerbüro.",
        "apply_refused": "So können wir den Parkausweis nicht ausstellen:",
        "apply_fee": "Gebühr für {months} Monate: {amount}",
        "apply_summary": "Zone {zone}, Kennzeichen {plate}, gültig {start} bis {end}.",
        "apply_confirm": "Kostenpflichtig beantragen",
        "apply_choose": "Bitte wählen Sie ein Fahrzeug.",
        "fee_changed": "Die Gebühr hat sich geändert, seit die Seite angezeigt wurde. Bitte "
        "prüfen Sie den neuen Betrag unten und beantragen Sie dann erneut.",
        "no_zone": "Ihre Adresse liegt in keiner Bewohnerparkzone. Ein Bewohnerparkausweis ist "
        "für Ihre Straße nicht vorgesehen.",
        "pay_title": "Zahlung bestätigen",
        "pay_intro": "Entwicklungs-Zahlungsanbieter: Es fließt kein Geld. Im Betrieb steht hier "
        "die Seite des Zahlungsanbieters der Stadt.",
        "pay_amount": "Betrag",
        "pay_for": "Verwendungszweck",
        "pay_confirm": "Zahlung bestätigen",
        "pay_unavailable": "Die Online-Zahlung ist noch nicht eingerichtet. Bitte bezahlen Sie "
        "im Bürgerbüro.",
        "paid": "Zahlung eingegangen. Ihr Parkausweis ist gültig.",
        "visitors_title": "Besucherausweise",
        "visitors_intro": "Für Besuch bei Ihnen: ein Ausweis für ein Kennzeichen und wenige "
        "Tage, aus Ihrem Jahreskontingent.",
        "visitors_quota": "Dieses Jahr genutzt: {used} von {quota}.",
        "visitors_plate": "Kennzeichen des Besuchs",
        "visitors_plate_hint": "Zum Beispiel GE-AB 123",
        "visitors_from": "Ab (Datum)",
        "visitors_days": "Tage",
        "visitors_submit": "Besucherausweis ausstellen",
        "visitors_none": "Besucherausweise gibt es in Ihrer Stadt nicht.",
        "bad_plate": "Bitte geben Sie ein Kennzeichen an, z. B. GE-AB 123.",
        "bad_date": "Bitte geben Sie ein Datum ab heute an (TT.MM.JJJJ oder JJJJ-MM-TT).",
        "bad_days": "Bitte geben Sie 1 bis {max} Tage an.",
        "devices_title": "Meine Geräte",
        "devices_intro": "Die Smartphones, auf die Ihre Wallet Nachweise der Stadt geladen hat.",
        "devices_none": "Noch keine Wallet hat Nachweise geladen.",
        "device": "Gerät seit {date}, {count} Nachweise",
        "device_removed": "entfernt am {date}",
        "device_remove": "Verloren? Gerät entfernen",
        "device_remove_intro": "Entfernen Sie ein verlorenes oder verkauftes Smartphone. Was dann "
        "geschieht: Jeder Nachweis auf diesem Gerät wird sofort gesperrt (Kontrollgeräte sehen "
        "die Sperre bei ihrem nächsten Abgleich), das Gerät kann nichts mehr abrufen und keinen "
        "neuen Nachweis erhalten. Ihre Parkausweise selbst bleiben gültig: Laden Sie sie auf dem "
        "neuen Smartphone einfach wieder in die Wallet.",
        "device_remove_submit": "Gerät endgültig entfernen",
        "device_removed_done": "Gerät entfernt: {credentials} Nachweise gesperrt.",
        "csrf": "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu.",
        "not_found": "Nicht gefunden.",
        "session_ended": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich neu an.",
        "error_title": "Das hat nicht geklappt",
        "conflict": "Das geht in diesem Zustand des Ausweises nicht. Bitte laden Sie die Seite "
        "neu.",
        "wait_title": "Bitte warten Sie eine Minute",
        "too_many_starts": "Von Ihrem Internetanschluss aus wurden in kurzer Zeit sehr viele "
        "Anmeldungen begonnen. Bitte warten Sie eine Minute und laden Sie die Seite dann neu.",
        "logged_out": "Sie sind abgemeldet.",
    },
    "en": {
        "portal": "Citizen portal",
        "skip": "Skip to content",
        "nav": "Main navigation",
        "nav_permits": "My parking permits",
        "nav_visitors": "Visitor permits",
        "nav_devices": "My devices",
        "logout": "Log out",
        "other_lang": "Deutsch",
        "home_title": "Resident parking online",
        "home_intro": "Apply, pay, renew and return: your resident parking permit without a "
        "visit to the office. Log in with your wallet, with the Bürger-ID or your national ID "
        "(PID): open the wallet on this device or scan the QR code with your smartphone.",
        "login_buergerid": "Log in with the Bürger-ID",
        "login_pid": "Log in with the national ID (PID)",
        "no_buergerid": "No Bürger-ID yet? Get it without a letter with your national ID.",
        "get_buergerid": "Get the Bürger-ID",
        "login_title": "Log in with your wallet",
        "stepup_title": "Please confirm with your wallet",
        "stepup_intro": "This step cannot be undone. Show your Bürger-ID from your wallet once "
        "more.",
        "login_intro": "Open your wallet on this device or scan the QR code with your "
        "smartphone. Your wallet shows what is asked for.",
        "same_device": "Open the wallet on this device",
        "cross_device": "Or scan with your smartphone",
        "qr_label": "QR code for the wallet",
        "waiting": "Waiting for your wallet …",
        "continue": "I have confirmed in my wallet – continue",
        "login_failed": "The login did not work. Please try again.",
        "login_other_session": "This login was started in another browser. Please start again "
        "here.",
        "login_not_resident": "We could not find you in this city's resident register without "
        "doubt. Please visit the citizens' office.",
        "login_wrong_person": "The wallet does not belong to the person logged in.",
        "retry": "Start again",
        "permits_title": "My parking permits",
        "permits_none": "You have no parking permit yet.",
        "number": "Number",
        "type": "Kind",
        "state": "State",
        "zone": "Zone",
        "plate": "Plate",
        "valid": "Valid",
        "valid_from_until": "{start} to {end}",
        "next": "What you can do now",
        "details": "Details of permit {number}",
        "permit_title": "Parking permit {number}",
        "fee": "Fee",
        "fee_open": "Fee due: {amount}. The permit is valid as soon as it is paid.",
        "fee_open_renewal": "Fee of the renewal due: {amount}.",
        "pay": "Pay now",
        "wallet": "Add to my wallet",
        "wallet_title": "Parking permit into your wallet",
        "wallet_intro": "Open the offer in your wallet on this device or scan the QR code. It is "
        "valid for 10 minutes, once; you need no code.",
        "wallet_deferred": "The permit becomes valid when the payment arrives; your wallet then "
        "receives it by itself.",
        "wallet_link": "Open the offer in my wallet",
        "back_permit": "Back to the permit",
        "renew": "Renew",
        "renew_from": "Renewal possible from {date}.",
        "renew_done": "Renewed until {date}.",
        "change_vehicle": "Change vehicle or plate",
        "change_intro": "The current permit becomes invalid at once; you get a new one for the "
        "remaining term. Add it to your wallet again afterwards.",
        "change_submit": "Change vehicle",
        "return": "Return the permit",
        "return_intro": "Return the permit when you no longer need it (moved, car sold). It is "
        "revoked at once and no longer valid in your wallet or on paper. Fees paid are not "
        "refunded.",
        "return_submit": "Return for good",
        "returned": "The permit was returned and is revoked.",
        "windscreen": "Print for the windscreen",
        "windscreen_inactive": "Only a valid permit can be printed.",
        "apply_title": "Apply for a resident parking permit",
        "apply_intro": "For which vehicle? Each vehicle shows its fee before you apply. You "
        "then pay online.",
        "apply_free": "No fee.",
        "apply_submit_free": "Apply",
        "apply_vehicle": "Vehicle",
        "apply_no_vehicles": "No vehicle is registered to you. Please contact the vehicle "
        "registration office or the citizens' office.",
        "apply_refused": "We cannot issue the permit like this:",
        "apply_fee": "Fee for {months} months: {amount}",
        "apply_summary": "Zone {zone}, plate {plate}, valid {start} to {end}.",
        "apply_confirm": "Apply (fee applies)",
        "apply_choose": "Please choose a vehicle.",
        "fee_changed": "The fee has changed since this page was shown. Please check the new "
        "amount below, then apply again.",
        "no_zone": "Your address is in no resident parking zone. A resident parking permit is "
        "not offered for your street.",
        "pay_title": "Confirm the payment",
        "pay_intro": "Development payment provider: no money moves. In operation the city's "
        "payment provider shows its page here.",
        "pay_amount": "Amount",
        "pay_for": "Reference",
        "pay_confirm": "Confirm the payment",
        "pay_unavailable": "Online payment is not set up yet. Please pay at the citizens' office.",
        "paid": "Payment received. Your parking permit is valid.",
        "visitors_title": "Visitor permits",
        "visitors_intro": "For your visitors: a permit for one plate and a few days, from your "
        "yearly quota.",
        "visitors_quota": "Used this year: {used} of {quota}.",
        "visitors_plate": "Your visitor's plate",
        "visitors_plate_hint": "For example GE-AB 123",
        "visitors_from": "From (date)",
        "visitors_days": "Days",
        "visitors_submit": "Issue the visitor permit",
        "visitors_none": "Your city offers no visitor permits.",
        "bad_plate": "Please enter a plate, e.g. GE-AB 123.",
        "bad_date": "Please enter a date from today (DD.MM.YYYY or YYYY-MM-DD).",
        "bad_days": "Please enter 1 to {max} days.",
        "devices_title": "My devices",
        "devices_intro": "The smartphones your wallet loaded credentials of the city onto.",
        "devices_none": "No wallet has loaded credentials yet.",
        "device": "Device since {date}, {count} credentials",
        "device_removed": "removed on {date}",
        "device_remove": "Lost? Remove the device",
        "device_remove_intro": "Remove a lost or sold smartphone. What happens: every credential "
        "on it is revoked at once (enforcement devices see it at their next sync), the device "
        "can fetch nothing more and receives no new credential. Your parking permits "
        "themselves stay valid: add them to the wallet on your new smartphone again.",
        "device_remove_submit": "Remove the device for good",
        "device_removed_done": "Device removed: {credentials} credentials revoked.",
        "csrf": "The form has expired. Please reload the page.",
        "not_found": "Not found.",
        "session_ended": "Your session has ended. Please log in again.",
        "error_title": "That did not work",
        "conflict": "Not possible in the permit's current state. Please reload the page.",
        "wait_title": "Please wait a minute",
        "too_many_starts": "Very many logins were started from your internet connection "
        "within a short time. Please wait a minute, then reload this page.",
        "logged_out": "You are logged out.",
    },
}

STATES = {
    "de": {
        "awaiting_payment": "wartet auf Zahlung",
        "active": "gültig",
        "suspended": "ausgesetzt",
        "revoked": "gesperrt",
        "expired": "abgelaufen",
        "replaced": "ersetzt",
    },
    "en": {
        "awaiting_payment": "awaiting payment",
        "active": "valid",
        "suspended": "suspended",
        "revoked": "revoked",
        "expired": "expired",
        "replaced": "replaced",
    },
}

TYPES = {
    "de": {"BEW": "Bewohnerparkausweis", "BES": "Besucherausweis"},
    "en": {"BEW": "Resident parking permit", "BES": "Visitor permit"},
}

# every eligibility rule in words: what is wrong and what she can do ({date}: when)
REFUSALS: dict[str, dict[str, str]] = {
    "de": {
        "no_residence": "Im Melderegister ist für Sie keine aktuelle Wohnung eingetragen. Bitte "
        "melden Sie sich im Bürgerbüro an.",
        "residence_kind_not_allowed": "Bewohnerparkausweise gibt es nur für die Hauptwohnung. "
        "Ist dies Ihre Hauptwohnung, ändern Sie die Meldung im Bürgerbüro.",
        "address_not_in_zone": "Ihre Adresse liegt in keiner Bewohnerparkzone.",
        "validity_beyond_residence": "Ihre Wohnung ist nur bis {residence_end} gemeldet. Der "
        "Ausweis kann nicht länger gelten.",
        "vehicle_required": "Bitte wählen Sie ein Fahrzeug.",
        "vehicle_not_held": "Das Fahrzeug ist nicht auf Sie zugelassen. Nutzen Sie es dauerhaft "
        "(Firmen- oder Leasingwagen), bringen Sie den Nachweis ins Bürgerbüro.",
        "use_proof_missing": "Für ein Firmen- oder Leasingfahrzeug fehlt der Nachweis, dass Sie "
        "es dauerhaft nutzen. Reichen Sie die Bescheinigung im Bürgerbüro ein.",
        "use_kind_not_allowed": "Für diese Art der Nutzung gibt es in Ihrer Stadt keinen "
        "Bewohnerparkausweis. Wählen Sie ein anderes Fahrzeug.",
        "vehicle_class_not_allowed": "Für diese Fahrzeugklasse gibt es keinen "
        "Bewohnerparkausweis. Wählen Sie ein anderes Fahrzeug.",
        "vehicle_too_long": "Das Fahrzeug ist länger als erlaubt ({max_length}). Wählen Sie ein "
        "anderes Fahrzeug.",
        "vehicle_length_unknown": "Die Länge des Fahrzeugs ist nicht bekannt. Bitte lassen Sie "
        "sie im Bürgerbüro nachtragen.",
        "vehicle_deregistered": "Das Fahrzeug ist abgemeldet. Wählen Sie ein anderes Fahrzeug.",
        "too_many_plates": "Es ist nur ein Fahrzeug je Ausweis erlaubt.",
        "foreign_plate_not_allowed": "Fahrzeuge mit ausländischem Kennzeichen sind nicht "
        "zugelassen. Wenden Sie sich an das Bürgerbüro.",
        "fleet_not_allowed": "Wechselnde Fahrzeuge sind nicht erlaubt.",
        "resident_has_permit": "Sie haben schon einen gültigen Bewohnerparkausweis{permit}. "
        "Verlängerung ab {renew_from} möglich; ein anderes Fahrzeug tragen Sie dort ein.",
        "vehicle_has_permit": "Für dieses Fahrzeug gibt es schon einen Bewohnerparkausweis. "
        "Wählen Sie ein anderes Fahrzeug.",
        "renewal_too_early": "Verlängerung ab {renew_from} möglich.",
        "renewal_after_expiry": "Der Ausweis ist abgelaufen und kann nicht mehr verlängert "
        "werden. Beantragen Sie einen neuen.",
        "validity_too_long": "Der gewünschte Zeitraum ist zu lang.",
        "validity_empty": "Der Zeitraum ist leer. Bitte wählen Sie ein späteres Ende.",
        "starts_in_past": "Der Beginn liegt in der Vergangenheit. Bitte wählen Sie ein Datum ab "
        "heute.",
        "visitor_quota_exhausted": "Ihr Kontingent an Besucherausweisen für dieses Jahr ist "
        "aufgebraucht. Neue gibt es ab dem 01.01.{next_year}.",
        "time_windows_required": "Für diese Art sind Zeitfenster nötig.",
        "permit_type_not_offered": "Diese Art von Ausweis bietet Ihre Stadt nicht an.",
        "validity_beyond_key": "Der Ausweis kann zurzeit nicht so lange ausgestellt werden. "
        "Bitte versuchen Sie es morgen erneut oder wenden Sie sich an das Bürgerbüro.",
        "other": "Der Antrag kann online nicht entschieden werden. Bitte wenden Sie sich an das "
        "Bürgerbüro.",
    },
    "en": {
        "no_residence": "The register holds no current home for you. Please register at the "
        "citizens' office.",
        "residence_kind_not_allowed": "Resident permits are for the main residence only. If "
        "this is your main residence, change your registration at the citizens' office.",
        "address_not_in_zone": "Your address is in no resident parking zone.",
        "validity_beyond_residence": "Your home is registered only until {residence_end}. The "
        "permit cannot last longer.",
        "vehicle_required": "Please choose a vehicle.",
        "vehicle_not_held": "The vehicle is not registered to you. If you use it permanently "
        "(company or leased car), bring the proof to the citizens' office.",
        "use_proof_missing": "For a company or leased car the proof that you use it permanently "
        "is missing. Hand in the certificate at the citizens' office.",
        "use_kind_not_allowed": "Your city gives no resident permit for this kind of use. "
        "Choose another vehicle.",
        "vehicle_class_not_allowed": "There is no resident permit for this class of vehicle. "
        "Choose another vehicle.",
        "vehicle_too_long": "The vehicle is longer than allowed ({max_length}). Choose another "
        "vehicle.",
        "vehicle_length_unknown": "The vehicle's length is not known. Please have it added at "
        "the citizens' office.",
        "vehicle_deregistered": "The vehicle is deregistered. Choose another vehicle.",
        "too_many_plates": "One vehicle per permit only.",
        "foreign_plate_not_allowed": "Vehicles with foreign plates are not allowed. Please "
        "contact the citizens' office.",
        "fleet_not_allowed": "Changing vehicles are not allowed.",
        "resident_has_permit": "You already hold a valid resident permit{permit}. Renewal "
        "possible from {renew_from}; change the vehicle there.",
        "vehicle_has_permit": "This vehicle already has a resident permit. Choose another vehicle.",
        "renewal_too_early": "Renewal possible from {renew_from}.",
        "renewal_after_expiry": "The permit has expired and can no longer be renewed. Apply "
        "for a new one.",
        "validity_too_long": "The period asked for is too long.",
        "validity_empty": "The period is empty. Please choose a later end.",
        "starts_in_past": "The start lies in the past. Please choose a date from today.",
        "visitor_quota_exhausted": "Your visitor permits for this year are used up. New ones "
        "from 01.01.{next_year}.",
        "time_windows_required": "This kind needs time windows.",
        "permit_type_not_offered": "Your city does not offer this kind of permit.",
        "validity_beyond_key": "The permit cannot be issued for that long at the moment. "
        "Please try again tomorrow or contact the citizens' office.",
        "other": "The application cannot be decided online. Please contact the citizens' office.",
    },
}


def lang_of(value: str | None) -> str:
    """A supported language (German by default)."""
    return value if value in LANGS else "de"


def t(lang: str, key: str, **values: object) -> str:
    """One text, with its placeholders filled."""
    text = TEXT[lang][key]
    return text.format(**values) if values else text


def day(lang: str, value: date | datetime) -> str:
    """A date as people write it: 05.11.2027 (de) or 5 Nov 2027 (en)."""
    if isinstance(value, datetime):
        value = value.date()
    if lang == "de":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {value.strftime('%b %Y')}"


def euros(lang: str, cents: int) -> str:
    """An amount: 30,00 € (de) or €30.00 (en)."""
    whole, part = divmod(cents, 100)
    if lang == "de":
        return f"{whole:,}".replace(",", ".") + f",{part:02d} €"
    return f"€{whole:,}.{part:02d}"


def refusal(lang: str, code: str, **facts: object) -> str:
    """One failed rule as a sentence (an unknown code: the office decides)."""
    text = REFUSALS[lang].get(code) or REFUSALS[lang]["other"]
    values = {k: "" for k in ("permit", "renew_from", "max_length", "residence_end", "next_year")}
    values.update({k: str(v) for k, v in facts.items()})
    return text.format(**values)
