//! Scope tokens and sets ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).

use std::fmt;

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Scope(String);

/// A scope token or set that does not follow the RFC 6749 §3.3 grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope tokens are 1*( %x21 / %x23-5B / %x5D-7E ) separated by spaces")]
pub struct ScopeError;

impl Scope {
    /// Validates one scope token.
    pub fn new(value: impl Into<String>) -> Result<Self, ScopeError> {
        let value = value.into();
        let valid = !value.is_empty()
            && value.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if valid { Ok(Self(value)) } else { Err(ScopeError) }
    }

    /// The token as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Scope::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A deduplicated, ordered set of scopes; space-separated on the wire.
///
/// Kept sorted so that the `scope` output is deterministic. A shared sorted
/// slice rather than a `BTreeSet`: sets hold a handful of scopes, a B-tree
/// node per set costs hundreds of bytes for every stored token, and a grant
/// and each of its tokens share one set instead of copying it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(std::sync::Arc<[Scope]>);

impl ScopeSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a `scope` parameter: tokens split on any run of spaces, duplicates removed.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        value.split(' ').filter(|s| !s.is_empty()).map(Scope::new).collect::<Result<Self, _>>()
    }

    /// True when the set has no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.0.binary_search(s).is_ok())
    }

    /// True when the set contains `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: Scope) {
        if let Err(at) = self.0.binary_search(&scope) {
            let mut scopes = self.0.to_vec();
            scopes.insert(at, scope);
            self.0 = scopes.into();
        }
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut scopes: Vec<Scope> = iter.into_iter().collect();
        scopes.sort_unstable();
        scopes.dedup();
        Self(scopes.into())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in self.0.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl std::str::FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ScopeSet::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let rows: &[(&str, Option<&str>)] = &[
            ("email", Some("email")),
            ("email  profile", Some("email profile")),
            ("  profile email email ", Some("email profile")),
            ("", Some("")),
            ("a\"b", None),
            ("a\\b", None),
            ("tab\there", None),
            ("é", None),
        ];
        for (input, expected) in rows {
            let got = ScopeSet::parse(input).ok().map(|s| s.to_string());
            assert_eq!(got.as_deref(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn subset() {
        let a = ScopeSet::parse("a b").unwrap_or_default();
        let b = ScopeSet::parse("a").unwrap_or_default();
        assert!(b.is_subset(&a));
        assert!(!a.is_subset(&b));
        assert!(ScopeSet::empty().is_subset(&b));
    }
}
