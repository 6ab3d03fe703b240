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
//! completions SHELL                          a completion script (bash, zsh, fish, ...)
//! dlq list TOPIC [--reason R] [--since TIME] [--json]    the dead letters of TOPIC
//! dlq show TOPIC OFFSET [--partition P] [--json]         one, whole
//! dlq replay TOPIC [--reason R] [--limit N] [--dry-run] [--json]
//!                                            back to the topic each came from
//! ```
//!
//! The command line is parsed by [clap](https://docs.rs/clap): `--help` (and `help
//! <command>`) print each command's options, a mistake is named with a suggestion, and
//! `completions` prints a script for the shell.
//!
//! Settings come from the environment and `.env` (see [`crate::settings`]). Exit codes, for
//! CI pipelines: 0 no changes (or applied), 2 changes pending (`plan`, `apply --dry-run`),
//! 1 an error. Differences Kafka cannot apply (a partition count to shrink, another
//! replication factor) count as pending.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

pub use super::cli_dlq::DlqCommand;
use super::{ApplyOptions, KafkaAdmin, Plan};
use crate::Error;
use crate::settings::Settings;
use crate::topology::Topology;

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
    /// The shell (completions).
    pub shell: Option<clap_complete::Shell>,
    /// The help asked for (help): of the program, or of one command (`help apply`,
    /// `apply --help`).
    pub help: Option<String>,
    /// What `dlq` does.
    pub dlq: Option<DlqCommand>,
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
    /// `completions`
    Completions,
    /// `dlq list`, `dlq show`, `dlq replay`
    Dlq,
    /// `help`, `--help`, `-h`
    Help,
}

/// The command line as clap reads it.
#[derive(Debug, clap::Parser)]
#[command(
    about = "The service's Kafka topology: plan and apply it on the cluster, print it, its AsyncAPI document and its schemas.",
    disable_version_flag = true,
    after_help = "exit codes: 0 no changes or applied, 2 changes pending (plan, apply --dry-run), 1 error\n\
                  settings: KAFKA_BOOTSTRAP_SERVERS and the other KAFKA_* variables, from the environment or .env"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Show what `apply` would change on the cluster.
    Plan {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also remove ACLs of declared users that no grant implies.
        #[arg(long)]
        allow_acl_removal: bool,
    },
    /// Create topics, add partitions, set configs and create ACLs as declared.
    Apply {
        /// Only show the plan.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also remove ACLs of declared users that no grant implies.
        #[arg(long)]
        allow_acl_removal: bool,
    },
    /// Print the declared topics and the ACLs the grants imply.
    Topology {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the AsyncAPI 3.0 document of the topology (servers from the settings).
    Asyncapi {
        /// YAML instead of JSON.
        #[arg(long)]
        yaml: bool,
        /// info.title [default: Kafka topology].
        #[arg(long, value_name = "T")]
        title: Option<String>,
        /// info.version [default: 1.0.0].
        #[arg(long, value_name = "V")]
        api_version: Option<String>,
        /// Accepted for symmetry: the document is JSON unless --yaml.
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Print the JSON Schema (2020-12) of each topic's message and key, or of TOPIC's.
    Schema {
        /// A declared topic's name.
        topic: Option<String>,
        /// Accepted for symmetry: the schemas are JSON.
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Dead letters: list them, show one, replay them to the topic they came from.
    Dlq {
        #[command(subcommand)]
        command: super::cli_dlq::DlqSub,
    },
}

/// The name the command line is known by: the program's file name.
fn program() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg| {
            std::path::Path::new(&arg)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "service".into())
}

/// clap's command, named as the program is.
fn clap_command() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command().name(program())
}

