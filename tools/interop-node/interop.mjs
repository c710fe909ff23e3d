// panva's openid-client, a client nobody on this project wrote, against a
// running oauth-server. Run by crates/oauth-server/tests/it/interop_node.rs:
//
//   ISSUER=http://127.0.0.1:8000 node interop.mjs <scenario>...
//
// Every protocol step is openid-client's own code; this file only chains the
// calls and asserts on their results. The conversation with the test:
//
// - stdout carries one JSON object per line: {"event":"authorize","url":…}
//   when a scenario needs the browser (the test logs in and consents, then
//   writes the URL the browser was redirected to, one line, on stdin), and
//   {"event":"done","scenario":…, …facts} when a scenario passed.
// - Any failure: a message on stderr and exit status 1.
//
// A scenario is one async function in `scenarios` below returning the facts
// the test checks; add one there and name it on the command line.

import assert from 'node:assert/strict'
import { createInterface } from 'node:readline'
import * as client from 'openid-client'

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

const issuer = new URL(env('ISSUER'))
const input = createInterface({ input: process.stdin })
const lines = input[Symbol.asyncIterator]()

function report(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

/** Hands `url` to the test's browser; returns the redirect it ended on. */
async function browse(url) {
  report({ event: 'authorize', url: url.href })
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the callback URL came')
  return new URL(value)
}

/**
 * Discovery (`/.well-known/openid-configuration`), with plain HTTP allowed
 * (the test server is on loopback) and the signature of every ID token
 * checked against the server's JWKS (`enableNonRepudiationChecks`: without
 * it, openid-client trusts the token endpoint's TLS instead).
 */
function discover(clientId, metadata, auth) {
  return client.discovery(issuer, clientId, metadata, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  })
}

/** The `alg` in a JWS's protected header. */
function jwsAlg(jws) {
  return JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString()).alg
}

/** Asserts that `promise` fails with the OAuth error `code`. */
async function refused(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.error, code, `expected the OAuth error ${code}, got ${e}`)
    return true
  })
}

/** Asserts that `promise` fails with the OAuth error `code` in a token endpoint's answer. */
async function refusedBody(promise, code) {
  let seen
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof client.ResponseBodyError, `expected a ResponseBodyError, got ${e}`)
    assert.equal(e.error, code, `expected the OAuth error ${code}, got ${e}`)
    seen = { name: e.name, error: e.error, status: e.status }
    return true
  })
  return seen
}

/**
 * A DPoP key pair of `alg` (openid-client's `randomDPoPKeyPair`), its handle
 * for `config`, its RFC 7638 thumbprint (the handle's
 * `calculateThumbprint()`), its public JWK, which the test hashes again, and
 * a way to make another handle of the key (a handle keeps the server's
 * DPoP nonces it was given, one per origin).
 *
 * openid-client 6.9 signs proofs of an Ed25519 key with the fully-specified
 * `alg` `Ed25519` (RFC 9864), which the server takes as `EdDSA`: the proofs
 * go out exactly as openid-client makes them.
 */
async function dpopKey(config, alg) {
  const keyPair = await client.randomDPoPKeyPair(alg)
  const handle = client.getDPoPHandle(config, keyPair)
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey)
  delete jwk.ext
  delete jwk.key_ops
  return {
    handle,
    jkt: await handle.calculateThumbprint(),
    jwk,
    // Another handle of the same key: it knows no server nonce yet.
    freshHandle: () => client.getDPoPHandle(config, keyPair),
  }
}

/** The claims of a JWT (no check: for reporting what was sent). */
function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

/**
 * Records, in `log`, every request of `config` that carries a DPoP proof:
 * its URL, the proof's `htm`, `htu` and `nonce`, and the answer's status,
 * `error` and `DPoP-Nonce` header (`customFetch`, openid-client's hook for
 * its HTTP requests; the requests themselves are openid-client's).
 */
function recordDPoP(config, log) {
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options)
    const proof = new Headers(options.headers).get('dpop')
    if (proof) {
      const claims = jwtClaims(proof)
      const challenge = response.headers.get('www-authenticate')
      let error = challenge?.match(/error="([^"]*)"/)?.[1]
      if (!error && response.status === 400) error = (await response.clone().json()).error
      log.push({
        url: String(url),
        htm: claims.htm,
        htu: claims.htu,
        nonce: claims.nonce ?? null,
        status: response.status,
        error: error ?? null,
        dpop_nonce: response.headers.get('dpop-nonce'),
      })
    }
    return response
  }
}

