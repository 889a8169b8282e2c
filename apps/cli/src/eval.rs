//! `presswork eval`: the quality harness. Runs the pipeline on each topic of
//! a topics file, in this process, against the configured provider (or the
//! one named), and writes `eval.json` and `eval.md` to the output folder
//! after every topic, so an interrupted run resumes where it stopped.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use presswork_domain::config::AppConfig;
use presswork_domain::eval::{EvalTopic, Measures, Report, RowState, parse_topics};
use presswork_domain::ids::ContentTaskId;
use presswork_llm::BoxFuture;
use presswork_pipeline::eval::{self, Resume};
use presswork_pipeline::run::{Hooks, Pipeline, PipelineError};

/// Exit code when the output folder holds another run's report.
const EXIT_REFUSED: u8 = 2;
/// Exit code when the run was interrupted (Ctrl-C).
const EXIT_INTERRUPTED: u8 = 130;

pub struct Args {
    pub topics: PathBuf,
    pub provider: Option<String>,
    pub out: PathBuf,
    pub keep: bool,
    pub fresh: bool,
}

/// Progress on a terminal: a bar for the topics and one for the topic
/// running, showing its stage. Elsewhere: a plain line per stage.
struct Progress {
    bars: Option<(MultiProgress, ProgressBar)>,
    total: usize,
}

impl Progress {
    fn new(total: usize, done: usize) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let overall = multi.add(ProgressBar::new(total as u64));
            if let Ok(style) =
                ProgressStyle::with_template("topics {bar:30.cyan/blue} {pos}/{len} {elapsed}")
            {
                overall.set_style(style);
            }
            overall.set_position(done as u64);
            (multi, overall)
        });
        Self { bars, total }
    }

    fn topic(&self, n: usize, topic: &str) -> TopicProgress {
        let label = format!("[{n}/{}] {topic}", self.total);
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.add(ProgressBar::new(100));
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} {bar:30.green/white} {pos:>3}% {msg} {elapsed}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(label.clone());
            bar
        });
        if bar.is_none() {
            eprintln!("eval: {label}: started");
        }
        TopicProgress { bar, label }
    }

    /// A topic's outcome, as a line that stays above the bars.
    fn finished(&self, topic: &TopicProgress, outcome: &str) {
        let line = format!("eval: {}: {outcome}", topic.label);
        match (&topic.bar, &self.bars) {
            (Some(bar), Some((multi, overall))) => {
                bar.finish_and_clear();
                overall.inc(1);
                if multi.println(&line).is_err() {
                    eprintln!("{line}");
                }
            }
            _ => eprintln!("{line}"),
        }
    }

    /// Takes the bars away before the report is printed.
    fn end(&self) {
        if let Some((multi, overall)) = &self.bars {
            overall.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

struct TopicProgress {
    bar: Option<ProgressBar>,
    label: String,
}

/// The pipeline's hooks for one topic: its progress, and Ctrl-C.
struct EvalHooks<'a> {
    progress: &'a TopicProgress,
    interrupted: &'a AtomicBool,
}

impl Hooks for EvalHooks<'_> {
    fn progress(&self, stage: &str, percent: u8) -> BoxFuture<'_, ()> {
        match &self.progress.bar {
            Some(bar) => {
                bar.set_position(u64::from(percent));
                bar.set_message(stage.to_owned());
            }
            None => eprintln!("eval: {}: {stage} ({percent}%)", self.progress.label),
        }
        Box::pin(async {})
    }

    fn cancelled(&self) -> BoxFuture<'_, bool> {
        let stop = self.interrupted.load(Ordering::SeqCst);
        Box::pin(async move { stop })
    }
}

fn summary(m: &Measures) -> String {
    let score = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"));
    format!(
        "done: judge {} → {}, support {}, {} citations, {} / {} words, {} tokens",
        score(m.overall_before()),
        score(m.overall_after()),
        m.support_rate.map_or_else(
            || "–".to_owned(),
            |r| format!("{:.0}%", (r * 100.0).round())
        ),
        m.citations,
        m.words,
        m.target_words,
        m.total_tokens
    )
}

