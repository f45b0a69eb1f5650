pub(crate) mod admin;
pub(crate) mod devices;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod sign_in;
pub(crate) mod tenancy;
pub(crate) mod tenant;
pub(crate) mod tokens;