/// The help text (what `--help` prints).
pub fn usage() -> String {
    clap_command().render_help().to_string()
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
        use clap::FromArgMatches as _;
        let program = program();
        let args = std::iter::once(program.clone())
            .chain(args.into_iter().map(|arg| arg.as_ref().to_string()));
        let parsed = clap_command()
            .try_get_matches_from(args)
            .and_then(|matches| Cli::from_arg_matches(&matches));
        let cli = match parsed {
            Ok(cli) => cli,
            Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelp => {
                return Ok(Command {
                    help: Some(error.render().to_string()),
                    ..Command::of(Action::Help)
                });
            }
            Err(error) => return Err(usage_error(&error)),
        };
        let Some(sub) = cli.command else {
            return Ok(Command::of(Action::Help));
        };
        Ok(match sub {
            Sub::Plan {
                json,
                allow_acl_removal,
            } => Command {
                json,
                allow_acl_removal,
                ..Command::of(Action::Plan)
            },
            Sub::Apply {
                dry_run,
                json,
                allow_acl_removal,
            } => Command {
                dry_run,
                json,
                allow_acl_removal,
                ..Command::of(Action::Apply)
            },
            Sub::Topology { json } => Command {
                json,
                ..Command::of(Action::Topology)
            },
            Sub::Asyncapi {
                yaml,
                title,
                api_version,
                json,
            } => Command {
                yaml,
                title,
                api_version,
                json,
                ..Command::of(Action::Asyncapi)
            },
            Sub::Schema { topic, json } => Command {
                topic,
                json,
                ..Command::of(Action::Schema)
            },
            Sub::Completions { shell } => Command {
                shell: Some(shell),
                ..Command::of(Action::Completions)
            },
            Sub::Dlq { command } => {
                let (dlq, json, dry_run) = command.asked();
                Command {
                    dlq: Some(dlq),
                    json,
                    dry_run,
                    ..Command::of(Action::Dlq)
                }
            }
        })
    }

    /// `action` with no option set.
    fn of(action: Action) -> Command {
        Command {
            action,
            json: false,
            dry_run: false,
            allow_acl_removal: false,
            yaml: false,
            title: None,
            api_version: None,
            topic: None,
            shell: None,
            help: None,
            dlq: None,
        }
    }
}

/// A mistake on the command line, as clap names it (with its suggestion and usage line);
/// an unknown command also lists the commands there are.
fn usage_error(error: &clap::Error) -> Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = error.render().to_string();
    let rendered = rendered.trim().trim_start_matches("error: ").to_string();
    let message = match (error.kind(), error.get(ContextKind::InvalidSubcommand)) {
        (ErrorKind::InvalidSubcommand, Some(ContextValue::String(name))) => {
            let commands: Vec<String> = clap_command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .chain(["help".to_string()])
                .collect();
            let suggested = match error.get(ContextKind::SuggestedSubcommand) {
                Some(ContextValue::String(s)) => format!(" (did you mean `{s}`?)"),
                Some(ContextValue::Strings(s)) if !s.is_empty() => {
                    format!(" (did you mean `{}`?)", s[0])
                }
                _ => String::new(),
            };
            format!(
                "`{name}` is not a command{suggested}; the commands are {}",
                commands.join(", ")
            )
        }
        _ => rendered,
    };
    Error::Admin {
        what: "the command line".into(),
        message,
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
            print(out, command.help.unwrap_or_else(usage))?;
            Ok(Outcome::Clean)
        }
        Action::Completions => {
            let Some(shell) = command.shell else {
                return Err(Error::Admin {
                    what: "the command line".into(),
                    message: "`completions` needs a shell: bash, zsh, fish, elvish or powershell"
                        .into(),
                });
            };
            let mut clap = clap_command();
            let name = clap.get_name().to_string();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut clap, name, &mut script);
            out.write_all(&script)
                .map_err(|e| Error::Runtime(format!("writing the output: {e}")))?;
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
        Action::Dlq => {
            let Some(dlq) = &command.dlq else {
                return Err(super::dlq::usage(
                    "`dlq` needs a command: list, show or replay".into(),
                ));
            };
            let text = dlq
                .run(topology, settings, command.json, command.dry_run)
                .await?;
            print(out, text)?;
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
            Action::Help | Action::Topology | Action::Schema | Action::Completions
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
