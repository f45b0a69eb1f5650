pub(crate) mod audit;
pub(crate) mod devices;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod sign_in;
pub(crate) mod tokens;
pub(crate) mod users;
