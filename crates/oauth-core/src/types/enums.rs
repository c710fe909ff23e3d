//! Protocol enumerations, each with an `Extension` escape hatch.

use std::fmt;

/// Defines a string enum with standard variants and an `Extension(String)` variant.
macro_rules! string_enum {
    ($(#[$attr:meta])* $name:ident { $($(#[$vattr:meta])* $variant:ident => $wire:literal,)+ }) => {
        $(#[$attr])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vattr])* $variant,)+
            /// A value this crate has no name for.
            Extension(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Extension(other) => other,
                }
            }

            /// Maps a wire value; unknown values become `Extension`.
            pub fn parse(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Extension(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok(Self::parse(&String::deserialize(deserializer)?))
            }
        }
    };
}

string_enum!(
    /// `grant_type` ([RFC 6749 §4](https://www.rfc-editor.org/rfc/rfc6749#section-4)).
    GrantType {
        /// §4.1
        AuthorizationCode => "authorization_code",
        /// §6
        RefreshToken => "refresh_token",
        /// §4.4
        ClientCredentials => "client_credentials",
        /// §4.3 (legacy; off unless a client is registered for it)
        Password => "password",
        /// Token exchange ([RFC 8693 §2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.1))
        TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        /// The device authorization grant ([RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)).
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
    }
);

string_enum!(
    /// `response_type` ([RFC 6749 §3.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.1)).
    ResponseType {
        /// Authorization code.
        Code => "code",
        /// Implicit grant (legacy; off unless a client is registered for it).
        Token => "token",
    }
);

string_enum!(
    /// `response_mode` ([OAuth 2.0 Multiple Response Types](https://openid.net/specs/oauth-v2-multiple-response-types-1_0.html),
    /// [Form Post Response Mode](https://openid.net/specs/oauth-v2-form-post-response-mode-1_0.html)).
    ResponseMode {
        /// Parameters in the redirect URI's query.
        Query => "query",
        /// Parameters in the redirect URI's fragment.
        Fragment => "fragment",
        /// An auto-submitting HTML form that POSTs the parameters.
        FormPost => "form_post",
    }
);

string_enum!(
    /// `code_challenge_method` ([RFC 7636 §4.3](https://www.rfc-editor.org/rfc/rfc7636#section-4.3)).
    CodeChallengeMethod {
        /// SHA-256, base64url without padding.
        S256 => "S256",
        /// The verifier itself; only where the server enables it.
        Plain => "plain",
    }
);

string_enum!(
    /// `token_endpoint_auth_method` ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
    TokenEndpointAuthMethod {
        /// HTTP Basic with form-url-encoded id and secret.
        ClientSecretBasic => "client_secret_basic",
        /// `client_id` and `client_secret` in the form body.
        ClientSecretPost => "client_secret_post",
        /// A public client: `client_id` only.
        None => "none",
        /// A JWT assertion signed with the client's registered key (RFC 7523
        /// §2.2, OpenID Connect Core §9).
        PrivateKeyJwt => "private_key_jwt",
    }
);

string_enum!(
    /// `token_type_hint` ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)).
    TokenTypeHint {
        /// An access token.
        AccessToken => "access_token",
        /// A refresh token.
        RefreshToken => "refresh_token",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(GrantType::parse("authorization_code"), GrantType::AuthorizationCode);
        assert_eq!(GrantType::parse("x").as_str(), "x");
        assert_eq!(CodeChallengeMethod::parse("s256"), CodeChallengeMethod::Extension("s256".into()));
    }
}
