//! `talkturo-sim`: the Talkturo API simulator as a standalone server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use talkturo_sim::config::{AccountConfig, RecordCase, SimConfig, TeamConfig};

const ADMIN_HELP: &str = "\
Serves the Talkturo API contract (tests/conformance.rs, row by row) under /api, statefully and
deterministically, for tests, demos and local development. Never the real service.

Without --config it serves one account: slug `demo`, token `tk_demo_token`, team `team_demo`,
assistants `asst_demo_sales` and `asst_demo_support` (change them with the flags below).

Test-only admin API (no authentication; keep it on loopback):
  GET    /admin/state                     accounts' numbers, clock, purchases made
  GET    /admin/counters                  calls and answers per operation, faults injected
  DELETE /admin/counters                  reset the counters
  GET|PUT|DELETE /admin/faults            fault rules, e.g. PUT {\"rules\":[{\"op\":\"purchase\",
                                          \"action\":{\"kind\":\"lostResponse\",\"mode\":\"drop\"},
                                          \"remaining\":1}]}; kinds: latency{ms}, status{status,
                                          retryAfterSecs}, lostResponse{mode: drop|serverError|hang},
                                          malformed; optional probability (0-1) and remaining
  POST   /admin/clock/advance             {\"seconds\": N}: move the simulator's clock
  POST   /admin/numbers                   {\"teamId\",\"phoneNumber\",\"assistantId\"?}: a number
                                          bought outside the API (dashboard)
  DELETE /admin/numbers/{e164}            the number disappears from its account
  PUT    /admin/numbers/{e164}/status     {\"status\": \"active|suspended|error|purchasing\"}
  POST   /admin/inventory/withdraw        {\"phoneNumber\"}: the carrier stops offering it
  PATCH  /admin/teams/{id}                {\"planName\"?,\"subscribed\"?,\"maxNumbers\"?}
  POST   /admin/assistants                {\"accountSlug\",\"id\",\"name\"}
  PATCH  /admin/settings                  {\"recordCase\"?,\"releaseEnabled\"?,
                                          \"activationDelayMs\"?,\"trialDurationSecs\"?}";

/// Talkturo API simulator.
#[derive(Parser, Debug)]
#[command(name = "talkturo-sim", version, about, after_long_help = ADMIN_HELP)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TALKTURO_SIM_LISTEN", default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// YAML or JSON file with the whole configuration (accounts, teams, plans, assistants and
    /// knobs); the flags below then only override the knobs.
    #[arg(long, env = "TALKTURO_SIM_CONFIG")]
    config: Option<PathBuf>,
    /// Seed of the number inventory.
    #[arg(long, env = "TALKTURO_SIM_SEED")]
    seed: Option<u64>,
    /// Milliseconds from purchase to `active`.
    #[arg(long, env = "TALKTURO_SIM_ACTIVATION_DELAY_MS")]
    activation_delay_ms: Option<u64>,
    /// Seconds a trial number lives (default 5 days).
    #[arg(long, env = "TALKTURO_SIM_TRIAL_DURATION_SECS")]
    trial_duration_secs: Option<u64>,
    /// Serve DELETE /api/phone-numbers/{id} (release), which the published docs do not have.
    #[arg(long, env = "TALKTURO_SIM_RELEASE_ENABLED")]
    release_enabled: bool,
    /// Casing of number records in responses.
    #[arg(long, env = "TALKTURO_SIM_RECORD_CASE", value_enum)]
    record_case: Option<RecordCase>,
    /// Bearer token of the default account (without --config).
    #[arg(long, env = "TALKTURO_SIM_TOKEN", default_value = "tk_demo_token")]
    token: String,
    /// Team id of the default account (without --config).
    #[arg(long, env = "TALKTURO_SIM_TEAM", default_value = "team_demo")]
    team: String,
    /// Account slug of the default account (without --config).
    #[arg(long, env = "TALKTURO_SIM_ACCOUNT_SLUG", default_value = "demo")]
    account_slug: String,
    /// Number limit of the default team's plan (without --config).
    #[arg(long, env = "TALKTURO_SIM_PLAN_LIMIT", default_value_t = 100)]
    plan_limit: u32,
    /// The default team has no subscription: one trial number only (without --config).
    #[arg(long, env = "TALKTURO_SIM_UNSUBSCRIBED")]
    unsubscribed: bool,
    /// Log format.
    #[arg(long, env = "TALKTURO_SIM_LOG_JSON")]
    log_json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if args.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            SimConfig::from_yaml(&text)
                .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?
        }
        None => {
            let mut c = SimConfig::default();
            let account = AccountConfig {
                slug: args.account_slug.clone(),
                account_id: format!("acct_{}", args.account_slug),
                tokens: vec![args.token.clone()],
                teams: vec![TeamConfig {
                    id: args.team.clone(),
                    subscribed: !args.unsubscribed,
                    max_numbers: args.plan_limit,
                    ..TeamConfig::default()
                }],
                ..AccountConfig::default()
            };
            c.accounts = vec![account];
            c
        }
    };
    if let Some(v) = args.seed {
        config.seed = v;
    }
    if let Some(v) = args.activation_delay_ms {
        config.activation_delay_ms = v;
    }
    if let Some(v) = args.trial_duration_secs {
        config.trial_duration_secs = v;
    }
    if let Some(v) = args.record_case {
        config.record_case = v;
    }
    config.release_enabled |= args.release_enabled;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let app = talkturo_sim::router(talkturo_sim::Sim::new(config));
    tracing::info!(%addr, "talkturo-sim listening; admin API under /admin");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
