//! The admin as a command line, for a service to embed in one line:
//!
//! ```no_run
//! # use kafka_utils::prelude::*;
//! # #[derive(KafkaTopics)] pub enum Topics { #[topic(name = "t", message = String)] T }
//! # #[derive(KafkaUsers)] pub enum Users { #[user(name = "u")] U }
//! # permissions! { Users::U => { Topics::T => [Read] } }
//! fn main() -> std::process::ExitCode {
//!     kafka_utils::admin::cli::main(&TOPOLOGY)
//! }
//! ```
//!
//! ```text
//! plan     [--json] [--allow-acl-removal]   show what apply would change
//! apply    [--dry-run] [--json] [--allow-acl-removal]
//! topology [--json]                          the declared topics and the ACL table
//! asyncapi [--yaml] [--title T] [--api-version V]   the AsyncAPI 3.0 document
//! schema   [TOPIC]                           the JSON Schema of messages and keys
//! ```
//!
//! Settings come from the environment and `.env` (see [`crate::settings`]). Exit codes, for
//! CI pipelines: 0 no changes (or applied), 2 changes pending (`plan`, `apply --dry-run`),
//! 1 an error. Differences Kafka cannot apply (a partition count to shrink, another
//! replication factor) count as pending.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::{ApplyOptions, KafkaAdmin, Plan};
use crate::Error;
use crate::settings::Settings;
use crate::topology::Topology;

/// The usage text.
pub const USAGE: &str = "\
usage: <service> <command> [options]

commands:
  plan       show what `apply` would change on the cluster
  apply      create topics, add partitions, set configs and create ACLs as declared
  topology   print the declared topics and the ACLs the grants imply
  asyncapi   print the AsyncAPI 3.0 document of the topology (servers from the settings)
  schema     print the JSON Schema (2020-12) of each topic's message and key, or of TOPIC's

options:
  --json               print JSON instead of text
  --dry-run            (apply) only show the plan
  --allow-acl-removal  (plan, apply) also remove ACLs of declared users that no grant implies
  --yaml               (asyncapi) YAML instead of JSON
  --title T            (asyncapi) info.title (default: Kafka topology)
  --api-version V      (asyncapi) info.version (default: 1.0.0)

exit codes: 0 no changes or applied, 2 changes pending (plan, apply --dry-run), 1 error
settings: KAFKA_BOOTSTRAP_SERVERS and the other KAFKA_* variables, from the environment or .env
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// What to do.
    pub action: Action,
    /// `--json`.
    pub json: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--allow-acl-removal`.
    pub allow_acl_removal: bool,
    /// `--yaml` (asyncapi).
    pub yaml: bool,
    /// `--title` (asyncapi).
    pub title: Option<String>,
    /// `--api-version` (asyncapi).
    pub api_version: Option<String>,
    /// The topic (schema).
    pub topic: Option<String>,
}

/// The subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `plan`
    Plan,
    /// `apply`
    Apply,
    /// `topology`
    Topology,
    /// `asyncapi`
    Asyncapi,
    /// `schema`
    Schema,
    /// `help`, `--help`, `-h`
    Help,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Plan => "plan",
            Action::Apply => "apply",
            Action::Topology => "topology",
            Action::Asyncapi => "asyncapi",
            Action::Schema => "schema",
            Action::Help => "help",
        }
    }
}

/// What a run ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change, or applied: exit code 0.
    Clean,
    /// Changes pending: exit code 2.
    Pending,
}

impl Command {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use kafka_utils::admin::cli::{Action, Command};
    /// let command = Command::parse(["apply", "--dry-run"]).unwrap();
    /// assert_eq!((command.action, command.dry_run), (Action::Apply, true));
    /// let err = Command::parse(["aply"]).unwrap_err().to_string();
    /// assert!(err.contains("`aply`") && err.contains("plan, apply, topology"));
    /// ```
    pub fn parse<I, S>(args: I) -> Result<Command, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut args = args.into_iter();
        let usage = |message: String| Error::Admin {
            what: "the command line".into(),
            message,
        };
        let action = match args.next().as_ref().map(|a| a.as_ref()) {
            Some("plan") => Action::Plan,
            Some("apply") => Action::Apply,
            Some("topology") => Action::Topology,
            Some("asyncapi") => Action::Asyncapi,
            Some("schema") => Action::Schema,
            Some("help" | "--help" | "-h") | None => Action::Help,
            Some(other) => {
                return Err(usage(format!(
                    "`{other}` is not a command; the commands are plan, apply, topology, asyncapi, schema, help"
                )));
            }
        };
        let mut command = Command {
            action,
            json: false,
            dry_run: false,
            allow_acl_removal: false,
            yaml: false,
            title: None,
            api_version: None,
            topic: None,
        };
        while let Some(arg) = args.next() {
            let mut value = |option: &str| {
                args.next()
                    .map(|v| v.as_ref().to_string())
                    .ok_or_else(|| usage(format!("`{option}` needs a value; see --help")))
            };
            match (arg.as_ref(), action) {
                ("--json", _) => command.json = true,
                ("--dry-run", Action::Apply) => command.dry_run = true,
                ("--allow-acl-removal", Action::Plan | Action::Apply) => {
                    command.allow_acl_removal = true
                }
                ("--yaml", Action::Asyncapi) => command.yaml = true,
                ("--title", Action::Asyncapi) => command.title = Some(value("--title")?),
                ("--api-version", Action::Asyncapi) => {
                    command.api_version = Some(value("--api-version")?)
                }
                ("--help" | "-h", _) => command.action = Action::Help,
                (topic, Action::Schema) if !topic.starts_with('-') && command.topic.is_none() => {
                    command.topic = Some(topic.to_string())
                }
                (other, _) => {
                    return Err(usage(format!(
                        "`{other}` is not an option of `{}`; see --help",
                        action.name()
                    )));
                }
            }
        }
        Ok(command)
    }
}