/**
 * Hands `url` to the test, which requests it once, follows no redirect and
 * answers with where it was sent: for an authorization request the server
 * refuses by redirecting to the client, without any login.
 */
async function visit(url) {
  report({ event: 'visit', url: url.href })
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the redirect came')
  return new URL(value)
}

/**
 * The ES256 private key of a PKCS#8 PEM (made by the test with the `p256`
 * crate), imported for openid-client's `PrivateKeyJwt`, with its `kid`.
 */
async function clientKey(pemVar, kidVar) {
  const der = Buffer.from(
    env(pemVar)
      .replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  )
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return { key, kid: env(kidVar) }
}

/**
 * Records, in `log`, every request `config` makes from now on (the
 * `customFetch` hook; it only observes): the URL and method, the client
 * assertion sent (`private_key_jwt`), the DPoP proof's `htm`, `htu` and
 * public `jwk`, and the answer's status and OAuth `error`.
 */
function recordRequests(config, log) {
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options)
    const form = options.body === undefined ? new URLSearchParams() : new URLSearchParams(options.body)
    const proof = new Headers(options.headers).get('dpop')
    let error = null
    if (response.status >= 400) {
      const challenge = response.headers.get('www-authenticate')
      error = challenge?.match(/error="([^"]*)"/)?.[1] ?? (await response.clone().json().catch(() => ({}))).error ?? null
    }
    log.push({
      url: String(url),
      method: options.method ?? 'GET',
      client_assertion: form.get('client_assertion'),
      dpop: proof
        ? {
            htm: jwtClaims(proof).htm,
            htu: jwtClaims(proof).htu,
            jwk: JSON.parse(Buffer.from(proof.split('.')[0], 'base64url').toString()).jwk,
          }
        : null,
      status: response.status,
      error,
    })
    return response
  }
}

/**
 * A front-channel authorization request (openid-client's
 * `buildAuthorizationUrl`: PKCE S256 and `state`, plus `extra`
 * parameters), run through the browser; gives the checks for
 * `authorizationCodeGrant` and the callback.
 */
async function front(config, redirectUri, scope, extra = {}) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  })
  return { checks: { pkceCodeVerifier: verifier, expectedState: state }, callback: await browse(url) }
}

/**
 * Pushes an authorization request (PKCE S256, `state`, `nonce`) with
 * openid-client's `buildAuthorizationUrlWithPAR`, with a DPoP proof of
 * `dpop` when given, checks that the URL for the browser carries nothing
 * but `client_id` and `request_uri` (RFC 9126 §4), and runs the browser.
 */
async function pushed(config, redirectUri, scope, dpop) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    },
    dpop ? { DPoP: dpop } : undefined,
  )
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'], `${url}`)
  assert.equal(url.searchParams.get('client_id'), config.clientMetadata().client_id)
  assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/)
  const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true }
  return { url, checks, callback: await browse(url) }
}

