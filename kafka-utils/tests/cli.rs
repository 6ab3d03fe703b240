//! The admin command line as a user meets it: `--help` of the program and of each command,
//! mistakes named with what is accepted, and shell completions.

use kafka_utils::admin::cli::{self, Action, Command, Outcome};
use kafka_utils::prelude::*;
use kafka_utils::settings::Settings;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "cli.orders", message = String)]
    Orders,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "cli-svc")]
    Svc,
}

permissions! { Users::Svc => { Topics::Orders => [Read] } }

async fn output(args: &[&str]) -> (Outcome, String) {
    let command = Command::parse(args).expect("a valid command line");
    let mut out = Vec::new();
    let outcome = cli::run(&TOPOLOGY, command, &Settings::default(), &mut out)
        .await
        .expect("the command runs");
    (outcome, String::from_utf8(out).expect("UTF-8"))
}

#[tokio::test]
async fn help_lists_every_command_and_each_commands_options() {
    for args in [&[][..], &["help"][..], &["--help"][..], &["-h"][..]] {
        let (outcome, text) = output(args).await;
        assert_eq!(outcome, Outcome::Clean);
        for command in [
            "plan",
            "apply",
            "topology",
            "asyncapi",
            "schema",
            "completions",
        ] {
            assert!(
                text.contains(command),
                "{args:?}: {command} missing in\n{text}"
            );
        }
        assert!(text.contains("exit codes"), "{text}");
    }
    for args in [&["help", "apply"][..], &["apply", "--help"][..]] {
        let (_, text) = output(args).await;
        for option in ["--dry-run", "--json", "--allow-acl-removal"] {
            assert!(
                text.contains(option),
                "{args:?}: {option} missing in\n{text}"
            );
        }
        assert!(!text.contains("--yaml"), "{text}");
    }
}

#[test]
fn a_mistake_names_what_was_wrong_and_what_is_accepted() {
    let error = Command::parse(["plann"]).unwrap_err().to_string();
    assert!(
        error.contains("`plann`") && error.contains("`plan`"),
        "{error}"
    );
    assert!(error.contains("topology, asyncapi, schema"), "{error}");
    let error = Command::parse(["plan", "--jsn"]).unwrap_err().to_string();
    assert!(
        error.contains("--jsn") && error.contains("--json"),
        "{error}"
    );
    // An option of another command is not taken silently.
    let error = Command::parse(["topology", "--dry-run"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--dry-run"), "{error}");
    let error = Command::parse(["asyncapi", "--title"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--title"), "{error}");
    let error = Command::parse(["completions", "tcsh"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("tcsh") && error.contains("bash"), "{error}");
}

#[test]
fn options_are_read_in_any_order() {
    let a = Command::parse(["apply", "--json", "--dry-run"]).unwrap();
    let b = Command::parse(["apply", "--dry-run", "--json"]).unwrap();
    assert_eq!(a, b);
    assert_eq!((a.action, a.json, a.dry_run), (Action::Apply, true, true));
}

#[tokio::test]
async fn completions_are_a_script_for_the_shell_with_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (outcome, script) = output(&["completions", shell]).await;
        assert_eq!(outcome, Outcome::Clean);
        for command in ["plan", "apply", "asyncapi", "allow-acl-removal"] {
            assert!(script.contains(command), "{shell}: {command} missing");
        }
    }
}
