//! `oauth-server client create|list|show|delete`: client management against
//! the configured (shared) store.

use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use oauth_core::client::{Client, SecretHash, register};
use oauth_core::types::{ClientId, GrantType, RedirectUri};

use crate::audit;
use crate::config::Config;
use crate::registration::ClientRegistration;

/// Client management commands.
// Parsed once per process: the size of the `Create` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a generated secret is printed once and only its hash is stored.
    Create(ClientRegistration),
    /// List registered clients.
    List,
    /// Show one client.
    Show {
        /// The client id.
        id: String,
    },
    /// Replace a client's secret with a generated one, printed once; the
    /// old secret keeps working for the overlap.
    RotateSecret {
        /// The client id.
        id: String,
        /// How long the old secret stays valid: seconds, or a number with
        /// `s`, `m`, `h` or `d` (`90s`, `15m`, `1h`, `7d`); at most 30 days.
        #[arg(long, default_value = "1h", value_parser = parse_overlap)]
        overlap: u64,
    },
    /// Delete a client and revoke its grants: its next request gets
    /// `invalid_client`, and every token issued to it stops working.
    Delete {
        /// The client id.
        id: String,
    },
}

/// A `client create` registration with a generated id (when none is given)
/// and, unless the client is public, a generated secret, returned to print
/// once. Errors name the flag at fault.
pub fn create(mut registration: ClientRegistration, allow_http: bool) -> anyhow::Result<(Client, Option<String>)> {
    if registration.id.is_none() {
        let mut id = oauth_core::generate::TokenGenerator::token(&oauth_core::generate::RandomGenerator);
        id.truncate(16);
        registration.id = Some(id);
    }
    let key_based = registration.jwks.is_some() || registration.jwks_uri.is_some();
    let secret = if matches!(registration.auth_method.as_deref(), Some("none" | "private_key_jwt"))
        || (registration.auth_method.is_none() && key_based)
    {
        None
    } else {
        let (secret, hash) = oauth_core::generate::client_secret();
        registration.secret_hash = Some(hash.to_stored());
        Some(secret.secret().to_owned())
    };
    let client = registration.to_client(allow_http).map_err(|e| anyhow!("{}: {}", flag(&e.field), e.message))?;
    Ok((client, secret))
}

/// An overlap: seconds, or a number with `s`, `m`, `h` or `d`; at most 30 days.
fn parse_overlap(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    let seconds = digits.parse::<u64>().ok().and_then(|n| n.checked_mul(scale));
    match seconds {
        Some(seconds) if seconds <= 30 * 86_400 => Ok(seconds),
        _ => Err(format!("{s:?}: expected a duration such as 1h, at most 30d")),
    }
}

/// The `client create` flag of a registration field (`redirect_uris[1]`).
fn flag(field: &str) -> &'static str {
    match field.split('[').next().unwrap_or(field) {
        "id" => "--id",
        "name" => "--name",
        "redirect_uris" => "--redirect-uri",
        "grant_types" => "--grant-type",
        "response_types" => "--response-type",
        "scopes" => "--scope",
        "default_scopes" => "--default-scope",
        "require_pkce" => "--require-pkce",
        "access_token_format" => "--access-token-format",
        "dpop_bound_access_tokens" => "--dpop-bound-access-tokens",
        "jwks" => "--jwks or --jwks-uri",
        // The secret is generated unless the auth method is `none`.
        _ => "--auth-method",
    }
}

fn describe(client: &Client) -> String {
    let grants: Vec<&str> = client.grant_types.iter().map(GrantType::as_str).collect();
    let uris: Vec<&str> = client.redirect_uris.iter().map(RedirectUri::as_str).collect();
    format!(
        "id: {}\nname: {}\nauth_method: {}\nsecret: {}\ngrant_types: {}\nredirect_uris: {}\nscopes: {}\ndefault_scopes: {}\nrequire_pkce: {}\ndpop_bound_access_tokens: {}\n",
        client.id,
        client.name,
        client.auth_method,
        match client.secret {
            Some(SecretHash::Sha256(_)) => "stored as a SHA-256 hash",
            Some(SecretHash::Argon2id(_)) => "stored as an Argon2id hash",
            None if client.jwks.is_some() => "none (private_key_jwt, inline jwks)",
            None if client.jwks_uri.is_some() => "none (private_key_jwt, jwks_uri)",
            None => "none (public client)",
        },
        grants.join(" "),
        uris.join(" "),
        client.scopes,
        client.default_scopes,
        client.pkce_required(),
        client.dpop_bound_access_tokens,
    )
}

