use std::process::ExitCode;

use anyhow::Context;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use presswork_db::admin::{self, CleanupError, TableAudit};
use presswork_domain::config::AppConfig;
use secrecy::ExposeSecret;

/// Exit code when cleanup refuses to drop tables holding rows.
const EXIT_REFUSED: u8 = 2;

async fn connect(config: &AppConfig) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(config.database.url.expose_secret())
        .await
        .context("could not connect to the database (check DATABASE_URL)")
}

pub async fn migrate(config: &AppConfig, status_only: bool) -> anyhow::Result<ExitCode> {
    let url = config.database.url.expose_secret();
    if status_only {
        for m in presswork_db::migrations::status(url).await? {
            println!("[{}] {}", if m.applied { "X" } else { " " }, m.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let applied = presswork_db::migrations::run_pending(url).await?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for v in &applied {
            println!("applied {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn audit(config: &AppConfig, json: bool) -> anyhow::Result<ExitCode> {
    let mut conn = connect(config).await?;
    let rows = admin::audit(&mut conn).await?;
    print_audit(&rows, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn cleanup(
    config: &AppConfig,
    force: bool,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut conn = connect(config).await?;
    let present = admin::legacy_tables_present(&mut conn).await?;
    if present.is_empty() {
        eprintln!("no legacy tables present; nothing to do");
    } else if dry_run {
        eprintln!("plan (dry run, nothing changed):");
        for (name, rows) in &present {
            let note = if *rows > 0 && !force {
                " (holds rows: refused without --force)"
            } else {
                ""
            };
            eprintln!("  DROP TABLE {name}  -- {rows} rows{note}");
        }
    } else {
        match admin::drop_legacy_tables(&mut conn, force).await {
            Ok(dropped) if dropped.is_empty() => {}
            Ok(dropped) => {
                for name in &dropped {
                    eprintln!("dropped {name}");
                }
                let ev = presswork_db::audit::Event::new(
                    presswork_domain::status::AuditAction::LegacyCleanup,
                    "database",
                    "legacy_tables",
                )
                .with(serde_json::json!({ "dropped": dropped, "force": force }));
                presswork_db::audit::record(
                    &mut conn,
                    &presswork_db::audit::Context::system("cli"),
                    ev,
                )
                .await?;
            }
            Err(CleanupError::NotEmpty { table, rows }) => {
                eprintln!(
                    "presswork: refusing to drop legacy table {table}: it holds {rows} rows; nothing was dropped (use --force to drop it anyway)"
                );
                return Ok(ExitCode::from(EXIT_REFUSED));
            }
            Err(CleanupError::Db(e)) => return Err(e.into()),
        }
    }
    let rows = admin::audit(&mut conn).await?;
    print_audit(&rows, json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn render_html(config: &AppConfig, all: bool) -> anyhow::Result<ExitCode> {
    let mut conn = connect(config).await?;
    let rendered = presswork_db::cms::render_stored_html(&mut conn, all, 500).await?;
    println!("rendered the HTML of {rendered} posts");
    Ok(ExitCode::SUCCESS)
}

pub async fn seed_sample(config: &AppConfig) -> anyhow::Result<ExitCode> {
    let mut conn = connect(config).await?;
    let report = presswork_db::seed::sample(&mut conn).await?;
    println!(
        "sample data: {} authors, {} categories, {} tags, {} posts inserted ({} already present)",
        report.authors, report.categories, report.tags, report.posts, report.already_present
    );
    Ok(ExitCode::SUCCESS)
}

fn print_audit(rows: &[TableAudit], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!("{:<32} {:>12} {:>12}  status", "table", "rows", "size");
    for r in rows {
        println!(
            "{:<32} {:>12} {:>12}  {}",
            r.name,
            r.rows,
            human_bytes(r.total_bytes),
            serde_json::to_value(r.status)?.as_str().unwrap_or("?")
        );
    }
    Ok(())
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<secrecy::SecretString> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("could not read the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on stdin");
        return Ok(password.into());
    }
    let first = rpassword::prompt_password("Password: ")
        .context("could not read the password (use --password-stdin without a terminal)")?;
    let second =
        rpassword::prompt_password("Repeat password: ").context("could not read the password")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(first.into())
}

pub async fn create_admin(
    config: &AppConfig,
    email: &str,
    username: &str,
    password_stdin: bool,
) -> anyhow::Result<ExitCode> {
    let password = read_password(password_stdin)?;
    let pool = presswork_db::build_pool(&config.database)?;
    let created = async {
        let account = presswork_auth::users::NewAccount::prepare(
            email,
            username,
            password,
            &["admin".to_owned()],
            config.auth.min_password_score,
        )
        .await?;
        let mut conn = pool
            .get()
            .await
            .map_err(|e| presswork_auth::AuthError::Db(e.into()))?;
        let user = presswork_auth::users::create(&mut conn, &account).await?;
        let ev = presswork_db::audit::Event::new(
            presswork_domain::status::AuditAction::UserCreated,
            "user",
            user.id,
        )
        .with(serde_json::json!({ "username": user.username, "roles": user.roles, "via": "cli" }));
        presswork_db::audit::record(&mut conn, &presswork_db::audit::Context::system("cli"), ev)
            .await
            .map_err(|e| presswork_auth::AuthError::Db(e.into()))?;
        Ok::<_, presswork_auth::AuthError>(user)
    }
    .await;
    match created {
        Ok(user) => {
            println!(
                "created administrator {} <{}> ({})",
                user.username, user.email, user.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("presswork: {e}");
            Ok(ExitCode::from(
                if matches!(
                    e,
                    presswork_auth::AuthError::Validation(_)
                        | presswork_auth::AuthError::Conflict { .. }
                ) {
                    2
                } else {
                    1
                },
            ))
        }
    }
}
