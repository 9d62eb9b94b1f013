// The wallet and the relying party of the interoperability tests, written with independent
// libraries: @openid4vc/openid4vci (the wallet), @sd-jwt/sd-jwt-vc (verify and present),
// @sd-jwt/jwt-status-list (read a status). Driven by tests/interop/test_node_wallet.py:
//
//   node interop.mjs <command>   (a JSON request on stdin, one JSON answer on stdout)
//
//   issue    redeem a credential offer: every offered configuration, deferred ones
//            collected once the test says so; optionally DPoP and a wallet attestation
//   verify   verify an SD-JWT VC: keys discovered from the issuer URL (JWT VC Issuer
//            Metadata), status from its status list, Type Metadata from its vct
//   present  a presentation with the chosen disclosures and a KB-JWT
//   library-key-attestation   a key attestation made by the library's wallet provider helper
//   present-vp  answer an OpenID4VP 1.0 request (@openid4vc/openid4vp, dcql, jose): resolve
//            the signed request object by reference, check its x5c chain to the given root
//            and the client identifier prefix, match the DCQL query, present the
//            SD-JWT VC with a KB-JWT, encrypt (direct_post.jwt) and post the response
//
// No lenient option of any library is set: https only (getGlobalConfig().allowInsecureUrls
// stays false), the libraries' own checks run. Our own code here only supplies what the
// libraries leave to their user (signing, key discovery, fetching with an SRI check).
import crypto from 'node:crypto';

import {
  Openid4vciClient,
  Openid4vciWalletProvider,
  getGlobalConfig,
} from '@openid4vc/openid4vci';
import {
  clientAuthenticationAnonymous,
  clientAuthenticationClientAttestationJwt,
} from '@openid4vc/oauth2';
import {
  createOpenid4vpAuthorizationResponse,
  resolveOpenid4vpAuthorizationRequest,
  submitOpenid4vpAuthorizationResponse,
} from '@openid4vc/openid4vp';
import { DcqlQuery } from 'dcql';
import { CompactEncrypt, importJWK } from 'jose';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const fromB64url = (text) => Buffer.from(text, 'base64url');
const json = (obj) => Buffer.from(JSON.stringify(obj));

// ------------------------------------------------------------------------------ keys

const keys = new Map(); // public JWK thumbprint input -> private KeyObject

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return remember(privateKey);
}

function importKey(privateJwk) {
  return remember(crypto.createPrivateKey({ key: privateJwk, format: 'jwk' }));
}

function remember(privateKey) {
  const jwk = privateKey.export({ format: 'jwk' });
  const publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  keys.set(`${jwk.x}.${jwk.y}`, privateKey);
  return { privateKey, publicJwk, privateJwk: jwk };
}

function keyFor(publicJwk) {
  const key = keys.get(`${publicJwk.x}.${publicJwk.y}`);
  if (!key) throw new Error('no private key for this public key');
  return key;
}

