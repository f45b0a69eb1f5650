//! Reading and writing item attributes without `unwrap`: a missing or mistyped attribute
//! is `StoreError::Corrupt`, naming the attribute.

use std::collections::HashMap;

use authkit_domain::clock::Timestamp;
use authkit_domain::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// Typed access to an item's attributes.
pub(crate) struct Fields<'a>(pub(crate) &'a Item);

impl<'a> Fields<'a> {
    pub(crate) fn str(&self, name: &str) -> Result<&'a str, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            _ => Err(corrupt(name)),
        }
    }

    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(_) => Err(corrupt(name)),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name)),
            _ => Err(corrupt(name)),
        }
    }

    pub(crate) fn uint(&self, name: &str) -> Result<u32, StoreError> {
        u32::try_from(self.int(name)?).map_err(|_| corrupt(name))
    }

    pub(crate) fn time(&self, name: &str) -> Result<Timestamp, StoreError> {
        self.int(name).map(Timestamp)
    }

    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.time(name).map(Some),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            _ => Err(corrupt(name)),
        }
    }

    /// Parses an attribute through the domain type's own parser.
    pub(crate) fn parsed<T, E>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        parse(self.str(name)?).map_err(|_| corrupt(name))
    }

    /// A JSON document attribute (tenant policy, fingerprint, audit event).
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        serde_json::from_str(self.str(name)?).map_err(|_| corrupt(name))
    }

    /// DynamoDB deletes expired items lazily (up to days late); until then they must read
    /// as absent, as they do in the embedded store.
    pub(crate) fn expired(&self, now: Timestamp) -> bool {
        matches!(self.0.get("ttl"), Some(AttributeValue::N(ttl)) if ttl.parse::<i64>().is_ok_and(|ttl| ttl <= now.0))
    }
}

pub(crate) fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("attribute `{attribute}` is missing or malformed"))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a document: {e}")))
}
