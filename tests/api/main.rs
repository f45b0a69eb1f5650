//! AuthKit over real HTTP, as a client sees it: the local server's router on a random port,
//! against the embedded store and against DynamoDB, SNS and SES in an AWS emulator (moto or
//! LocalStack at AUTHKIT_TEST_ENDPOINT). Codes are read back from where they were delivered:
//! the dev outbox route, or the emulator's record of sent messages.

mod access;
mod cli;
mod cognito;
mod cognito_pool;
mod cross_tenant;
mod devices;
mod edge;
mod errors;
mod events;
mod headers;
mod introspection;
mod key_rotation;
mod lambda;
mod local_server;
mod logs;
mod magic_link;
mod members;
mod round_trips;
mod routes;
mod sign_in;
mod signup;
mod store_faults;
mod tenants;
mod tokens;
mod users;