function signCompact(header, payload, privateKey) {
  const input = `${b64url(json(header))}.${b64url(json(payload))}`;
  const signature = crypto.sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${b64url(signature)}`;
}

function verifyCompact(compact, publicKey) {
  const [h, p, s] = compact.split('.');
  return crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, fromB64url(s));
}

// the callbacks @openid4vc/* leave to their user
let providerKey = null; // the wallet provider's attestation key, for x5c signers
const callbacks = {
  fetch: (...args) => fetch(...args),
  hash: (data, alg) => new Uint8Array(crypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest()),
  generateRandom: (length) => new Uint8Array(crypto.randomBytes(length)),
  signJwt: async (signer, { header, payload }) => {
    if (signer.method === 'jwk') {
      return { jwt: signCompact(header, payload, keyFor(signer.publicJwk)), signerJwk: signer.publicJwk };
    }
    if (signer.method === 'x5c' && providerKey) {
      return { jwt: signCompact(header, payload, providerKey.privateKey), signerJwk: providerKey.publicJwk };
    }
    throw new Error(`cannot sign with ${signer.method}`);
  },
  verifyJwt: async (signer, { compact }) => {
    if (signer.method !== 'jwk') return { verified: false };
    const key = crypto.createPublicKey({ key: signer.publicJwk, format: 'jwk' });
    return { verified: verifyCompact(compact, key), signerJwk: signer.publicJwk };
  },
  clientAuthentication: clientAuthenticationAnonymous(),
};

// ------------------------------------------------------------------------------ issue

async function issue(request) {
  if (getGlobalConfig().allowInsecureUrls) throw new Error('insecure URLs must stay refused');
  let clientId;
  if (request.attestation) {
    // the wallet provider (its key and x5c chain come from the test) attests this instance
    providerKey = importKey(request.attestation.provider_private_jwk);
    const instance = newKey();
    const provider = new Openid4vciWalletProvider({ callbacks });
    const now = Math.floor(Date.now() / 1000);
    const attestation = await provider.createWalletAttestationJwt({
      signer: { method: 'x5c', alg: 'ES256', x5c: request.attestation.x5c },
      issuer: request.attestation.provider,
      clientId: request.attestation.client_id,
      confirmation: { jwk: instance.publicJwk },
      issuedAt: new Date((now - 60) * 1000),
      expiresAt: new Date((now + 3600) * 1000),
      walletName: 'interop wallet',
    });
    callbacks.clientAuthentication = clientAuthenticationClientAttestationJwt({
      clientAttestationJwt: attestation,
      callbacks,
    });
    clientId = request.attestation.client_id;
  }
  const client = new Openid4vciClient({ callbacks });
  const offer = await client.resolveCredentialOffer(request.offer_url);
  const metadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const dpopKey = request.dpop ? newKey() : null;
  const dpop = dpopKey ? { signer: { method: 'jwk', alg: 'ES256', publicJwk: dpopKey.publicJwk } } : undefined;
  const token = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata: metadata,
    txCode: request.tx_code,
    dpop,
  });
  const holder = newKey();
  let dpopState = token.dpop;
  const out = {
    token_type: token.accessTokenResponse.token_type,
    authorization_details: token.accessTokenResponse.authorization_details ?? null,
    holder_private_jwk: holder.privateJwk,
    credentials: {},
    deferred: {},
  };
  for (const id of offer.credential_configuration_ids) {
    const configuration = metadata.credentialIssuer.credential_configurations_supported[id];
    let proofs;
    if (configuration.proof_types_supported) {
      const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata: metadata });
      const { jwt } = await client.createCredentialRequestJwtProof({
        issuerMetadata: metadata,
        credentialConfigurationId: id,
        signer: { method: 'jwk', alg: 'ES256', publicJwk: holder.publicJwk },
        nonce,
        clientId,
      });
      proofs = { jwt: [jwt] };
    }
    const response = await client.retrieveCredentials({
      issuerMetadata: metadata,
      accessToken: token.accessTokenResponse.access_token,
      credentialConfigurationId: id,
      proofs,
      dpop: dpopState ? { ...dpop, nonce: dpopState.nonce } : undefined,
    });
    if (dpop) dpopState = response.dpop ?? dpopState;
    const body = response.credentialResponse;
    if (body.transaction_id) {
      out.deferred[id] = { transaction_id: body.transaction_id, interval: body.interval };
      continue;
    }
    out.credentials[id] = body.credentials.map((c) => c.credential);
    if (body.notification_id) {
      await client.sendNotification({
        issuerMetadata: metadata,
        accessToken: token.accessTokenResponse.access_token,
        notification: { notificationId: body.notification_id, event: 'credential_accepted' },
        dpop: dpopState ? { ...dpop, nonce: dpopState.nonce } : undefined,
      });
    }
  }
  if (Object.keys(out.deferred).length && request.collect_after_marker) {
    // the test pays the permit, then tells us to come back (one line on stdin)
    process.stdout.write(JSON.stringify({ waiting: Object.keys(out.deferred) }) + '\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    out.deferred_library_errors = {};
    for (const [id, { transaction_id: transactionId }] of Object.entries(out.deferred)) {
      try {
        const response = await client.retrieveDeferredCredentials({
          issuerMetadata: metadata,
          accessToken: token.accessTokenResponse.access_token,
          transactionId,
          dpop: dpopState ? { ...dpop, nonce: dpopState.nonce } : undefined,
        });
        if (dpop) dpopState = response.dpop ?? dpopState;
        out.credentials[id] = response.deferredCredentialResponse.credentials.map((c) => c.credential);
      } catch (error) {
        // 0.4.6 refuses a deferred response that carries credentials and a notification_id
        // (docs/wallet.md); keep its message and the response it refused for the test
        const refused = error.response?.deferredCredentialResponseResult?.error;
        out.deferred_library_errors[id] = {
          issues: refused ? refused.issues.map((issue) => issue.message) : [String(error.message ?? error)],
          response: error.response?.response ? await error.response.response.json() : null,
        };
      }
    }
    out.deferred = {};
  }
  return out;
}

// ------------------------------------------------------------------------------ verify

// SD-JWT VC §5: insert /.well-known/jwt-vc-issuer between host and path of iss
function issuerMetadataUrl(iss) {
  const url = new URL(iss);
  if (url.protocol !== 'https:') throw new Error('iss must be https');
  const path = url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/jwt-vc-issuer${path}`;
}

const issuerKeys = new Map();

async function keysOf(iss) {
  if (!issuerKeys.has(iss)) {
    const response = await fetch(issuerMetadataUrl(iss));
    if (!response.ok) throw new Error(`JWT VC issuer metadata: HTTP ${response.status}`);
    const metadata = await response.json();
    if (metadata.issuer !== iss) throw new Error('issuer metadata names another issuer');
    issuerKeys.set(iss, metadata.jwks.keys);
  }
  return issuerKeys.get(iss);
}

