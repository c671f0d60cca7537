//! `kubectl-talkturo`: a kubectl plugin (on `PATH`, it runs as `kubectl talkturo ...`) showing what
//! the talkturo operator sees. Read-only: it buys, assigns and releases nothing.
//!
//! Exit codes: 0 success; 1 an error (an API error, an object not found) or, for `check`, a
//! check that did not pass (within `--wait`); 2 a usage error (unknown flag, missing argument).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use kube::config::{KubeConfigOptions, Kubeconfig};
use talkturo_operator::plugin::{self, CheckOptions, Format};

#[derive(Parser)]
#[command(name = "kubectl-talkturo", version, about, long_about = None)]
struct Cli {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, global = true, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    context: Option<String>,
    /// Username to impersonate for the operation, as `kubectl --as`.
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,
    /// Group to impersonate (repeat for several), as `kubectl --as-group`.
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    as_group: Vec<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Every namespace (`status` without a claim name).
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    all_namespaces: bool,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The claim → its PhoneNumber → its class, with conditions and recent Events; without a
    /// name, the namespace's claims (every namespace's with -A).
    Status {
        /// The PhoneNumberClaim's name.
        claim: Option<String>,
    },
    /// The numbers a claim (a YAML file, `-` for stdin) would get, in the order the operator would
    /// try them, with prices. Sends one search; buys nothing.
    Search {
        /// A PhoneNumberClaim manifest.
        claim_file: PathBuf,
    },
    /// Numbers in each class's Talkturo account that no PhoneNumber represents.
    Orphans,
    /// Whether the operator can provision: CRDs served, the operator's Lease held, every class
    /// Ready. Exit code 0 when all pass, 1 otherwise.
    Check {
        /// Retry until every check passes, for at most this long (e.g. `2m`, `90s`).
        #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
        wait: Option<Duration>,
        /// The operator's namespace (where its Lease is).
        #[arg(long, default_value = "talkturo-system")]
        operator_namespace: String,
        /// The operator's Lease (the chart names it after the release: `<release>-talkturo-operator`
        /// unless the release is called talkturo-operator).
        #[arg(long, default_value = "talkturo-operator")]
        lease_name: String,
        /// Check only this class (repeat for several; default: every class).
        #[arg(long = "class", value_name = "NAME")]
        classes: Vec<String>,
    },
    /// This plugin's version (the operator release it belongs to); needs no cluster.
    Version,
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    let d: kube::core::Duration = s
        .parse()
        .map_err(|e| format!("{s:?} is not a duration like 90s or 2m: {e}"))?;
    if d.is_negative() {
        return Err(format!("{s:?} is negative"));
    }
    Ok(d.into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok((out, ok)) => {
            print!("{out}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The client for the chosen kubeconfig, context and identity, and the namespace to use.
async fn connect(cli: &Cli) -> Result<(kube::Client, String), Box<dyn std::error::Error>> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let mut config = match &cli.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None if cli.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer().await?,
    };
    if let Some(user) = &cli.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !cli.as_group.is_empty() {
        config.auth_info.impersonate_groups = Some(cli.as_group.clone());
    }
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    Ok((kube::Client::try_from(config)?, namespace))
}

/// `kubectl talkturo version`: `kubectl-talkturo <version>`, or `{"version": ...}` as JSON/YAML.
fn version(format: Format) -> Result<String, plugin::Error> {
    let version = env!("CARGO_PKG_VERSION");
    Ok(
        plugin::encoded(&serde_json::json!({ "version": version }), format)?
            .unwrap_or_else(|| format!("kubectl-talkturo {version}\n")),
    )
}

async fn run(cli: Cli) -> Result<(String, bool), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Command::Completion { shell } = &cli.command {
        let mut out = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "kubectl-talkturo", &mut out);
        return Ok((String::from_utf8(out)?, true));
    }
    if let Command::Version = &cli.command {
        return Ok((version(cli.output)?, true));
    }
    let (client, namespace) = connect(&cli).await?;
    let format = cli.output;
    let out = match cli.command {
        Command::Status { claim: Some(_) } if cli.all_namespaces => {
            return Err("a claim is named by its namespace (-n), not with -A".into());
        }
        Command::Status { claim: Some(claim) } => {
            plugin::status(&client, &namespace, &claim, format).await?
        }
        Command::Status { claim: None } => {
            let ns = (!cli.all_namespaces).then_some(namespace.as_str());
            plugin::list(&client, ns, format).await?
        }
        Command::Search { claim_file } => {
            let text = if claim_file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&claim_file)
                    .map_err(|e| format!("reading {}: {e}", claim_file.display()))?
            };
            plugin::search(&client, &text, format).await?
        }
        Command::Orphans => plugin::orphans(&client, format).await?,
        Command::Check {
            wait,
            operator_namespace,
            lease_name,
            classes,
        } => {
            let opts = CheckOptions {
                operator_namespace,
                lease_name,
                wait,
                classes,
            };
            return Ok(plugin::check(&client, &opts, format).await?);
        }
        Command::Completion { .. } | Command::Version => String::new(),
    };
    Ok((out, true))
}
