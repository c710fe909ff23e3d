//! `oauth-server client create|list|show|delete`: client management against
//! the configured (shared) store.

use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use oauth_core::client::{Client, SecretHash};
use oauth_core::types::{ClientId, GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod};

use crate::config::Config;

/// Client management commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a generated secret is printed once and only its hash is stored.
    Create(CreateArgs),
    /// List registered clients.
    List,
    /// Show one client.
    Show {
        /// The client id.
        id: String,
    },
    /// Delete a client; its next request gets `invalid_client`.
    Delete {
        /// The client id.
        id: String,
    },
}

/// Flags of `client create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Client id (default: generated).
    #[arg(long)]
    pub id: Option<String>,
    /// Name shown on the consent page.
    #[arg(long)]
    pub name: Option<String>,
    /// A redirect URI; repeat for several.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A grant type; repeat for several (default: authorization_code and refresh_token).
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client may request.
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Space-separated scopes granted when a request has none.
    #[arg(long, default_value = "")]
    pub default_scope: String,
    /// client_secret_basic (default), client_secret_post, or none (a public client, no secret).
    #[arg(long, default_value = "client_secret_basic")]
    pub auth_method: String,
    /// Require PKCE from this confidential client too (public clients always need it).
    #[arg(long)]
    pub require_pkce: bool,
}

impl CreateArgs {
    /// The registration, with errors naming the flag; returns the secret to print once.
    pub fn to_client(&self, allow_http: bool) -> anyhow::Result<(Client, Option<String>)> {
        let id = match &self.id {
            Some(id) if id.is_empty() || id.contains(char::is_whitespace) => {
                bail!("--id: must be non-empty, without spaces")
            }
            Some(id) => id.clone(),
            None => {
                let mut id = oauth_core::generate::TokenGenerator::token(&oauth_core::generate::RandomGenerator);
                id.truncate(16);
                id
            }
        };
        let mut client = Client::new(id);
        if let Some(name) = &self.name {
            client.name = name.clone();
        }
        client.auth_method = match TokenEndpointAuthMethod::parse(&self.auth_method) {
            TokenEndpointAuthMethod::Extension(m) => {
                bail!("--auth-method: {m:?} is not client_secret_basic, client_secret_post or none")
            }
            m => m,
        };
        client.redirect_uris = self
            .redirect_uris
            .iter()
            .map(|u| RedirectUri::new(u.clone(), allow_http).map_err(|e| anyhow!("--redirect-uri {u}: {e}")))
            .collect::<anyhow::Result<_>>()?;
        if !self.grant_types.is_empty() {
            client.grant_types = self
                .grant_types
                .iter()
                .map(|g| match GrantType::parse(g) {
                    GrantType::Extension(_) => Err(anyhow!("--grant-type: unknown grant type {g:?}")),
                    grant => Ok(grant),
                })
                .collect::<anyhow::Result<_>>()?;
        }
        client.response_types = if client.grant_types.contains(&GrantType::AuthorizationCode) {
            [ResponseType::Code].into_iter().collect()
        } else {
            Default::default()
        };
        client.scopes = ScopeSet::parse(&self.scope).map_err(|e| anyhow!("--scope: {e}"))?;
        client.default_scopes = ScopeSet::parse(&self.default_scope).map_err(|e| anyhow!("--default-scope: {e}"))?;
        client.require_pkce = self.require_pkce;
        let secret = if client.is_public() {
            None
        } else {
            let (secret, hash) = oauth_core::generate::client_secret();
            client.secret = Some(hash);
            Some(secret.secret().to_owned())
        };
        if client.grant_types.contains(&GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
            bail!("--redirect-uri: required for the authorization_code grant");
        }
        client.validate().map_err(|e| {
            use oauth_core::client::ClientError as E;
            let flag = match e {
                E::DefaultScopes(_) => "--default-scope",
                E::PublicClientCredentials(_) => "--grant-type",
                _ => "--auth-method",
            };
            anyhow!("{flag}: {e}")
        })?;
        Ok((client, secret))
    }
}

fn describe(client: &Client) -> String {
    let grants: Vec<&str> = client.grant_types.iter().map(GrantType::as_str).collect();
    let uris: Vec<&str> = client.redirect_uris.iter().map(RedirectUri::as_str).collect();
    format!(
        "id: {}\nname: {}\nauth_method: {}\nsecret: {}\ngrant_types: {}\nredirect_uris: {}\nscopes: {}\ndefault_scopes: {}\nrequire_pkce: {}\n",
        client.id,
        client.name,
        client.auth_method,
        match client.secret {
            Some(SecretHash::Sha256(_)) => "stored as a SHA-256 hash",
            Some(SecretHash::Argon2id(_)) => "stored as an Argon2id hash",
            None => "none (public client)",
        },
        grants.join(" "),
        uris.join(" "),
        client.scopes,
        client.default_scopes,
        client.pkce_required(),
    )
}

/// Runs a client command against the configured store; returns what to print.
pub async fn run(config: &Config, command: ClientCommand) -> anyhow::Result<String> {
    config.validate()?;
    let backends = crate::stores::open(config, Arc::new(oauth_core::clock::SystemClock)).await?;
    let Some(clients) = backends.managed_clients else {
        bail!(
            "storage.url: client management needs a shared store; with `memory`, clients come from the configuration file"
        );
    };
    match command {
        ClientCommand::Create(args) => {
            let (client, secret) = args.to_client(config.server.allow_insecure_transport)?;
            if clients.get_client(&client.id).await.context("reading clients")?.is_some() {
                bail!("--id: client {} already exists", client.id);
            }
            clients.put_client(&client).await.context("storing the client")?;
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
        ClientCommand::Delete { id } => {
            if clients.delete_client(&ClientId::new(id.clone())).await.map_err(|e| anyhow!("{id}: {e}"))? {
                Ok(format!("deleted {id}\n"))
            } else {
                bail!("no client {id:?}")
            }
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
    config.validate()?;
    if config.storage.is_memory() {
        bail!("storage.url: consents of a running server live in its memory; manage them with a shared store");
    }
    let backends = crate::stores::open(config, Arc::new(oauth_core::clock::SystemClock)).await?;
    match command {
        ConsentCommand::Revoke { subject, client } => {
            let subject = oauth_core::types::Subject::new(subject);
            let client = ClientId::new(client);
            if backends.stores.consents.revoke_consent(&subject, &client).await.context("revoking the consent")? {
                Ok(format!("revoked the consent of {subject} for {client}\n"))
            } else {
                bail!("no remembered consent of {subject} for {client}")
            }
        }
    }
}
