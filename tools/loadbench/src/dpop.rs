//! DPoP proofs for the DPoP workloads (RFC 9449): wrk's Lua cannot sign, so
//! every proof a run may send is signed before the run, each with its own
//! `jti`, and read by wrk one line per request.

use oauth_core::jose::{SigningAlg, SigningKey};

/// The load generator's DPoP key (ES256, the algorithm FAPI 2.0 clients use).
pub(crate) struct Prover {
    key: SigningKey,
    /// The key's RFC 7638 thumbprint: the `cnf.jkt` bound tokens must carry.
    pub(crate) jkt: String,
    /// Makes every `jti` of this process unique across runs.
    prefix: String,
}

impl Prover {
    /// A fresh key.
    pub(crate) fn new() -> Self {
        let key = SigningKey::generate("load", SigningAlg::ES256).unwrap();
        let jkt = oauth_core::dpop::thumbprint(key.public_jwk().as_object().unwrap()).unwrap();
        let mut prefix = oauth_core::TokenGenerator::token(&oauth_core::generate::RandomGenerator);
        prefix.truncate(12);
        Self { key, jkt, prefix }
    }

    /// One proof for `method` on `uri` (and, at a resource, for
    /// `access_token`), with `iat` now and the `jti` numbered `n`.
    pub(crate) fn proof(&self, method: &str, uri: &str, access_token: Option<&str>, n: usize) -> String {
        let header = serde_json::json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.public_jwk() });
        let iat = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let mut claims =
            serde_json::json!({ "jti": format!("{}-{n}", self.prefix), "htm": method, "htu": uri, "iat": iat });
        if let Some(token) = access_token {
            claims["ath"] = oauth_core::dpop::access_token_hash(token).into();
        }
        self.key.sign_with_header(&header, &claims).unwrap()
    }

    /// `count` proofs numbered from `first`, signed on two threads.
    pub(crate) fn proofs(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        first: usize,
        count: usize,
    ) -> Vec<String> {
        let half = count / 2;
        std::thread::scope(|scope| {
            let sign = |range: std::ops::Range<usize>| {
                scope.spawn(move || range.map(|n| self.proof(method, uri, access_token, n)).collect::<Vec<_>>())
            };
            let (a, b) = (sign(first..first + half), sign(first + half..first + count));
            let mut proofs = a.join().unwrap();
            proofs.extend(b.join().unwrap());
            proofs
        })
    }

    /// The most requests per second one core could answer if each did
    /// nothing but verify one of these proofs: the fastest of 64
    /// verifications here. A DPoP run cannot go faster, so it bounds how many
    /// proofs a run needs.
    pub(crate) fn max_rate(&self) -> f64 {
        let uri = "http://127.0.0.1/oauth/token";
        let target = oauth_core::dpop::ProofTarget { method: "POST", uri, access_token: None };
        let rules = oauth_core::dpop::DpopRules::default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let fastest = (0..64)
            .map(|n| {
                let proof = self.proof("POST", uri, None, n);
                let start = std::time::Instant::now();
                oauth_core::dpop::verify(&proof, &target, &rules, now).unwrap();
                start.elapsed()
            })
            .min()
            .unwrap();
        1.0 / fastest.as_secs_f64().max(1e-6)
    }
}
