//! `parley`: the one binary. `serve` runs the server; `migrate`, `admin` and `token` manage the
//! database directly; `simulate` plays customers against a running server; `bench` measures.

mod bench;
mod config;
mod simulate;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use parley_core::contact::{parse_name, Email};
use parley_core::role::Role;
use parley_server::{FirstStart, SystemClock};
use parley_store::{null_sink, NewUser};

use crate::config::{DbArgs, ServeArgs};

/// jemalloc, with its background threads: memory freed in bulk (thousands of sockets closing)
/// goes back to the system within seconds, where glibc's malloc kept it for good.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: one shared inbox for every channel your customers use"
)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (SQLite in ./parley-data by default; UI at http://127.0.0.1:8080)
    ///
    /// Run one node per database, on PostgreSQL too: live events, `?since=` replay, send rate
    /// limits, sign-in throttles, presence and the widget's reach are kept per process, so a
    /// second node on the same database would leave agents without the events it handles. A node
    /// that finds another one alive on its database logs a warning naming it.
    Serve(ServeArgs),
    /// Apply database migrations and exit
    Migrate,
    /// Manage users
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage personal API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Play customers against a running server through the API channel
    Simulate(simulate::SimulateArgs),
    /// Measure Parley on this machine
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print configuration help
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Encryption at rest: make a master key, see the data keys
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random master key (keep it in a file readable only by Parley, or in
    /// PARLEY_MASTER_KEY)
    Generate,
    /// Whether encryption at rest is on, and the data keys under the master key
    Status,
    /// Turn encryption at rest on for a database that already holds data: seal every field and
    /// file under the configured master key (stop Parley first)
    Encrypt,
    /// Wrap the data keys under a new master key (then restart servers with it)
    Rewrap {
        /// The file holding the new master key
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
    /// Add a data key and seal every field and file again under it, while servers keep running
    Rotate {
        /// Seconds to wait after adding the key, for running servers to load it
        #[arg(long, default_value_t = 12)]
        grace_secs: u64,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Add a user to the workspace (password from PARLEY_USER_PASSWORD)
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, supervisor or agent
        #[arg(long, default_value = "agent")]
        role: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal API token for a user and print it (shown once)
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented parley.toml
    Example,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let spec = std::env::var("PARLEY_LOG").unwrap_or_else(|_| "info".into());
    parley_server::logging::init(&spec, std::io::stdout, std::io::stdout().is_terminal());
}

async fn open(db: &DbArgs) -> anyhow::Result<parley_store::DynStore> {
    let file = config::read_file(db.config.as_deref())?;
    let master = config::master_key(db, &file)?;
    parley_server::open_store(
        &config::database(db, &file, true)?,
        null_sink(),
        master.as_ref(),
        false,
    )
    .await
}

fn now() -> parley_core::Timestamp {
    use parley_server::Clock;
    SystemClock.now()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.db, &args).await,
        Command::Migrate => {
            open(&cli.db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser { email, name, role }) => {
            let email =
                Email::parse(&email).map_err(|e| anyhow::anyhow!("--email {}", e.reason))?;
            let name =
                parse_name("name", &name).map_err(|e| anyhow::anyhow!("--name {}", e.reason))?;
            let role = Role::parse(&role).context("--role must be admin, supervisor or agent")?;
            let password = std::env::var("PARLEY_USER_PASSWORD")
                .context("set the new user's password in PARLEY_USER_PASSWORD")?;
            parley_server::account::auth::check_password_strength(&password)
                .map_err(|e| anyhow::anyhow!("PARLEY_USER_PASSWORD: {e}"))?;
            let store = open(&cli.db).await?;
            let ws = store
                .first_workspace()
                .await?
                .context("no workspace yet: run `parley serve` once first")?;
            let hash = parley_server::account::auth::hash_password(password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = store
                .create_user(
                    ws.id,
                    NewUser {
                        email: email.into_string(),
                        name,
                        password_hash: hash,
                        role,
                        bot: false,
                    },
                    now(),
                )
                .await?;
            println!(
                "created {} ({}) as {}",
                user.email,
                user.id,
                user.role.as_str()
            );
            Ok(())
        }
        Command::Token(TokenCommand::Create { email, name }) => {
            let name =
                parse_name("name", &name).map_err(|e| anyhow::anyhow!("--name {}", e.reason))?;
            let store = open(&cli.db).await?;
            let email = email.trim().to_lowercase();
            let (principal, _) = store
                .credentials_by_email(&email)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            let secret = format!("pat_{}", parley_server::account::auth::random_token());
            store
                .create_token(
                    principal.workspace_id,
                    principal.user_id,
                    &name,
                    &parley_server::account::auth::hash_token(&secret),
                    now(),
                )
                .await?;
            println!("{secret}");
            Ok(())
        }
        Command::Simulate(args) => simulate::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Config(ConfigCommand::Example) => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::Keys(KeysCommand::Generate) => {
            println!("{}", parley_store::crypt::MasterKey::generate().encode());
            Ok(())
        }
        Command::Keys(KeysCommand::Encrypt) => {
            init_logging();
            let mut cfg = config::server_config(&cli.db, &ServeArgs::default())?;
            anyhow::ensure!(
                cfg.master_key.is_some(),
                "set PARLEY_MASTER_KEY or master_key_file to the key to encrypt with"
            );
            cfg.seal_existing = true;
            let app = parley_server::build(cfg, Arc::new(SystemClock)).await?;
            let files = parley_server::account::keys::seal_files(&app, true).await?;
            app.store.finish_sealing().await?;
            println!("encryption at rest is on: every field sealed, and {files} files");
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { grace_secs }) => {
            init_logging();
            let cfg = config::server_config(&cli.db, &ServeArgs::default())?;
            anyhow::ensure!(
                cfg.master_key.is_some(),
                "encryption at rest is off: set PARLEY_MASTER_KEY or master_key_file"
            );
            let app = parley_server::build(cfg, Arc::new(SystemClock)).await?;
            let done = parley_server::account::keys::rotate(
                &app,
                std::time::Duration::from_secs(grace_secs),
                &|line| println!("{line}"),
            )
            .await?;
            println!(
                "rotated to data key {}: {} records and {} files sealed again",
                done.key, done.records, done.files
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Rewrap { new_key_file }) => {
            let text = std::fs::read_to_string(&new_key_file)
                .with_context(|| format!("reading {}", new_key_file.display()))?;
            let new = parley_store::crypt::MasterKey::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", new_key_file.display()))?;
            let store = open(&cli.db).await?;
            let n = store.rewrap_data_keys(&new).await?;
            println!(
                "{n} data keys wrapped under the new master key: restart every server with it"
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Status) => {
            let store = open(&cli.db).await?;
            match store.keyring() {
                None => println!("encryption at rest is off (no master key configured)"),
                Some(k) => println!(
                    "encryption at rest is on: data keys {:?}, new values sealed under key {}",
                    k.ids(),
                    k.current()
                ),
            }
            Ok(())
        }
    }
}

async fn serve(db: &DbArgs, args: &ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let cfg = config::server_config(db, args)?;
    let bind = cfg.bind;
    tracing::info!(database = ?cfg.database, %bind, "starting Parley");
    if matches!(cfg.database, parley_server::Database::Postgres { .. }) {
        tracing::info!(
            "one Parley node per database: live events, ?since= replay, limits and presence are \
             kept in this process, so run no second node on this PostgreSQL database"
        );
    }
    let app = parley_server::build(cfg, Arc::new(SystemClock)).await?;
    let password = std::env::var("PARLEY_ADMIN_PASSWORD").ok();
    match parley_server::first_start(&app, args.admin_email.as_deref(), password.as_deref()).await?
    {
        FirstStart::AlreadySetUp => {}
        FirstStart::AdminCreated { email } => {
            println!("Created the workspace and its admin {email}.")
        }
        FirstStart::SetupLink(link) => {
            println!("No admin yet. Open this link once to create one:\n\n    {link}\n")
        }
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind}"))?;
    println!("Parley is listening on http://{}", listener.local_addr()?);
    let mut workers = parley_server::start_workers(&app).await?;
    if let Some(smtp) = app.config.smtp_bind {
        let l = tokio::net::TcpListener::bind(smtp)
            .await
            .with_context(|| format!("listening for email on {smtp}"))?;
        println!("Receiving email on smtp://{}", l.local_addr()?);
        workers.push(tokio::spawn(parley_server::inboxes::email::smtp::serve(
            app.clone(),
            l,
        )));
    }
    // Service managers stop with SIGTERM, Ctrl-C sends SIGINT: either ends the node cleanly,
    // removing its heartbeat so a restart is not mistaken for a second node.
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    parley_server::serve(app.clone(), listener, shutdown).await?;
    for w in workers {
        w.abort();
    }
    parley_server::jobs::nodes::leave(&app).await;
    Ok(())
}
