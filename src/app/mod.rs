//! The composition root: the one place that knows every part. It opens the
//! backends a [`Config`] names, gives each resource the state it needs,
//! builds the router and the reactions, and starts the workers. Everything
//! below it is wired from here and imports only downward.
//!
//! [`Application::build`] opens and builds; it spawns nothing. The binary
//! (and the test harness) then starts the [`Workers`] and serves the
//! [`Application::router`], over TCP or Lambda.

mod backends;
pub mod router;
pub mod workers;

pub use backends::{Backends, StartError};
pub use workers::Workers;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::http::middleware::Service;

use crate::account::AccountState;
use crate::blog::BlogState;
use crate::config::Config;
use crate::http::metrics::Metrics;
use crate::http::ratelimit::{Budget, TrustedProxies};
use crate::http::system::SystemState;
use crate::reactions::Reactions;
use crate::site::{SiteInfo, SiteState};
use crate::todos::{SyncRules, TodosState};
use crate::uploads::UploadsState;

/// One process's service: its configuration, backends, reactions and
/// request figures.
pub struct Application {
    config: Config,
    backends: Backends,
    metrics: Arc<Metrics>,
    reactions: Reactions,
    /// Built once: its sync waiters and token key are the process's.
    todos: TodosState,
}

impl Application {
    /// Opens the backends that `config` names and wires the service.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let backends = Backends::open(&config).await?;
        let blog = BlogState {
            table: backends.table.clone(),
            mailer: backends.mailer.clone(),
            subscribe_limiter: Arc::new(subscribe_budget(&config.blog)),
            config: config.blog.clone(),
            public_url: config.public_url.clone(),
            proxies: TrustedProxies(config.trusted_proxy_hops),
        };
        let uploads = UploadsState {
            table: backends.table.clone(),
            objects: backends.objects.clone(),
            rules: config.uploads.clone(),
            thumbnails_made: backends.tally.thumbnails_made.clone(),
        };
        let sync = SyncRules {
            retention: config.sync_retention,
            longest_wait: config
                .request_timeout
                .saturating_sub(Duration::from_secs(2)),
            poll: backends
                .embedded
                .is_none()
                .then_some(Duration::from_secs(1)),
        };
        let todos = TodosState::new(backends.table.clone(), sync);
        Ok(Self {
            metrics: Arc::new(Metrics::new(
                backends.cache.stats(),
                &backends.tally,
                config.runtime == crate::config::Runtime::LambdaHttp,
            )),
            todos,
            reactions: Reactions {
                site: SiteState {
                    table: backends.table.clone(),
                    store: backends.site.clone(),
                    objects: backends.objects.clone(),
                    local: backends.local_site.clone(),
                    building: Default::default(),
                    info: SiteInfo {
                        name: config.blog.name.clone(),
                        base_url: config.public_url.clone(),
                    },
                },
                blog,
                uploads,
                tally: backends.tally.clone(),
            },
            backends,
            config,
        })
    }

    /// The whole service: its stack around one router.
    pub fn router(&self) -> Service {
        router::service(self, |routes| routes)
    }

    /// The service with `extra` routes inside its middleware.
    pub fn router_with(&self, extra: impl FnOnce(Router) -> Router) -> Service {
        router::service(self, extra)
    }

    /// Builds the local site once, in the background, so that `/` answers
    /// before the first post changes (the server does this at start; on
    /// AWS there is no local site).
    pub fn build_local_site(&self) {
        if self.backends.local_site.is_none() {
            return;
        }
        let site = self.reactions.site.clone();
        tokio::spawn(async move {
            match crate::site::build(&site).await {
                Ok(built) => tracing::debug!(?built, "site built"),
                Err(error) => tracing::warn!(%error, "site not built"),
            }
        });
    }

    /// Starts the background work this process's backends need: the
    /// embedded store's purger and change feed, the local object store's
    /// notifications (nothing on AWS). One set at a time: shut one down
    /// before starting another.
    pub fn start_workers(&self) -> Workers {
        let object_events = self.backends.local_objects.as_ref().map(|o| o.events());
        let embedded = self.backends.embedded.clone();
        Workers::start(embedded, object_events, &self.reactions)
    }

    /// What a stored change or an object's arrival leads to.
    pub fn reactions(&self) -> &Reactions {
        &self.reactions
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// One line for the start-up log: which backends are active.
    pub fn describe(&self) -> String {
        self.backends.describe(&self.config)
    }

    fn todos_state(&self) -> TodosState {
        self.todos.clone()
    }

    fn account_state(&self) -> AccountState {
        AccountState {
            table: self.backends.table.clone(),
            objects: self.reactions.uploads.objects.clone(),
        }
    }

    fn system_state(&self) -> SystemState {
        SystemState {
            table: self.backends.table.clone(),
            cache: self.backends.cache.clone(),
            metrics: self.metrics.clone(),
            local_issuer: self.backends.local_issuer.clone(),
        }
    }
}

/// The subscribe budget: `APP_SUBSCRIBE_LIMIT` requests per address at
/// once, refilled over `APP_SUBSCRIBE_WINDOW`.
fn subscribe_budget(blog: &crate::config::BlogConfig) -> Budget<IpAddr> {
    let limit =
        std::num::NonZeroU32::new(blog.subscribe_limit).unwrap_or(std::num::NonZeroU32::MIN);
    Budget::new("subscribe", limit, blog.subscribe_window / limit.get())
}
