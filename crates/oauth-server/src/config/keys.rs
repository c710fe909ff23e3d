//! Reading the signing keys: PEM files, a JWK Set file, an ephemeral key.

use anyhow::{Context as _, anyhow, bail};
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};

use super::Config;

impl Config {
    /// The signing keys: PEM files, a JWKS file, and an ephemeral key (which
    /// is made on each call). `None` when none is configured.
    pub fn key_set(&self) -> anyhow::Result<Option<KeySet>> {
        let o = &self.oidc;
        let mut keys = Vec::new();
        for (i, k) in o.keys.iter().enumerate() {
            let alg = SigningAlg::parse(&k.alg)
                .ok_or_else(|| anyhow!("oidc.keys[{i}].alg: {:?} is not RS256, ES256 or EdDSA", k.alg))?;
            let pem = std::fs::read_to_string(&k.pem_file)
                .map_err(|e| anyhow!("oidc.keys[{i}].pem_file: {}: {e}", k.pem_file.display()))?;
            keys.push(
                SigningKey::from_pem(k.kid.clone(), alg, &pem).with_context(|| format!("oidc.keys[{i}].pem_file"))?,
            );
        }
        if let Some(path) = &o.jwks_file {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow!("oidc.jwks_file: {}: {e}", path.display()))?;
            let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| anyhow!("oidc.jwks_file: {e}"))?;
            let Some(list) = doc.get("keys").and_then(|k| k.as_array()) else {
                bail!("oidc.jwks_file: no \"keys\" array")
            };
            for (i, jwk) in list.iter().enumerate() {
                keys.push(SigningKey::from_jwk(jwk).with_context(|| format!("oidc.jwks_file: keys[{i}]"))?);
            }
        }
        if let Some(alg) = &o.ephemeral_key {
            let alg = SigningAlg::parse(alg)
                .ok_or_else(|| anyhow!("oidc.ephemeral_key: {alg:?} is not RS256, ES256 or EdDSA"))?;
            let kid = format!(
                "ephemeral-{}",
                &oauth_core::generate::TokenGenerator::token(&oauth_core::generate::RandomGenerator)[..8]
            );
            keys.push(SigningKey::generate(kid, alg).context("oidc.ephemeral_key")?);
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let active = match &o.active_kid {
            Some(kid) => kid.clone(),
            None if keys.len() == 1 => keys[0].kid().to_owned(),
            None => bail!("oidc.active_kid: required when there are several keys"),
        };
        KeySet::new(keys, &active).map(Some).map_err(|e| anyhow!("oidc.active_kid: {e}"))
    }
}
