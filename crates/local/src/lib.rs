//! AuthKit on one machine: the HTTP API plus what only a development server has (the demo
//! tenant, the dev outbox, a magic-link callback page), and the operator commands. The
//! binary (`src/main.rs`) parses arguments; integration tests mount [`router`] directly.

pub mod admin;
pub mod dev;

use authkit_app::App;

/// Every route: the API and the development extras, behind the configured edge.
pub fn router(app: &App) -> axum::Router {
    authkit_api::with_edge(
        authkit_api::router(app.authkit.clone()).merge(dev::routes(app)),
        app.config.edge.clone(),
    )
}
