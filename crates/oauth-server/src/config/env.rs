//! The environment overlay: `OAUTH__SECTION__KEY=value` over the file.
//!
//! An environment value is text. It is not typed by guessing from the text
//! (`2024` is a number, `true` a boolean) but by the schema: the file and the
//! overrides are deserialized together, and an override takes the type that
//! the field at its place asks for. So `OAUTH__STORAGE__KEY_PREFIX=2024`
//! stays a string, `OAUTH__TOKENS__ACCESS_TOKEN_LIFETIME=abc` is refused as
//! not an integer, lists are comma-separated and an empty value unsets an
//! optional field.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Unexpected, Visitor};

/// The prefix of environment overrides: `OAUTH__SERVER__BIND=0.0.0.0:8000`.
pub const ENV_PREFIX: &str = "OAUTH__";

type Error = toml::de::Error;

/// The file's values with the environment's laid over them.
#[derive(Debug)]
pub(super) enum Node {
    /// A value from the file.
    File(toml::Value),
    /// A value from the environment, typed when deserialized.
    Env(String),
    /// A table with at least one override inside.
    Table(BTreeMap<String, Node>),
}

/// Deserializes `T` from a TOML table with `OAUTH__…` variables of `env`
/// laid over it. Errors name the field, and the variable when it set it.
pub(super) fn deserialize<T: de::DeserializeOwned>(
    table: toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<T> {
    let mut root = Node::File(toml::Value::Table(table));
    let mut sources = Vec::new();
    for (key, value) in env {
        let Some(path) = key.strip_prefix(ENV_PREFIX) else { continue };
        let fields: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        root.set(&fields, value).map_err(|e| anyhow!("environment variable {key}: {e}"))?;
        sources.push((fields.join("."), key));
    }
    serde_path_to_error::deserialize(root).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // The variable that set the field at fault, or set a field unknown to its section.
        let set_by = sources.iter().find(|(field, _)| {
            let under =
                path.strip_prefix(field.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']));
            let unknown = field
                .rsplit_once('.')
                .is_some_and(|(section, name)| section == path && message.contains(&format!("unknown field `{name}`")));
            // An override below a field that is not a section made it one.
            let made_section = field.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('.'))
                && message.contains("invalid type: map");
            under || unknown || made_section
        });
        match set_by {
            Some((_, key)) => anyhow!("{path}: {} (set by environment variable {key})", message.trim_end()),
            None => anyhow!("{path}: {}", message.trim_end()),
        }
    })
}

impl Node {
    /// The table at this node, turning a table from the file into one that can hold overrides.
    fn table(&mut self) -> Option<&mut BTreeMap<String, Node>> {
        if let Node::File(toml::Value::Table(table)) = self {
            let file = std::mem::take(table).into_iter().map(|(k, v)| (k, Node::File(v))).collect();
            *self = Node::Table(file);
        }
        match self {
            Node::Table(table) => Some(table),
            _ => None,
        }
    }

    /// Sets the value at `fields` (`["storage", "key_prefix"]`).
    fn set(&mut self, fields: &[String], value: String) -> anyhow::Result<()> {
        let Some((last, parents)) = fields.split_last() else { bail!("no field") };
        if fields.iter().any(String::is_empty) {
            bail!("empty field name in {:?}", fields.join("__"));
        }
        let mut current = self;
        for (i, field) in parents.iter().enumerate() {
            let Some(table) = current.table() else { bail!("{} is not a section", fields[..i].join(".")) };
            current = table.entry(field.clone()).or_insert_with(|| Node::Table(BTreeMap::new()));
        }
        let Some(table) = current.table() else { bail!("{} is not a section", parents.join(".")) };
        table.insert(last.clone(), Node::Env(value));
        Ok(())
    }

    fn visit_table<'de, V: Visitor<'de>>(table: BTreeMap<String, Node>, visitor: V) -> Result<V::Value, Error> {
        let mut map = MapDeserializer::new(table.into_iter());
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }
}

impl<'de> IntoDeserializer<'de, Error> for Node {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// An environment value parsed as the number or boolean the schema asks for.
macro_rules! parsed {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self {
                    Node::Env(text) => match text.trim().parse::<$ty>() {
                        Ok(value) => visitor.$visit(value),
                        Err(_) => Err(de::Error::invalid_type(Unexpected::Str(&text), &visitor)),
                    },
                    Node::File(value) => value.$method(visitor),
                    Node::Table(table) => Node::visit_table(table, visitor),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Env(text) => visitor.visit_string(text),
            Node::File(value) => value.deserialize_any(visitor),
            Node::Table(table) => Node::visit_table(table, visitor),
        }
    }

    parsed! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    /// An empty environment value unsets an optional field.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Env(text) if text.is_empty() => visitor.visit_none(),
            Node::File(value) => value.deserialize_option(visitor),
            node => visitor.visit_some(node),
        }
    }

    /// A list from the environment is comma-separated; empty is the empty list.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Env(text) => {
                let items: Vec<Node> = if text.trim().is_empty() {
                    Vec::new()
                } else {
                    text.split(',').map(|item| Node::Env(item.trim().to_owned())).collect()
                };
                let mut seq = SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Node::File(value) => value.deserialize_seq(visitor),
            Node::Table(table) => Node::visit_table(table, visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::File(value) => value.deserialize_struct(name, fields, visitor),
            node => node.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::Env(text) => visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(text)),
            Node::File(value) => value.deserialize_enum(name, variants, visitor),
            node => node.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct map identifier ignored_any
    }
}
