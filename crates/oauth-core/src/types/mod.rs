//! Protocol values as newtypes.
//!
//! Plain identifiers ([`ClientId`], [`Subject`], [`State`], [`Nonce`]) are
//! cheap wrappers around a shared `str`. Secrets ([`ClientSecret`],
//! [`AuthorizationCode`], [`AccessToken`], [`RefreshToken`],
//! [`PkceCodeVerifier`]) redact themselves in `Debug` and are only readable
//! through `secret()`, which makes every raw use visible in review.

mod enums;
mod issuer;
mod scope;
mod secrets;
mod uri;

pub use enums::{CodeChallengeMethod, GrantType, ResponseMode, ResponseType, TokenEndpointAuthMethod, TokenTypeHint};
pub use issuer::{Issuer, IssuerError};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use secrets::{AccessToken, AuthorizationCode, ClientSecret, PkceCodeVerifier, RefreshToken, TokenHash, TokenKey};
pub use uri::{RedirectUri, RedirectUriError};

/// Defines a plain string newtype with `new`, `as_str`, `Display`, serde and ordering.
///
/// The value is an `Arc<str>`: identifiers are copied into every record that
/// names them (a grant, each of its tokens, the stores' indexes), and cloning
/// one is then a reference-count increment rather than an allocation.
macro_rules! new_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into().into())
            }

            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0.as_ref().to_owned()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

new_type!(
    /// A client identifier ([RFC 6749 §2.2](https://www.rfc-editor.org/rfc/rfc6749#section-2.2)).
    ClientId
);
new_type!(
    /// The resource owner a grant belongs to (the `sub` claim).
    Subject
);
new_type!(
    /// Opaque client value echoed in the authorization response
    /// ([RFC 6749 §4.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1)).
    State
);
new_type!(
    /// OpenID Connect nonce, bound to the authorization code and echoed in the ID token.
    Nonce
);
new_type!(
    /// Identifier of a grant: the family of tokens issued from one authorization.
    ///
    /// Not a secret: it never leaves the server, and knowing it grants nothing.
    GrantId
);