/// Runs a client command against the configured store; returns what to print.
pub async fn run(config: &Config, command: ClientCommand) -> anyhow::Result<String> {
    let assembly = config.assemble()?;
    let clock = Arc::new(oauth_core::clock::SystemClock);
    let backends = crate::stores::open(config, assembly.clients, assembly.users, clock).await?;
    let Some(clients) = backends.managed_clients else {
        bail!(
            "storage.url: client management needs a shared store; with `memory`, clients come from the configuration file"
        );
    };
    match command {
        ClientCommand::Create(args) => {
            let (client, secret) = create(args, config.server.allow_insecure_transport)?;
            if clients.get_client(&client.id).await.context("reading clients")?.is_some() {
                bail!("--id: client {} already exists", client.id);
            }
            register(clients.as_ref(), &client).await.context("storing the client")?;
            audit::record(&audit::Event::ClientCreated { client: &client.id });
            let mut out = describe(&client);
            if let Some(secret) = secret {
                out.push_str(&format!("client_secret: {secret}\n(shown once: only its hash is stored)\n"));
            }
            Ok(out)
        }
        ClientCommand::List => {
            let all = clients.list_clients().await.context("listing clients")?;
            Ok(all.iter().map(|c| format!("{}\t{}\t{}\n", c.id, c.auth_method, c.name)).collect())
        }
        ClientCommand::Show { id } => {
            match clients.get_client(&ClientId::new(id.clone())).await.context("reading clients")? {
                Some(client) => Ok(describe(&client)),
                None => bail!("no client {id:?}"),
            }
        }
        ClientCommand::RotateSecret { id, overlap } => {
            let Some(client) = clients.get_client(&ClientId::new(id.clone())).await.context("reading clients")? else {
                bail!("no client {id:?}")
            };
            if client.is_public() {
                bail!("{id}: a public client has no secret");
            }
            let mut client = Arc::unwrap_or_clone(client);
            let (secret, hash) = oauth_core::generate::client_secret();
            let until = oauth_core::clock::Clock::now(&oauth_core::clock::SystemClock).saturating_add(overlap);
            client.rotate_secret(hash, until);
            register(clients.as_ref(), &client).await.map_err(|e| anyhow!("{id}: {e}"))?;
            audit::record(&audit::Event::ClientSecretRotated { client: &client.id, overlap });
            Ok(format!(
                "client_secret: {}\n(shown once: only its hash is stored; the previous secret works for {overlap} more seconds)\n",
                secret.secret()
            ))
        }
        ClientCommand::Delete { id } => {
            let client = ClientId::new(id.clone());
            let (existed, revoked) =
                oauth_core::client::delete(clients.as_ref(), backends.stores.tokens.as_ref(), &client)
                    .await
                    .map_err(|e| anyhow!("{id}: {e} (its grants may not all be revoked: run delete again)"))?;
            if existed || revoked > 0 {
                audit::record(&audit::Event::ClientDeleted { client: &client });
            }
            if !existed && revoked == 0 {
                bail!("no client {id:?}")
            }
            Ok(format!("deleted {id}; revoked {revoked} grant(s) and their tokens\n"))
        }
    }
}

/// Consent management commands.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Forget a remembered consent: the user is asked again next time.
    Revoke {
        /// The user's subject.
        #[arg(long)]
        subject: String,
        /// The client id.
        #[arg(long)]
        client: String,
    },
}

/// Runs a consent command against the configured store.
pub async fn run_consent(config: &Config, command: ConsentCommand) -> anyhow::Result<String> {
    let assembly = config.assemble()?;
    if config.storage.is_memory() {
        bail!("storage.url: consents of a running server live in its memory; manage them with a shared store");
    }
    let clock = Arc::new(oauth_core::clock::SystemClock);
    let backends = crate::stores::open(config, assembly.clients, assembly.users, clock).await?;
    match command {
        ConsentCommand::Revoke { subject, client } => {
            let subject = oauth_core::types::Subject::new(subject);
            let client = ClientId::new(client);
            if backends.stores.consents.revoke_consent(&subject, &client).await.context("revoking the consent")? {
                audit::record(&audit::Event::ConsentRevoked { subject: &subject, client: &client });
                Ok(format!("revoked the consent of {subject} for {client}\n"))
            } else {
                bail!("no remembered consent of {subject} for {client}")
            }
        }
    }
}
