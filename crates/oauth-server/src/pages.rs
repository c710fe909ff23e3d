//! HTML pages rendered with tera: login, consent, error, and the device
//! code entry page.
//!
//! The templates are embedded; a `templates_dir` may replace any of them.
//! Every page carries anti-framing headers (RFC 9700 §4.16) and `no-store`.

use std::collections::BTreeMap;
use std::path::Path;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use anyhow::Context as _;
use serde::Serialize;
use tera::{Context, Tera};

const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("device.html", include_str!("../templates/device.html")),
];

/// Descriptions of well-known scopes, used when the configuration has none.
const SCOPE_DESCRIPTIONS: [(&str, &str); 6] = [
    ("openid", "Sign you in with your account"),
    ("profile", "See your profile: name and picture"),
    ("email", "See your email address"),
    ("address", "See your postal address"),
    ("phone", "See your phone number"),
    ("offline_access", "Keep access while you are away"),
];

/// The page renderer.
#[derive(Debug)]
pub struct Pages {
    tera: Tera,
    scope_descriptions: BTreeMap<String, String>,
    login_hint: Option<String>,
}

/// One scope on the consent page.
#[derive(Debug, Serialize)]
pub struct ScopeLine {
    /// The scope token.
    pub name: String,
    /// What it means, in words.
    pub description: String,
}

impl Pages {
    /// Loads the embedded templates, then overrides from `dir`.
    pub fn new(
        dir: Option<&Path>,
        descriptions: &BTreeMap<String, String>,
        login_hint: Option<String>,
    ) -> anyhow::Result<Self> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES).context("embedded templates")?;
        if let Some(dir) = dir {
            for (name, _) in TEMPLATES {
                let path = dir.join(name);
                if path.exists() {
                    tera.add_template_file(&path, Some(name))
                        .with_context(|| format!("server.templates_dir: {}", path.display()))?;
                }
            }
        }
        tera.autoescape_on(vec![".html"]);
        let mut scope_descriptions: BTreeMap<String, String> =
            SCOPE_DESCRIPTIONS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        scope_descriptions.extend(descriptions.clone());
        Ok(Self { tera, scope_descriptions, login_hint })
    }

    /// The scopes of a request, described in words.
    pub fn describe(&self, scopes: &oauth_core::types::ScopeSet) -> Vec<ScopeLine> {
        scopes
            .iter()
            .map(|s| ScopeLine {
                name: s.as_str().to_owned(),
                description: self.scope_descriptions.get(s.as_str()).cloned().unwrap_or_else(|| s.as_str().to_owned()),
            })
            .collect()
    }

    /// The login page; its form carries `request_id`, the waiting
    /// authorization request it continues (hidden field `request`).
    #[allow(clippy::too_many_arguments)]
    pub fn login(
        &self,
        status: StatusCode,
        action: &str,
        csrf: &str,
        request_id: Option<&str>,
        client_name: Option<&str>,
        username: &str,
        error: Option<&str>,
    ) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("action", action);
        ctx.insert("csrf_token", csrf);
        ctx.insert("request_id", &request_id);
        ctx.insert("client_name", &client_name);
        ctx.insert("username", username);
        ctx.insert("error", &error);
        ctx.insert("hint", &self.login_hint);
        self.render(status, "login.html", &ctx)
    }

    /// The consent page of the waiting request `request_id`; its form
    /// carries that id (hidden field `request`) and the scopes shown
    /// (hidden field `scope`), both bound by the CSRF token `csrf`.
    pub fn consent(
        &self,
        action: &str,
        csrf: &str,
        request_id: &str,
        username: &str,
        pending: &oauth_core::PendingAuthorization,
    ) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("action", action);
        ctx.insert("csrf_token", csrf);
        ctx.insert("request_id", request_id);
        ctx.insert("scope", &pending.scope.to_string());
        ctx.insert("username", username);
        ctx.insert("client_name", &pending.client_name);
        ctx.insert("scopes", &self.describe(&pending.scope));
        ctx.insert("redirect_uri", pending.redirect_uri.as_str());
        ctx.insert("device", &false);
        self.render(StatusCode::OK, "consent.html", &ctx)
    }

    /// The consent page of a waiting device authorization (RFC 8628): the
    /// same form, saying that a device is asking, without a redirect or a
    /// remembered decision.
    pub fn consent_device(
        &self,
        action: &str,
        csrf: &str,
        request_id: &str,
        username: &str,
        device: &oauth_core::PendingDevice,
    ) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("action", action);
        ctx.insert("csrf_token", csrf);
        ctx.insert("request_id", request_id);
        ctx.insert("scope", &device.scope.to_string());
        ctx.insert("username", username);
        ctx.insert("client_name", &device.client_name);
        ctx.insert("scopes", &self.describe(&device.scope));
        ctx.insert("redirect_uri", "");
        ctx.insert("device", &true);
        self.render(StatusCode::OK, "consent.html", &ctx)
    }

    /// The device page's code entry form (RFC 8628 §3.3), pre-filled with
    /// `user_code` (from `verification_uri_complete`), which the user still
    /// confirms.
    pub fn device(
        &self,
        status: StatusCode,
        action: &str,
        csrf: &str,
        user_code: &str,
        error: Option<&str>,
    ) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("action", action);
        ctx.insert("csrf_token", csrf);
        ctx.insert("user_code", user_code);
        ctx.insert("error", &error);
        self.render(status, "device.html", &ctx)
    }

    /// An error or information page.
    pub fn error(&self, status: StatusCode, title: &str, message: &str, code: Option<&str>) -> HttpResponse {
        let mut ctx = Context::new();
        ctx.insert("title", title);
        ctx.insert("message", message);
        ctx.insert("code", &code);
        self.render(status, "error.html", &ctx)
    }

    fn render(&self, status: StatusCode, template: &str, ctx: &Context) -> HttpResponse {
        match self.tera.render(template, ctx) {
            Ok(html) => page(status, html),
            Err(e) => {
                tracing::error!(template, error = %e, "template rendering failed");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!DOCTYPE html><title>Error</title><p>Internal error.</p>".into(),
                )
            }
        }
    }
}

/// An HTML response with the page security headers.
pub fn page(status: StatusCode, html: String) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    add_page_headers(&mut builder);
    builder.content_type("text/html; charset=utf-8").body(html)
}

/// Anti-framing, no caching, no referrer, no sniffing.
pub fn add_page_headers(builder: &mut actix_web::HttpResponseBuilder) {
    builder
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
}
