//! DPoP (RFC 9449) at the endpoints: the one check of a request's proof
//! ([`AuthorizationServer::verify_dpop_proof`]) that the token endpoint, the
//! resources and (later) the PAR endpoint call, and the server's nonces.
//!
//! The stateless checks are [`crate::dpop::verify`]'s; this adds the two that
//! need state: the proof's `jti` is stored once in the [`OnceStore`]
//! (shared by every instance) for the proof window, so a replay anywhere is
//! refused, and, when the server hands out nonces, the proof's `nonce` must be
//! a current one.
//!
//! [`OnceStore`]: crate::storage::OnceStore

use super::{AuthorizationServer, storage_error};
use crate::dpop::{self, ProofTarget, VerifiedProof};
use crate::error::{ErrorCode, OAuthError};
use crate::request::OAuthRequest;
use crate::types::TokenHash;

/// The `OnceStore` domain of seen DPoP proof ids.
const JTI_KIND: &str = "dpop-jti";

/// An `invalid_dpop_proof` error.
pub(crate) fn invalid_proof(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, description)
}

impl AuthorizationServer {
    /// Verifies the DPoP proof of `req`, if it carries one, for a request to
    /// `htu` (the issuer's origin followed by the endpoint's path; query and
    /// fragment are ignored): `Ok(None)` without a `DPoP` header, the
    /// verified proof when every check of RFC 9449 §4.3 passes, and the
    /// proof's `jti` was not used before (it is now stored for the proof
    /// window, on every instance sharing the store), and, with nonces on,
    /// its `nonce` is current. `access_token` is the token presented with
    /// the proof at a resource, whose hash must be the proof's `ath`.
    ///
    /// Errors: `invalid_dpop_proof` (a repeated header, a failed check, a
    /// replay), `use_dpop_nonce` carrying the nonce to use, or
    /// `temporarily_unavailable` when the store fails. This is the one proof
    /// check of every endpoint that takes proofs.
    pub async fn verify_dpop_proof(
        &self,
        req: &OAuthRequest,
        htu: &str,
        access_token: Option<&str>,
    ) -> Result<Option<VerifiedProof>, OAuthError> {
        let mut headers = req.header_values("dpop");
        let Some(proof) = headers.next() else { return Ok(None) };
        if headers.next().is_some() {
            return Err(invalid_proof("Send one DPoP header"));
        }
        let now = self.clock.now();
        let target = ProofTarget { method: req.method.as_str(), uri: htu, access_token };
        let rules = self.policy.dpop();
        let proof = dpop::verify(proof.trim(), &target, rules, now).map_err(|e| invalid_proof(e.to_string()))?;
        if let Some(nonces) = &self.dpop_nonces {
            if !proof.nonce.as_deref().is_some_and(|n| nonces.accepts(n, now)) {
                return Err(OAuthError::new(
                    ErrorCode::UseDpopNonce { nonce: nonces.current(now) },
                    "Resend the DPoP proof with the nonce of the DPoP-Nonce header",
                ));
            }
        }
        // Remembered as long as its iat is accepted, plus a second.
        let expires_at = proof.iat.saturating_add(rules.replay_window()).saturating_add(1);
        let key = TokenHash::of_once(JTI_KIND, &[&proof.jkt, &proof.jti]);
        if !self.stores.once.put_once(&key, b"", expires_at).await.map_err(storage_error)? {
            return Err(invalid_proof("The DPoP proof was already used"));
        }
        Ok(Some(proof))
    }

    /// The nonce to send in `DPoP-Nonce` now, when the server hands out nonces.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop_nonces.as_ref().map(|n| n.current(self.clock.now()))
    }
}
