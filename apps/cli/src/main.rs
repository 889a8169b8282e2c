//! `presswork`, the admin CLI: migrations, database audit and cleanup, sample
//! data, and the quality harness.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod eval;

#[derive(Debug, Parser)]
#[command(name = "presswork", version, about = "Presswork admin CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations.
    Migrate {
        /// List every migration and whether it is applied, change nothing.
        #[arg(long)]
        status: bool,
    },
    /// Inspect or tidy the database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Manage accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Load data.
    Seed {
        /// Idempotent sample authors, categories, tags and posts.
        #[arg(long, required = true)]
        sample: bool,
    },
    /// The quality harness: run the pipeline on each topic of a file and
    /// write a report (eval.json, eval.md) of scores, grounding, length,
    /// tokens, cost and time. Run again to resume an interrupted run.
    Eval {
        /// TOML, one `[[topic]]` table per topic (see eval/topics.toml).
        #[arg(long)]
        topics: std::path::PathBuf,
        /// Hold the run to one provider: `openai`, `anthropic:claude-haiku-4-5`, ...
        #[arg(long)]
        provider: Option<String>,
        /// Where the report goes (and where a run resumes from).
        #[arg(long, default_value = "eval-report")]
        out: std::path::PathBuf,
        /// Keep the generated drafts in the review queue afterwards.
        #[arg(long)]
        keep: bool,
        /// Start over, even where the folder holds a run to resume.
        #[arg(long)]
        fresh: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (password from a prompt, or stdin with --password-stdin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// One row per table: name, rows, size and status (active, empty, legacy, unknown).
    Audit {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Drop the seven legacy tables of older deployments, in one transaction.
    Cleanup {
        /// Drop legacy tables even when they hold rows.
        #[arg(long)]
        force: bool,
        /// Print the plan, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the audit afterwards as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store the rendered HTML of posts that lack it (written by hand or
    /// before it was stored); with --all, re-render every post (after an
    /// upgrade that changes the renderer or its sanitising rules).
    RenderHtml {
        #[arg(long)]
        all: bool,
    },
}

/// Where `scripts/dev.sh` writes its database's URL.
const DEV_DATABASE_FILE: &str = ".data/dev-database-url";

/// The database of `scripts/dev.sh` in this checkout, when nothing else names
/// one: no `DATABASE_URL`, no `PRESSWORK__DATABASE__URL`, no configuration
/// file.
fn dev_database(env: &std::collections::HashMap<String, String>) -> Option<String> {
    let named = [
        "DATABASE_URL",
        "PRESSWORK__DATABASE__URL",
        "PRESSWORK_CONFIG",
    ]
    .iter()
    .any(|k| env.get(*k).is_some_and(|v| !v.is_empty()));
    if named || std::path::Path::new("presswork.toml").exists() {
        return None;
    }
    let url = std::fs::read_to_string(DEV_DATABASE_FILE).ok()?;
    let url = url.trim();
    (!url.is_empty()).then(|| url.to_owned())
}

/// A database URL without its password, to say which database is used.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let dev = dev_database(&env);
    if let Some(url) = &dev {
        env.insert("DATABASE_URL".to_owned(), url.clone());
    }
    let config = match presswork_domain::runtime::load_from(&env, "presswork-cli") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("presswork: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "presswork: database {}{}",
        redacted(secrecy::ExposeSecret::expose_secret(&config.database.url)),
        if dev.is_some() {
            format!(" (scripts/dev.sh's, from {DEV_DATABASE_FILE})")
        } else {
            String::new()
        }
    );
    // Logs go to stderr so --json output stays clean.
    presswork_domain::runtime::init_telemetry(config.log.format, "warn");
    let outcome = match cli.command {
        Command::Migrate { status } => commands::migrate(&config, status).await,
        Command::Db {
            command: DbCommand::Audit { json },
        } => commands::audit(&config, json).await,
        Command::Db {
            command:
                DbCommand::Cleanup {
                    force,
                    dry_run,
                    json,
                },
        } => commands::cleanup(&config, force, dry_run, json).await,
        Command::Db {
            command: DbCommand::RenderHtml { all },
        } => commands::render_html(&config, all).await,
        Command::Seed { sample: _ } => commands::seed_sample(&config).await,
        Command::Eval {
            topics,
            provider,
            out,
            keep,
            fresh,
        } => {
            let args = eval::Args {
                topics,
                provider,
                out,
                keep,
                fresh,
            };
            eval::run(&config, args).await
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    username,
                    password_stdin,
                },
        } => commands::create_admin(&config, &email, &username, password_stdin).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("presswork: {e:#}");
            ExitCode::FAILURE
        }
    }
}