fn write_report(out: &Path, report: &Report) -> anyhow::Result<()> {
    // Written beside and renamed over: a crash mid-write leaves the last
    // whole report to resume from.
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = out.join(name);
        let tmp = out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("could not write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("could not write {}", path.display()))
    };
    let json = report
        .to_json()
        .context("could not write the report as JSON")?;
    write("eval.json", &json)?;
    write("eval.md", &report.markdown())
}

fn read_report(path: &Path) -> anyhow::Result<Option<Report>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a report of `presswork eval`", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// The pipeline of this configuration, held to `provider` when one is
/// named, with Serper and Pexels keys from the settings as the worker has.
async fn pipeline(config: &AppConfig, provider: Option<&str>) -> anyhow::Result<Pipeline> {
    let mut config = config.clone();
    if let Some(p) = provider {
        config.llm = config
            .llm
            .held_to(p)
            .map_err(|e| anyhow!("--provider {p}: {}", e.message))?;
    }
    let pool = presswork_db::build_pool(&config.database)?;
    presswork_db::ping(&pool)
        .await
        .context("could not connect to the database (check DATABASE_URL)")?;
    let pipeline = presswork_pipeline::pipeline(&config, pool.clone(), None)?;
    if pipeline.router.provider_names().is_empty() {
        bail!(
            "{}: set its base URL or API key (docs/DEPLOYMENT.md, `llm.*`)",
            provider.map_or_else(
                || "no LLM provider is configured".to_owned(),
                |p| format!("provider {p} is not enabled or not configured")
            )
        );
    }
    if !pipeline.lacks_service_keys() {
        return Ok(pipeline);
    }
    let cipher =
        presswork_auth::crypto::SecretBox::from_config(config.auth.encryption_key.as_ref())
            .map_err(anyhow::Error::msg)?;
    let store = presswork_auth::settings::SettingsStore::new(pool, cipher);
    Ok(pipeline.with_service_keys(
        &config.integrations,
        store.api_key(presswork_pipeline::SERPER_KEY_SETTING).await,
        store.api_key(presswork_pipeline::PEXELS_KEY_SETTING).await,
    ))
}

/// The report to go on with: the one in the folder when it is of the same
/// run, a new one otherwise (with `--fresh`, after removing what the old
/// one kept).
async fn starting_report(
    args: &Args,
    p: &Pipeline,
    topics: Vec<EvalTopic>,
) -> anyhow::Result<Result<Report, String>> {
    let path = args.out.join("eval.json");
    let existing = read_report(&path)?;
    let new = || {
        Report::new(
            args.topics.display().to_string(),
            args.provider.clone(),
            presswork_pipeline::prompts::VERSION,
            topics.clone(),
            chrono::Utc::now(),
        )
    };
    let Some(old) = existing else {
        return Ok(Ok(new()));
    };
    if args.fresh {
        let mut conn = p.pool.get().await?;
        for id in old.rows.iter().filter_map(|r| r.content_task_id) {
            eval::discard(&mut conn, ContentTaskId::from(id)).await?;
        }
        return Ok(Ok(new()));
    }
    if let Err(why) = old.resumable_by(&topics, args.provider.as_deref()) {
        return Ok(Err(format!(
            "{} holds another run's report ({why}): name another --out, or pass --fresh to start over there",
            path.display()
        )));
    }
    Ok(Ok(old))
}