async function verifyIssuerSigned(data, signature) {
  const [h, p] = data.split('.');
  const header = JSON.parse(fromB64url(h));
  const payload = JSON.parse(fromB64url(p));
  const jwk = (await keysOf(payload.iss)).find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== 'ES256') return false;
  const key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  return crypto.verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, fromB64url(signature));
}

// W3C SRI as draft-ietf-oauth-sd-jwt-vc §7 asks: sha256 of the fetched bytes, base64
async function fetchWithSri(url, integrity) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`type metadata: HTTP ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (integrity) {
    const [alg, expected] = integrity.split('-', 2);
    if (alg !== 'sha256') throw new Error(`unsupported integrity algorithm ${alg}`);
    const actual = crypto.createHash('sha256').update(bytes).digest('base64');
    if (actual !== expected) throw new Error('type metadata integrity does not match');
  }
  return JSON.parse(bytes);
}

function instance(extra) {
  return new SDJwtVcInstance({
    hasher: digest,
    saltGenerator: generateSalt,
    verifier: verifyIssuerSigned,
    statusVerifier: verifyIssuerSigned,
    ...extra,
  });
}

async function verify(request) {
  const statuses = [];
  const out = {};
  const sdjwt = instance({
    loadTypeMetadataFormat: true,
    vctFetcher: fetchWithSri,
    statusValidator: async (status) => {
      statuses.push(status);
    },
  });
  const result = await sdjwt.verify(request.credential);
  out.payload = result.payload;
  out.status = statuses[0] ?? null;
  out.type_metadata = result.typeMetadata?.mergedTypeMetadata ?? null;
  // the library's own vct#integrity check, without our fetcher (see docs/wallet.md)
  try {
    await instance({ loadTypeMetadataFormat: true, statusValidator: async () => {} }).verify(
      request.credential,
    );
    out.library_integrity_check = 'passed';
  } catch (error) {
    out.library_integrity_check = String(error.message ?? error);
  }
  // the status read again with the status list library alone, as a relying party would
  const reference = result.payload.status.status_list;
  const listResponse = await fetch(reference.uri, { headers: { Accept: 'application/statuslist+jwt' } });
  out.status_list_content_type = listResponse.headers.get('content-type');
  const listJwt = await listResponse.text();
  out.status_again = getListFromStatusListJWT(listJwt).getStatus(reference.idx);
  return out;
}

// ------------------------------------------------------------------------------ present

async function present(request) {
  const holder = importKey(request.holder_private_jwk);
  const sdjwt = instance({
    kbSigner: (data) => b64url(crypto.sign('sha256', Buffer.from(data), { key: holder.privateKey, dsaEncoding: 'ieee-p1363' })),
    kbSignAlg: 'ES256',
  });
  const presentation = await sdjwt.present(request.credential, request.frame, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: request.aud, nonce: request.nonce } },
  });
  return { presentation };
}

async function libraryKeyAttestation(request) {
  providerKey = importKey(request.provider_private_jwk);
  const holder = importKey(request.holder_private_jwk);
  const provider = new Openid4vciWalletProvider({ callbacks });
  const now = Math.floor(Date.now() / 1000);
  const jwt = await provider.createKeyAttestationJwt({
    signer: { method: 'x5c', alg: 'ES256', x5c: request.x5c },
    attestedKeys: [holder.publicJwk],
    keyStorage: ['iso_18045_moderate'],
    userAuthentication: ['iso_18045_moderate'],
    issuedAt: new Date(now * 1000),
    expiresAt: new Date((now + 3600) * 1000),
    nonce: request.nonce,
    use: 'proof_type.jwt',
  });
  return { key_attestation: jwt };
}

// ------------------------------------------------------------------------------ present-vp

// the x5c chain of a request object must end in the configured root (the library leaves
// trust to its user); the leaf's key then verifies the signature
function chainKey(x5c, rootPem) {
  const certs = x5c.map((der) => new crypto.X509Certificate(Buffer.from(der, 'base64')));
  const root = new crypto.X509Certificate(rootPem);
  const now = new Date();
  for (let i = 0; i < certs.length; i += 1) {
    const issuer = certs[i + 1] ?? root;
    if (!certs[i].checkIssued(issuer) || !certs[i].verify(issuer.publicKey)) {
      throw new Error('request object x5c does not chain to the trusted root');
    }
    if (new Date(certs[i].validFrom) > now || new Date(certs[i].validTo) < now) {
      throw new Error('request object certificate outside its validity');
    }
  }
  return certs[0].publicKey;
}

function sanOf(der) {
  const names = (new crypto.X509Certificate(Buffer.from(der, 'base64')).subjectAltName ?? '').split(', ');
  return {
    sanDnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    sanUriNames: names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4)),
  };
}

function frameOf(claims) {
  const frame = {};
  for (const { path } of claims ?? []) {
    let node = frame;
    path.forEach((segment, i) => {
      if (i === path.length - 1) node[segment] = true;
      else node = node[segment] = node[segment] === true ? {} : node[segment] ?? {};
    });
  }
  return frame;
}

async function presentVp(request) {
  const holder = crypto.createPrivateKey(request.holder_private_pem);
  const vpCallbacks = {
    ...callbacks,
    verifyJwt: async (signer, { compact }) => {
      if (signer.method !== 'x5c') return { verified: false };
      const key = chainKey(signer.x5c, request.root_pem);
      const jwk = key.export({ format: 'jwk' });
      return { verified: verifyCompact(compact, key), signerJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } };
    },
    getX509CertificateMetadata: sanOf,
    encryptJwe: async (encryptor, data) => {
      const header = { alg: encryptor.alg, enc: encryptor.enc, kid: encryptor.publicJwk.kid };
      const parameters = {};
      if (encryptor.apu) parameters.apu = fromB64url(encryptor.apu);
      if (encryptor.apv) parameters.apv = fromB64url(encryptor.apv);
      const jwe = await new CompactEncrypt(new TextEncoder().encode(data))
        .setProtectedHeader(header)
        .setKeyManagementParameters(parameters)
        .encrypt(await importJWK(encryptor.publicJwk, encryptor.alg));
      return { jwe, encryptionJwk: encryptor.publicJwk };
    },
  };
  const params = Object.fromEntries(new URL(request.uri).searchParams);
  const resolved = await resolveOpenid4vpAuthorizationRequest({
    authorizationRequestPayload: params,
    callbacks: vpCallbacks,
  });
  const payload = resolved.authorizationRequestPayload;
  // DCQL: does the credential answer the query; which claims to disclose
  const query = DcqlQuery.parse(resolved.dcql.query);
  DcqlQuery.validate(query);
  const sdjwt = instance({
    kbSigner: (data) => b64url(crypto.sign('sha256', Buffer.from(data), { key: holder, dsaEncoding: 'ieee-p1363' })),
    kbSignAlg: 'ES256',
  });
  const decoded = await sdjwt.decode(request.credential);
  const claims = await decoded.getClaims(digest);
  const matched = DcqlQuery.query(query, [
    { credential_format: 'dc+sd-jwt', vct: claims.vct, claims, cryptographic_holder_binding: true },
  ]);
  if (!matched.can_be_satisfied) throw new Error('the credential does not answer the DCQL query');
  const credentialQuery = query.credentials.find((c) => matched.credential_matches[c.id]?.success);
  const presentation = await sdjwt.present(request.credential, frameOf(credentialQuery.claims), {
    kb: {
      payload: {
        iat: Math.floor(Date.now() / 1000),
        aud: resolved.client.effective,
        nonce: payload.nonce,
      },
    },
  });
  const response = await createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: payload,
    authorizationResponsePayload: { vp_token: { [credentialQuery.id]: [presentation] } },
    jarm: payload.response_mode === 'direct_post.jwt'
      ? {
          encryption: {},
          serverMetadata: {
            authorization_signing_alg_values_supported: ['ES256'],
            authorization_encryption_alg_values_supported: ['ECDH-ES'],
            authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
          },
        }
      : undefined,
    callbacks: vpCallbacks,
  });
  const submitted = await submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: payload,
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
    callbacks: vpCallbacks,
  });
  const text = await submitted.response.text();
  return {
    client_id: resolved.client.effective,
    client_prefix: resolved.client.prefix,
    version: resolved.version,
    response_mode: submitted.responseMode,
    response_uri: payload.response_uri,
    response_jwt: response.jarm?.responseJwt ?? null,
    status: submitted.response.status,
    body: text ? JSON.parse(text) : null,
  };
}

// ------------------------------------------------------------------------------ main

const commands = {
  issue,
  verify,
  present,
  'library-key-attestation': libraryKeyAttestation,
  'present-vp': presentVp,
};

async function main() {
  const command = commands[process.argv[2]];
  if (!command) throw new Error(`unknown command ${process.argv[2]}`);
  const input = await new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    const onData = (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        process.stdin.off('data', onData);
        resolve(JSON.parse(text.slice(0, end)));
      }
    };
    process.stdin.on('data', onData);
  });
  const result = await command(input);
  process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n');
  process.exit(0);
}

main().catch((error) => {
  const detail = error?.errorResponse ?? error?.responseText ?? null;
  process.stdout.write(JSON.stringify({ ok: false, error: String(error?.message ?? error), detail }) + '\n');
  process.exit(1);
});
