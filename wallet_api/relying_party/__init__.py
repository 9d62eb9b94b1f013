"""The OpenID4VP 1.0 relying party inside the service (docs/relying-party.md).

- ``identity``: the request-signing access certificate, our client identifier and the
  per-transaction response-encryption keys;
- ``trust``: the PID providers this deployment accepts (configured trust list);
- ``dcql``: the queries we ask (Bürger-ID, EU PID, German PID) and the check that a
  response answers them;
- ``presentations``: verification of one SD-JWT VC presentation (issuer trust, KB-JWT,
  status); the only module that calls into the SD-JWT internals of ``verifier``;
- ``transactions``: the service API a page or a portal uses (start, poll, take the result
  once) and the wallet-facing steps (request object, response);
- ``matching``: a presented PID matched to a tenant's resident register;
- ``routes`` and ``pages``: the HTTP face (wallet endpoints, minimal login pages);
- ``authorization``: OpenID4VCI's authorization code flow (PAR, PKCE, consent);
- ``clients``: other municipal applications asking through this service.
"""
