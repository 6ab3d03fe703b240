//! A handler's failure, and whether trying again can help.

use std::any::Any;
use std::fmt::{self, Display};

/// A handler's failure that says whether another attempt can help.
///
/// A handler may fail with any error type that implements `Display`: such a failure is
/// retried ([`Retry`](super::Retry)) and then dead-lettered with reason `handler`. A
/// handler that knows better fails with a `Fail`: [`Fail::permanent`] (a record that is
/// wrong, not a service that is down) gets no more attempts and goes straight to the dead
/// letter with reason `permanent`; [`Fail::transient`] is retried like any other error.
/// `?` turns any [`std::error::Error`] into a transient `Fail`.
///
/// ```
/// use kafka_utils::app::Fail;
///
/// #[derive(serde::Deserialize)]
/// struct Order { quantity: u32 }
///
/// fn check(order: &Order) -> Result<(), Fail> {
///     if order.quantity == 0 {
///         // Trying again cannot help: to the dead letter at once.
///         return Err(Fail::permanent("an order of nothing"));
///     }
///     let _n: u32 = "12".parse()?; // an error like any other: retried
///     Ok(())
/// }
///
/// assert!(check(&Order { quantity: 0 }).unwrap_err().is_permanent());
/// assert!(check(&Order { quantity: 1 }).is_ok());
/// assert!(!Fail::transient("the database is down").is_permanent());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    message: String,
    permanent: bool,
}

impl Fail {
    /// A failure no attempt can fix: the record goes to its dead letter at once, with
    /// reason `permanent` (or, without a dead letter, the app stops on it).
    pub fn permanent(error: impl Display) -> Self {
        Fail {
            message: error.to_string(),
            permanent: true,
        }
    }

    /// A failure another attempt may fix: retried at the handler's [`Retry`](super::Retry).
    pub fn transient(error: impl Display) -> Self {
        Fail {
            message: error.to_string(),
            permanent: false,
        }
    }

    /// Whether no attempt can fix it.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error is a transient failure (`?` in a handler that returns `Result<(), Fail>`).
impl<E: std::error::Error> From<E> for Fail {
    fn from(error: E) -> Self {
        Fail::transient(error)
    }
}

/// A handler's error as the app sees it: its text, and whether it is permanent (only a
/// [`Fail`] can say so).
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) permanent: bool,
}

impl Failure {
    /// What a handler's error `error` says.
    pub(super) fn of<E: Display + 'static>(error: E) -> Self {
        let permanent = (&error as &dyn Any)
            .downcast_ref::<Fail>()
            .is_some_and(Fail::is_permanent);
        Failure {
            message: error.to_string(),
            permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_permanent_fail_is_permanent() {
        let permanent = Failure::of(Fail::permanent("no such customer"));
        assert!(permanent.permanent);
        assert_eq!(permanent.message, "no such customer");
        assert!(!Failure::of(Fail::transient("timeout")).permanent);
        assert!(!Failure::of("a text".to_string()).permanent);
        let parsed: Result<u32, Fail> = "x".parse::<u32>().map_err(Fail::from);
        assert!(!parsed.unwrap_err().is_permanent());
    }
}
