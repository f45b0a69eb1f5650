//! The functions' log subscriber: lambda_runtime's default (no timestamps or targets,
//! one JSON object per event when `AWS_LAMBDA_LOG_FORMAT=JSON`, as Terraform sets it),
//! filtered by `Targets` instead of `EnvFilter`, whose directive language (span and
//! field filters matched by regular expressions) a function never uses (decision 141).

use lambda_runtime::tracing::subscriber::filter::{LevelFilter, Targets};
use lambda_runtime::tracing::subscriber::{self, prelude::*};

/// Installs the subscriber for the process.
pub fn init() {
    let filter = filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let format = subscriber::fmt::layer().with_target(false).without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = subscriber::registry().with(filter);
    if json {
        registry.with(format.json()).init();
    } else {
        registry.with(format).init();
    }
}

/// Lambda's log level (`AWS_LAMBDA_LOG_LEVEL`, from the function's logging settings) for
/// everything when set; else `RUST_LOG`'s `level` and `target=level` directives; else INFO.
/// A value that does not parse is ignored.
fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    if let Some(level) = lambda_level.and_then(|level| level.parse::<LevelFilter>().ok()) {
        return Targets::new().with_default(level);
    }
    rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .filter(|targets| targets.default_level().is_some() || targets.iter().next().is_some())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::tracing::Level;

    fn enabled(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn info_when_nothing_is_set_or_nothing_parses() {
        for filter in [filter(None, None), filter(Some("loud"), Some("=?"))] {
            assert!(enabled(&filter, "authkit_api", Level::INFO));
            assert!(!enabled(&filter, "authkit_api", Level::DEBUG));
        }
    }

    #[test]
    fn lambdas_level_wins_for_every_target() {
        let filter = filter(Some("WARN"), Some("authkit_api=debug"));
        assert!(enabled(&filter, "authkit_api", Level::WARN));
        assert!(!enabled(&filter, "authkit_api", Level::INFO));
        assert!(!enabled(&filter, "hyper", Level::INFO));
    }

    #[test]
    fn rust_log_sets_a_level_or_one_per_target() {
        let quiet = filter(None, Some("warn"));
        assert!(!enabled(&quiet, "authkit_api", Level::INFO));
        let mixed = filter(None, Some("error,authkit_domain=debug"));
        assert!(enabled(&mixed, "authkit_domain::service", Level::DEBUG));
        assert!(!enabled(&mixed, "aws_smithy_runtime", Level::WARN));
    }
}
