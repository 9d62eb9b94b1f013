"""The citizen portal (docs/citizen-portal.md): a resident logs in with her wallet (through
the relying party), sees her permits, applies, pays, renews, changes the vehicle, returns a
permit, issues visitor permits and removes a lost phone, in the browser, per tenant.

- ``models``: sessions, payments, branding (tables)
- ``sessions``: server-side browser sessions, CSRF, fresh presentations
- ``payments``: the payment-provider interface, signed callbacks, the development provider
- ``service``: what she can do, through the public permit and wallet services
- ``texts``: German and English, refusals in plain words
- ``brand``, ``html``: the page frame per tenant
- ``routes``: the pages; ``admin_routes``: branding through the municipal API
"""