fn print_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Runtime(e.to_string()))?;
    writeln!(out, "{text}").map_err(|e| Error::Runtime(format!("writing the output: {e}")))
}

fn print(out: &mut dyn Write, text: impl std::fmt::Display) -> Result<(), Error> {
    write!(out, "{text}").map_err(|e| Error::Runtime(format!("writing the output: {e}")))
}

fn pending(plan: &Plan, command: &Command) -> Outcome {
    if plan.has_changes(command.allow_acl_removal) || !plan.unfixable.is_empty() {
        Outcome::Pending
    } else {
        Outcome::Clean
    }
}

/// Runs `command` for `topology` with `settings`, writing to `out`.
pub async fn run(
    topology: &'static Topology,
    command: Command,
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    match command.action {
        Action::Help => {
            print(out, USAGE)?;
            Ok(Outcome::Clean)
        }
        Action::Topology => {
            if command.json {
                print_json(out, &super::topology_view(topology))?;
            } else {
                print(out, super::TopologyTable(topology))?;
            }
            Ok(Outcome::Clean)
        }
        Action::Asyncapi => {
            let info = crate::asyncapi::Info::new(
                command.title.as_deref().unwrap_or("Kafka topology"),
                command.api_version.as_deref().unwrap_or("1.0.0"),
            );
            let document = crate::asyncapi::document(topology, settings, &info);
            if command.yaml {
                print(out, crate::asyncapi::to_yaml(&document)?)?;
            } else {
                print_json(out, &document)?;
            }
            Ok(Outcome::Clean)
        }
        Action::Schema => {
            print_json(out, &schemas(topology, command.topic.as_deref())?)?;
            Ok(Outcome::Clean)
        }
        Action::Plan | Action::Apply => {
            let admin = KafkaAdmin::new(settings, topology)?;
            let plan = admin.plan().await?;
            if command.action == Action::Plan || command.dry_run {
                if command.json {
                    print_json(out, &plan)?;
                } else {
                    print(out, &plan)?;
                }
                return Ok(pending(&plan, &command));
            }
            let options = ApplyOptions {
                allow_acl_removal: command.allow_acl_removal,
            };
            let applied = admin.apply(&plan, options).await?;
            if command.json {
                print_json(
                    out,
                    &serde_json::json!({ "plan": plan, "applied": applied }),
                )?;
            } else {
                print(out, &applied)?;
            }
            admin.disconnect();
            Ok(Outcome::Clean)
        }
    }
}

/// `{"message": <schema>, "key": <schema>}` of `topic`, or of every topic by name.
fn schemas(topology: &Topology, topic: Option<&str>) -> Result<serde_json::Value, Error> {
    use crate::schema::{Draft, key_schema, message_schema};
    let of = |spec| {
        serde_json::json!({
            "message": message_schema(spec, Draft::Draft2020_12),
            "key": key_schema(spec, Draft::Draft2020_12),
        })
    };
    match topic {
        Some(name) => topology.topic(name).map(of).ok_or_else(|| {
            let declared: Vec<&str> = topology.topics().map(|t| t.name).collect();
            Error::Admin {
                what: "the command line".into(),
                message: format!(
                    "`{name}` is not a declared topic; the topics are {}",
                    declared.join(", ")
                ),
            }
        }),
        None => Ok(serde_json::Value::Object(
            topology
                .topics()
                .map(|t| (t.name.to_string(), of(t)))
                .collect(),
        )),
    }
}

/// Parses the process's arguments, reads the settings, runs, and returns the exit code;
/// errors go to stderr. Builds its own async runtime: from async code, use [`run`].
pub fn main(topology: &'static Topology) -> ExitCode {
    let outcome = Command::parse(std::env::args().skip(1)).and_then(|command| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(format!("starting the async runtime: {e}")))?;
        let settings = if matches!(
            command.action,
            Action::Help | Action::Topology | Action::Schema
        ) {
            Settings::default()
        } else {
            Settings::from_env()?
        };
        runtime.block_on(run(topology, command, &settings, &mut std::io::stdout()))
    });
    match outcome {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Pending) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