pub async fn run(config: &AppConfig, args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.topics)
        .with_context(|| format!("could not read {}", args.topics.display()))?;
    let topics = parse_topics(&text)
        .map_err(|e| anyhow!("{}: {}: {}", args.topics.display(), e.field, e.message))?;
    let p = pipeline(config, args.provider.as_deref()).await?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("could not create {}", args.out.display()))?;
    let mut report = match starting_report(&args, &p, topics).await? {
        Ok(r) => r,
        Err(refusal) => {
            eprintln!("presswork: {refusal}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    if report.complete() && report.finished_at.is_some() {
        eprintln!(
            "eval: {} is a complete run; nothing to do (--fresh runs it again)",
            args.out.join("eval.json").display()
        );
        print!("{}", report.markdown());
        return Ok(ExitCode::SUCCESS);
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "eval: interrupted; stopping after the current stage (Ctrl-C again stops now)"
                );
                flag.store(true, Ordering::SeqCst);
            }
            // A call may take minutes: a second Ctrl-C stops at once. Every
            // finished stage is stored, so the next run resumes from it.
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("eval: stopped; the same command resumes the run");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
    }
    let done = report
        .rows
        .iter()
        .filter(|r| r.state == RowState::Done)
        .count();
    let progress = Progress::new(report.rows.len(), done);
    write_report(&args.out, &report)?;
    for i in 0..report.rows.len() {
        if report.rows[i].state == RowState::Done {
            continue;
        }
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        let topic = progress.topic(i + 1, &report.rows[i].topic.topic);
        let outcome = generate(&p, &mut report, i, &topic, &args, &interrupted).await;
        let row = &mut report.rows[i];
        row.wall_ms = row
            .wall_ms
            .saturating_add(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        match outcome {
            Ok(Some(m)) => {
                progress.finished(&topic, &summary(&m));
                row.state = RowState::Done;
                row.error = None;
                row.measures = Some(m);
            }
            Ok(None) => progress.finished(&topic, "interrupted"),
            Err(e) => {
                let message = format!("{e:#}");
                progress.finished(&topic, &format!("failed: {message}"));
                row.state = RowState::Failed;
                row.error = Some(message);
            }
        }
        write_report(&args.out, &report)?;
    }
    progress.end();
    if report.complete() {
        report.finished_at = Some(chrono::Utc::now());
        if !args.keep {
            let mut conn = p.pool.get().await?;
            for row in &mut report.rows {
                if let Some(id) = row.content_task_id.take() {
                    eval::discard(&mut conn, ContentTaskId::from(id)).await?;
                }
            }
        }
        write_report(&args.out, &report)?;
    }
    print!("{}", report.markdown());
    eprintln!(
        "eval: wrote {} and {}",
        args.out.join("eval.json").display(),
        args.out.join("eval.md").display()
    );
    if interrupted.load(Ordering::SeqCst) {
        eprintln!("eval: interrupted; the same command resumes the run");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if report.complete() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "eval: {} of {} topics failed; the same command tries them again from their last finished stage",
        report.totals().failed,
        report.rows.len()
    );
    Ok(ExitCode::FAILURE)
}

/// Generates row `i`'s topic, or resumes it: `None` when interrupted.
async fn generate(
    p: &Pipeline,
    report: &mut Report,
    i: usize,
    topic: &TopicProgress,
    args: &Args,
    interrupted: &AtomicBool,
) -> anyhow::Result<Option<Measures>> {
    let mut conn = p.pool.get().await?;
    let row = &mut report.rows[i];
    let existing = match row.content_task_id.map(ContentTaskId::from) {
        Some(id) => Some((id, eval::resume(&mut conn, id).await?)),
        None => None,
    };
    let (id, state) = match existing {
        Some((id, state)) if state != Resume::Gone => (id, state),
        _ => {
            let spec = row
                .topic
                .brief()
                .spec()
                .map_err(|e| anyhow!("{}: {}", e.field, e.message))?;
            (eval::create(&mut conn, &spec).await?, Resume::Continue)
        }
    };
    row.content_task_id = Some(id.uuid());
    row.state = RowState::Running;
    write_report(&args.out, report)?;
    drop(conn);
    if state == Resume::Continue {
        let hooks = EvalHooks {
            progress: topic,
            interrupted,
        };
        match p.run(id, &hooks).await {
            Ok(_) => {}
            Err(PipelineError::Cancelled) => return Ok(None),
            Err(e) => {
                let message = e.to_string();
                let mut conn = p.pool.get().await?;
                eval::fail(&mut conn, id, &message).await?;
                bail!(message);
            }
        }
    }
    let mut conn = p.pool.get().await?;
    eval::measure(&mut conn, id)
        .await?
        .map(Some)
        .ok_or_else(|| anyhow!("its content task {id} was removed while it ran"))
}
