//! Test helpers (feature `test-util`): a cookie-keeping browser over an
//! in-process actix service, so HTTP tests need no socket.

use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};

/// A response, read to the end.
#[derive(Debug)]
pub struct Page {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as text.
    pub body: String,
}

impl Page {
    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `Location` header without its query: `/login` for
    /// `/login?request=…`.
    pub fn location_path(&self) -> Option<&str> {
        self.location().map(|l| l.split_once('?').map_or(l, |(path, _)| path))
    }

    /// The `Location` header as an owned string (panics when absent: tests only).
    pub fn next(&self) -> String {
        self.location().unwrap_or_else(|| panic!("no Location in {} {}", self.status, self.body)).to_owned()
    }

    /// The form of the page as a browser would submit it: see [`submit`].
    pub fn submit(&self, fields: &str) -> String {
        submit(&self.body, fields)
    }

    /// The body parsed as JSON (panics on other bodies: tests only).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The value of a hidden input `name` in the page (panics when absent: tests only).
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start =
            self.body.find(&marker).unwrap_or_else(|| panic!("no input {name} in {}", self.body)) + marker.len();
        let end = self.body[start..].find('"').map_or(self.body.len(), |e| start + e);
        self.body[start..end].to_owned()
    }
}

/// The form of the page as a browser would submit it: every hidden
/// input (CSRF token, request id, scopes shown), URL-encoded, then the
/// already encoded `fields` (`approval=1`, `username=…&password=…`).
pub fn submit(html: &str, fields: &str) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    let mut rest = html;
    const HIDDEN: &str = "<input type=\"hidden\" name=\"";
    while let Some(at) = rest.find(HIDDEN) {
        rest = &rest[at + HIDDEN.len()..];
        let Some((name, after)) = rest.split_once("\" value=\"") else { break };
        let Some((value, after)) = after.split_once('"') else { break };
        form.append_pair(name, &value.replace("&#x2F;", "/").replace("&amp;", "&"));
        rest = after;
    }
    let mut body = form.finish();
    if !fields.is_empty() {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(fields);
    }
    body
}

/// Keeps cookies between requests, like a browser.
#[derive(Debug, Default, Clone)]
pub struct Browser {
    /// Cookies by name.
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser without cookies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `req` with the cookies, stores the cookies of the answer.
    pub async fn send<S, B>(&mut self, app: &S, mut req: TestRequest) -> Page
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        if !self.cookies.is_empty() {
            let header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.insert_header(("Cookie", header.join("; ")));
        }
        let response = test::call_service(app, req.to_request()).await;
        for cookie in response.response().cookies() {
            self.cookies.insert(cookie.name().to_owned(), cookie.value().to_owned());
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        Page { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    /// `GET uri`.
    pub async fn get<S, B>(&mut self, app: &S, uri: &str) -> Page
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        self.send(app, TestRequest::get().uri(uri)).await
    }

    /// `POST uri` with a form body.
    pub async fn post_form<S, B>(&mut self, app: &S, uri: &str, body: &str) -> Page
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let req = TestRequest::post()
            .uri(uri)
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_owned());
        self.send(app, req).await
    }

    /// Logs in through the login form at `/login` (for no waiting request):
    /// [`login_at`](Self::login_at) that page.
    pub async fn login<S, B>(&mut self, app: &S, username: &str, password: &str) -> Page
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        self.login_at(app, "/login", username, password).await
    }

    /// Logs in through the login form at `uri` (`/login?request=…`, the
    /// Location of an authorization request): `GET` for the form, then
    /// `POST /login` with its hidden fields. Returns the answer to the POST.
    pub async fn login_at<S, B>(&mut self, app: &S, uri: &str, username: &str, password: &str) -> Page
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        let page = self.get(app, uri).await;
        let fields = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("username", username)
            .append_pair("password", password)
            .finish();
        self.post_form(app, "/login", &page.submit(&fields)).await
    }
}