const scenarios = {
  /**
   * The authorization code flow of a confidential client (client_secret_basic):
   * PKCE S256, state and nonce; the response's `iss` (RFC 9207) and the ID
   * token (signature, iss, aud, nonce, exp) checked; UserInfo; introspection;
   * refresh with a new ID token; revocation of the access token, then of the
   * refresh token (the whole grant).
   */
  async code() {
    const alg = env('ID_TOKEN_ALG')
    const config = await discover(
      env('CODE_CLIENT_ID'),
      { id_token_signed_response_alg: alg },
      client.ClientSecretBasic(env('CODE_CLIENT_SECRET')),
    )
    const meta = config.serverMetadata()
    assert.equal(meta.authorization_response_iss_parameter_supported, true)
    assert.ok(meta.code_challenge_methods_supported.includes('S256'))

    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: env('CODE_REDIRECT_URI'),
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    const callback = await browse(url)
    // Checks state, `iss` (required, since the metadata advertises it), the
    // PKCE verifier at the token endpoint, and the ID token.
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    })
    assert.equal(tokens.token_type, 'bearer')
    assert.ok(tokens.refresh_token, 'a refresh token')
    const claims = tokens.claims()
    assert.equal(claims.sub, 'admin')
    assert.equal(claims.email, 'admin@example.com')
    assert.equal(typeof claims.auth_time, 'number')

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
    assert.equal(info.email, 'admin@example.com')
    assert.equal(info.preferred_username, 'admin')

    const introspected = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(introspected.active, true)
    assert.equal(introspected.client_id, env('CODE_CLIENT_ID'))
    assert.equal(introspected.sub, 'admin')

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    assert.notEqual(refreshed.access_token, tokens.access_token)
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotates')
    assert.equal(refreshed.claims().sub, claims.sub)
    assert.equal(refreshed.claims().auth_time, claims.auth_time, 'auth_time of the original login')
    assert.equal((await client.fetchUserInfo(config, refreshed.access_token, claims.sub)).sub, 'admin')

    // Revoking one access token leaves the rest of the grant alone…
    await client.tokenRevocation(config, tokens.access_token)
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false)
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, true)
    // …revoking the refresh token ends the grant.
    await client.tokenRevocation(config, refreshed.refresh_token)
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false)
    await refused(client.refreshTokenGrant(config, refreshed.refresh_token), 'invalid_grant')

    return {
      sub: claims.sub,
      iss: callback.searchParams.get('iss'),
      id_token_alg: jwsAlg(tokens.id_token),
      refreshed_id_token_alg: jwsAlg(refreshed.id_token),
      revoked_access_tokens: [tokens.access_token, refreshed.access_token],
    }
  },

  /**
   * client_credentials for a confidential client (client_secret_post), then
   * introspection and revocation of its token.
   */
  async client_credentials() {
    const config = await discover(
      env('CC_CLIENT_ID'),
      undefined,
      client.ClientSecretPost(env('CC_CLIENT_SECRET')),
    )
    const tokens = await client.clientCredentialsGrant(config, { scope: env('CC_SCOPE') })
    assert.equal(tokens.token_type, 'bearer')
    assert.equal(tokens.scope, env('CC_SCOPE'))
    assert.equal(tokens.refresh_token, undefined, 'no refresh token for client_credentials')
    assert.ok(tokens.expiresIn() > 0)

    const introspected = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(introspected.active, true)
    assert.equal(introspected.client_id, env('CC_CLIENT_ID'))
    assert.equal(introspected.scope, env('CC_SCOPE'))

    await client.tokenRevocation(config, tokens.access_token)
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false)
    return { scope: tokens.scope, revoked_access_tokens: [tokens.access_token] }
  },

  /**
   * Token exchange (RFC 8693) with openid-client's `genericGrantRequest`:
   * the user's token from the code flow, exchanged by service A (its own
   * client_credentials token as the actor) for a token towards audience A,
   * which service B exchanges again (its own token as the actor) for a JWT
   * access token towards audience B; B's introspection shows both actors,
   * nested (RFC 8693 §4.1). A target outside B's policy is `invalid_target`;
   * revoking the user's refresh token revokes what was exchanged from it.
   */
  async token_exchange() {
    const grant = 'urn:ietf:params:oauth:grant-type:token-exchange'
    const accessType = 'urn:ietf:params:oauth:token-type:access_token'
    const jwtType = 'urn:ietf:params:oauth:token-type:jwt'
    const user = await discover(env('CODE_CLIENT_ID'), undefined, client.ClientSecretBasic(env('CODE_CLIENT_SECRET')))
    const meta = user.serverMetadata()
    assert.ok(meta.grant_types_supported.includes(grant), 'the grant type is advertised')
    const { checks, callback } = await front(user, env('CODE_REDIRECT_URI'), 'email')
    const userTokens = await client.authorizationCodeGrant(user, callback, checks)

    const a = await discover(env('TX_A_ID'), undefined, client.ClientSecretPost(env('TX_A_SECRET')))
    const b = await discover(env('TX_B_ID'), undefined, client.ClientSecretPost(env('TX_B_SECRET')))
    const actorA = (await client.clientCredentialsGrant(a, { scope: 'read' })).access_token
    const actorB = (await client.clientCredentialsGrant(b, { scope: 'read' })).access_token

    const first = await client.genericGrantRequest(a, grant, {
      subject_token: userTokens.access_token,
      subject_token_type: accessType,
      actor_token: actorA,
      actor_token_type: accessType,
      audience: env('TX_A_AUDIENCE'),
    })
    assert.equal(first.issued_token_type, accessType)
    assert.equal(first.token_type, 'bearer')
    assert.equal(first.scope, 'email')
    assert.equal(first.refresh_token, undefined)

    await refusedBody(
      client.genericGrantRequest(b, grant, {
        subject_token: first.access_token,
        subject_token_type: accessType,
        actor_token: actorB,
        actor_token_type: accessType,
        audience: env('TX_A_AUDIENCE'),
      }),
      'invalid_target',
    )
    const second = await client.genericGrantRequest(b, grant, {
      subject_token: first.access_token,
      subject_token_type: accessType,
      actor_token: actorB,
      actor_token_type: accessType,
      audience: env('TX_B_AUDIENCE'),
      requested_token_type: jwtType,
    })
    assert.equal(second.issued_token_type, jwtType)
    assert.ok(second.expiresIn() > 0)
    const seen = await client.tokenIntrospection(b, second.access_token)
    assert.equal(seen.active, true)
    assert.equal(seen.sub, 'admin')
    assert.equal(seen.client_id, env('TX_B_ID'))

    // Revoking the user's grant revokes both exchanged tokens.
    await client.tokenRevocation(user, userTokens.refresh_token)
    const afterFirst = await client.tokenIntrospection(a, first.access_token)
    const afterSecond = await client.tokenIntrospection(b, second.access_token)
    return {
      act: seen.act,
      aud: seen.aud,
      jwt_act: jwtClaims(second.access_token).act,
      issued_token_types: [first.issued_token_type, second.issued_token_type],
      active_after_revocation: [afterFirst.active, afterSecond.active],
      exchanged_access_tokens: [first.access_token, second.access_token],
    }
  },

  /**
   * DPoP (RFC 9449) for a confidential client (client_secret_basic): a
   * code bound to the key by `dpop_jkt` refused with another key's proof;
   * then another such code's exchange with the key's proof
   * (`token_type` DPoP), UserInfo with a proof, introspection showing
   * `cnf.jkt`, refresh with a proof; then the bound access token at UserInfo
   * without a proof (the downgrade), refused with a DPoP challenge.
   */
  async dpop_code() {
    const config = await discover(
      env('CODE_CLIENT_ID'),
      undefined,
      client.ClientSecretBasic(env('CODE_CLIENT_SECRET')),
    )
    assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'))
    const { handle, jkt, jwk } = await dpopKey(config, 'ES256')
    const other = await dpopKey(config, 'ES256')
    const bound = async () => {
      const verifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: env('CODE_REDIRECT_URI'),
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        dpop_jkt: jkt,
      })
      return { verifier, state, url, callback: await browse(url) }
    }

    // A code bound by dpop_jkt is not exchanged with another key's proof.
    const stolen = await bound()
    const wrong_key = await refusedBody(
      client.authorizationCodeGrant(
        config,
        stolen.callback,
        { pkceCodeVerifier: stolen.verifier, expectedState: stolen.state, idTokenExpected: true },
        undefined,
        { DPoP: other.handle },
      ),
      'invalid_grant',
    )

    const { verifier, state, url, callback } = await bound()
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true },
      undefined,
      { DPoP: handle },
    )
    assert.equal(tokens.token_type, 'dpop', 'openid-client lowercases token_type')
    const sub = tokens.claims().sub

    const info = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: handle })
    assert.equal(info.email, 'admin@example.com')

    const introspected = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(introspected.active, true)
    assert.equal(introspected.cnf?.jkt, jkt, 'introspection shows the key the token is bound to')

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: handle })
    assert.equal(refreshed.token_type, 'dpop')
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotates')
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).cnf?.jkt, jkt)
    assert.equal((await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP: handle })).sub, sub)

    // The downgrade: the bound token without { DPoP }, so sent as Bearer.
    let downgrade
    await assert.rejects(client.fetchUserInfo(config, refreshed.access_token, sub), (e) => {
      assert.ok(e instanceof client.WWWAuthenticateChallengeError, `expected a challenge, got ${e}`)
      const dpop = e.cause.find((c) => c.scheme === 'dpop')
      assert.ok(dpop, `a DPoP challenge among ${JSON.stringify(e.cause)}`)
      assert.equal(dpop.parameters.error, 'invalid_token')
      downgrade = {
        status: e.status,
        schemes: e.cause.map((c) => c.scheme),
        error: dpop.parameters.error,
        algs: dpop.parameters.algs,
      }
      return true
    })

    return {
      sub,
      jkt,
      jwk,
      authorization_dpop_jkt: url.searchParams.get('dpop_jkt'),
      token_type: tokens.token_type,
      refreshed_token_type: refreshed.token_type,
      access_tokens: [tokens.access_token, refreshed.access_token],
      wrong_key,
      downgrade,
    }
  },

  /**
   * DPoP for a public client (`client.None()`, PKCE): its refresh token is
   * bound to its key, so a refresh with another key's proof is refused
   * (`invalid_grant`) and rotates nothing: the right key then refreshes
   * with the same refresh token.
   */
  async dpop_public() {
    const config = await discover(env('PUBLIC_CLIENT_ID'), undefined, client.None())
    const { handle, jkt, jwk } = await dpopKey(config, 'EdDSA')
    const other = await dpopKey(config, 'ES256')
    assert.notEqual(other.jkt, jkt)
    const { checks, callback } = await front(config, env('PUBLIC_REDIRECT_URI'), 'openid email')
    const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: handle })
    assert.equal(tokens.token_type, 'dpop')
    assert.ok(tokens.refresh_token, 'a refresh token')
    const sub = tokens.claims().sub
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: handle })).sub, sub)

    const refused = await refusedBody(
      client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: other.handle }),
      'invalid_grant',
    )
    // Nothing was rotated or revoked: the same refresh token, the right key.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: handle })
    assert.equal(refreshed.token_type, 'dpop')
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotates')
    assert.equal((await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP: handle })).sub, sub)

    return {
      sub,
      jkt,
      jwk,
      other_jwk: other.jwk,
      refused,
      refresh_token: refreshed.refresh_token,
      access_token: refreshed.access_token,
    }
  },

  /**
   * A client registered with `dpop_bound_access_tokens`, against a server
   * that requires DPoP nonces: without a proof it is refused; with one,
   * openid-client answers `use_dpop_nonce` by itself (its handle keeps the
   * `DPoP-Nonce` and retries), at the token endpoint and, with a handle
   * that has no nonce yet, at UserInfo's `WWW-Authenticate` challenge. Every
   * request with a proof is recorded for the test to check.
   */
  async dpop_nonce() {
    const config = await discover(
      env('BOUND_CLIENT_ID'),
      undefined,
      client.ClientSecretBasic(env('BOUND_CLIENT_SECRET')),
    )
    const requests = []
    recordDPoP(config, requests)
    const without = await refusedBody(client.clientCredentialsGrant(config, { scope: 'read' }), 'invalid_dpop_proof')

    const { handle, jkt, jwk, freshHandle } = await dpopKey(config, 'PS256')
    const { checks, callback } = await front(config, env('BOUND_REDIRECT_URI'), 'openid email')
    const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: handle })
    assert.equal(tokens.token_type, 'dpop')
    const sub = tokens.claims().sub
    // The handle kept the token endpoint's nonce: it is the origin's.
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: handle })).sub, sub)
    // A handle without a nonce: UserInfo's challenge asks for one.
    const fresh = { DPoP: freshHandle() }
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub, fresh)).sub, sub)
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: handle })
    assert.equal(refreshed.token_type, 'dpop')
    assert.ok(
      requests.some((r) => r.error === 'use_dpop_nonce'),
      `the server asked for a nonce: ${JSON.stringify(requests)}`,
    )
    return { sub, jkt, jwk, without, requests, access_token: refreshed.access_token }
  },
  /**
   * PAR (RFC 9126) with DPoP for a confidential client
   * (client_secret_basic): a request pushed with a proof gives a code bound
   * to the proof's key (RFC 9449 §10.1), refused with another key's proof;
   * another such code exchanged with the key's proof (`token_type` DPoP);
   * UserInfo with a proof. The authorization URL goes back to the test,
   * which uses its `request_uri` again.
   */
  async par_dpop() {
    const config = await discover(
      env('CODE_CLIENT_ID'),
      undefined,
      client.ClientSecretBasic(env('CODE_CLIENT_SECRET')),
    )
    const meta = config.serverMetadata()
    assert.equal(meta.pushed_authorization_request_endpoint, `${issuer.origin}/oauth/par`)
    const requests = []
    recordRequests(config, requests)
    const { handle, jkt, jwk } = await dpopKey(config, 'ES256')
    const other = await dpopKey(config, 'ES256')
    const redirect = env('CODE_REDIRECT_URI')

    const stolen = await pushed(config, redirect, 'openid email', handle)
    const wrong_key = await refusedBody(
      client.authorizationCodeGrant(config, stolen.callback, stolen.checks, undefined, { DPoP: other.handle }),
      'invalid_grant',
    )

    const { url, checks, callback } = await pushed(config, redirect, 'openid email', handle)
    const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: handle })
    assert.equal(tokens.token_type, 'dpop')
    const sub = tokens.claims().sub
    const info = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: handle })
    assert.equal(info.email, 'admin@example.com')
    return {
      sub,
      jkt,
      jwk,
      authorization_url: url.href,
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      wrong_key,
      requests,
    }
  },

  /**
   * private_key_jwt (RFC 7523) with openid-client's `PrivateKeyJwt` and an
   * ES256 key the test made: client_credentials, introspection, revocation,
   * and a code flow pushed (PAR) and exchanged with assertions. Every
   * request is recorded, with its assertion, for the test to replay.
   */
  async private_key_jwt() {
    const config = await discover(
      env('PKJWT_CLIENT_ID'),
      undefined,
      client.PrivateKeyJwt(await clientKey('PKJWT_KEY_PEM', 'PKJWT_KEY_ID')),
    )
    const meta = config.serverMetadata()
    assert.ok(meta.token_endpoint_auth_methods_supported.includes('private_key_jwt'))
    assert.ok(meta.token_endpoint_auth_signing_alg_values_supported.includes('ES256'))
    const requests = []
    recordRequests(config, requests)

    const cc = await client.clientCredentialsGrant(config, { scope: 'read' })
    assert.equal(cc.token_type, 'bearer')
    assert.equal(cc.scope, 'read')
    const introspected = await client.tokenIntrospection(config, cc.access_token)
    assert.equal(introspected.active, true)
    assert.equal(introspected.client_id, env('PKJWT_CLIENT_ID'))
    await client.tokenRevocation(config, cc.access_token)
    assert.equal((await client.tokenIntrospection(config, cc.access_token)).active, false)

    const { checks, callback } = await pushed(config, env('PKJWT_REDIRECT_URI'), 'openid email')
    const tokens = await client.authorizationCodeGrant(config, callback, checks)
    assert.equal(tokens.token_type, 'bearer')
    const sub = tokens.claims().sub
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub)).sub, sub)
    return { sub, revoked_access_token: cc.access_token, access_token: tokens.access_token, requests }
  },

  /**
   * A FAPI 2.0 client (`fapi2 = true`): private_key_jwt, PAR, PKCE S256 and
   * DPoP, all by openid-client: a pushed request, the code exchanged with a
   * proof (`token_type` DPoP), the ID token, UserInfo and refresh with the
   * proof. Then the exchange of a pushed code without a proof is refused,
   * and a front-channel request (openid-client's `buildAuthorizationUrl`)
   * comes back to the client as an `invalid_request` authorization error.
   */
  async fapi2() {
    const config = await discover(
      env('FAPI_CLIENT_ID'),
      undefined,
      client.PrivateKeyJwt(await clientKey('FAPI_KEY_PEM', 'FAPI_KEY_ID')),
    )
    const requests = []
    recordRequests(config, requests)
    const { handle, jkt, jwk } = await dpopKey(config, 'ES256')
    const redirect = env('FAPI_REDIRECT_URI')

    const { checks, callback } = await pushed(config, redirect, 'openid email', handle)
    const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: handle })
    assert.equal(tokens.token_type, 'dpop')
    const sub = tokens.claims().sub
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: handle })).sub, sub)
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: handle })
    assert.equal(refreshed.token_type, 'dpop')

    // Pushed without a proof, exchanged without one: FAPI wants every token bound.
    const unbound = await pushed(config, redirect, 'openid email')
    const without_proof = await refusedBody(
      client.authorizationCodeGrant(config, unbound.callback, unbound.checks),
      'invalid_dpop_proof',
    )

    // The front channel: the same request, not pushed.
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const front = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    })
    const answer = await visit(front)
    let front_channel
    await assert.rejects(
      client.authorizationCodeGrant(config, answer, { pkceCodeVerifier: verifier, expectedState: state }),
      (e) => {
        assert.ok(e instanceof client.AuthorizationResponseError, `expected an authorization error, got ${e}`)
        front_channel = { error: e.error, iss: answer.searchParams.get('iss') }
        return true
      },
    )
    assert.equal(front_channel.error, 'invalid_request')
    return {
      sub,
      jkt,
      jwk,
      token_type: tokens.token_type,
      access_tokens: [tokens.access_token, refreshed.access_token],
      without_proof,
      front_channel,
      requests,
    }
  },
}

try {
  const names = process.argv.slice(2)
  if (names.length === 0) throw new Error(`name scenarios: ${Object.keys(scenarios).join(', ')}`)
  for (const name of names) {
    if (!Object.hasOwn(scenarios, name)) throw new Error(`unknown scenario ${name}`)
    report({ event: 'done', scenario: name, ...(await scenarios[name]()) })
  }
} catch (error) {
  console.error('interop failed:', error)
  if (error?.cause) console.error('cause:', error.cause)
  process.exitCode = 1
} finally {
  input.close()
}
