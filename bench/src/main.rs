//! `kafka-utils-bench run` measures everything (see `scripts/bench.sh`, which starts the
//! broker and the virtualenv); `kafka-utils-bench report results.json` rewrites
//! `BENCHMARKS.md` and the chart from a run's results; `kafka-utils-bench client JOB` is one
//! Rust client (the orchestrator starts it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_utils_bench::clients::{self, BoxError};
use kafka_utils_bench::job::{CLIENTS, Job};
use kafka_utils_bench::plan::{Config, run_all};
use kafka_utils_bench::report::{Results, markdown};
use kafka_utils_bench::{codecs, machine, scale};

const USAGE: &str = "usage: kafka-utils-bench run | report RESULTS_JSON | client JOB_JSON";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("client") if args.len() == 2 => client(&args[1]),
        Some("run") => run(),
        Some("report") if args.len() == 2 => report(Path::new(&args[1])),
        _ => Err(USAGE.into()),
    };
    if let Err(error) = result {
        eprintln!("kafka-utils-bench: {error}");
        std::process::exit(1);
    }
}

fn client(text: &str) -> Result<(), BoxError> {
    let job: Job = serde_json::from_str(text).map_err(|e| format!("the job `{text}`: {e}"))?;
    let outcome = clients::run(&job)?;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A number from `name`, or `default`; an error naming the variable if it is not one.
fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, BoxError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}=`{v}` is not a number").into()),
    }
}

fn config() -> Result<Config, BoxError> {
    let bootstrap = var("KAFKA_BOOTSTRAP_SERVERS")
        .ok_or("set KAFKA_BOOTSTRAP_SERVERS (scripts/bench.sh starts a broker and sets it)")?;
    let quick = var("BENCH_QUICK").is_some_and(|v| v == "1");
    let rates = match var("BENCH_RATES") {
        None => vec![1000, 10_000],
        Some(v) => v
            .split(',')
            .map(|r| r.trim().parse::<u64>().ok().filter(|r| *r > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                format!("BENCH_RATES=`{v}` is not a list of msgs/s such as 1000,10000")
            })?,
    };
    let clients: Vec<String> = match var("BENCH_CLIENTS") {
        None => CLIENTS.iter().map(|c| c.to_string()).collect(),
        Some(v) => v.split(',').map(|c| c.trim().to_string()).collect(),
    };
    if let Some(unknown) = clients.iter().find(|c| !CLIENTS.contains(&c.as_str())) {
        return Err(format!(
            "BENCH_CLIENTS names `{unknown}`; the clients are {}",
            CLIENTS.join(", ")
        )
        .into());
    }
    Ok(Config {
        bootstrap,
        reps: number("BENCH_REPS", if quick { 1 } else { 5 })?.max(1),
        seconds: number("BENCH_SECONDS", if quick { 1.0 } else { 4.0 })?,
        latency_seconds: number("BENCH_LATENCY_SECONDS", if quick { 2.0 } else { 10.0 })?,
        latency_warmup: number("BENCH_LATENCY_WARMUP", if quick { 2.0 } else { 3.0 })?,
        rates,
        clients,
        fill_scale: number("BENCH_FILL_SCALE", if quick { 0.02 } else { 1.0 })?,
        python: var("BENCH_PYTHON"),
        java_classpath: var("BENCH_JAVA_CLASSPATH"),
    })
}

/// Where the results go: `BENCH_OUT`, or `bench/results` in the repository.
fn out_dir() -> PathBuf {
    var("BENCH_OUT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
        PathBuf::from,
    )
}

fn run() -> Result<(), BoxError> {
    let config = config()?;
    let started = Instant::now();
    let mut machine = machine::describe();
    if let Some(python) = &config.python {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/clients.py");
        let out = Command::new(python).arg(&script).arg("versions").output()?;
        let versions: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("the Python clients' versions: {e}"))?;
        machine.extend(versions);
    }
    eprintln!("bench: JSON libraries");
    let codecs =
        codecs::measure(&[1024, 10_240], Duration::from_millis(600)).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new()?;
    let runs = runtime.block_on(run_all(&config))?;
    // A failure here is reported with the rest of the run, not instead of it.
    let (admin, admin_error) = match var("BENCH_SCALE_BIN") {
        Some(bin) => {
            eprintln!("bench: the admin at scale ({bin})");
            match scale::measure(&bin, &config.bootstrap) {
                Ok(scale) => (Some(scale), None),
                Err(e) => {
                    eprintln!("bench: the admin at scale failed: {e}");
                    (None, Some(e.to_string()))
                }
            }
        }
        None => (None, None),
    };
    let results = Results {
        started: var("BENCH_DATE").unwrap_or_else(|| "an unrecorded date".into()),
        seconds: started.elapsed().as_secs_f64(),
        machine,
        config,
        codecs,
        runs,
        admin,
        admin_error,
    };
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    eprintln!("bench: results in {}", path.display());
    report(&path)
}

fn report(path: &Path) -> Result<(), BoxError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let results: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let chart = dir.join("chart.png");
    if let Some(python) = var("BENCH_PYTHON").or_else(|| results.config.python.clone()) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/plot.py");
        let status = Command::new(python)
            .arg(script)
            .arg(path)
            .arg(&chart)
            .status()?;
        if !status.success() {
            return Err(format!("plotting {} failed: {status}", chart.display()).into());
        }
    }
    let relative = chart.strip_prefix(&repo).unwrap_or(&chart);
    let document = markdown(&results, &relative.to_string_lossy());
    let target = var("BENCH_REPORT").map_or_else(|| repo.join("BENCHMARKS.md"), PathBuf::from);
    std::fs::write(&target, document)?;
    eprintln!("bench: wrote {} and {}", target.display(), chart.display());
    Ok(())
}
