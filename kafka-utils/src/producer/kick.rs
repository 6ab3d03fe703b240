//! Sending at once when nothing is in flight: the batching of `linger.ms` without its wait
//! for a record that has nothing to be batched with.
//!
//! librdkafka holds a partition's records for `linger.ms` so that a request carries many.
//! At full speed that is what makes it fast; for a record sent alone (a reply, an event
//! every few milliseconds) it is only a wait: with `linger.ms` 1 it is most of the record's
//! way from the produce call to a handler (1.5 of 1.6 ms at 1,000 records/s on one broker
//! on 127.0.0.1). With `linger.ms` 0 every record leaves at once, but a producer at full
//! speed then wakes librdkafka's thread for almost every record and sends about half as
//! many. And librdkafka waits in whole milliseconds, so no `linger.ms` gives both.
//!
//! Nagle's algorithm answers the same question for TCP: send at once when nothing is
//! unacknowledged, batch while something is. [`Kick`] does that on top of librdkafka. Each
//! record handed to librdkafka is counted, and counted out when its report comes (before
//! the report is delivered: a sender woken by it never finds its record still counted);
//! when one is handed over while none of the producer's records is in flight, the
//! producer's kick thread calls
//! `rd_kafka_flush`, during which librdkafka ignores `linger.ms` (documented in
//! `rdkafka.h`), so that the record leaves now. The flush ends once the record is reported
//! or after the kick's window (the profile's `linger.ms`), whichever comes first. At full
//! speed something is always in flight: no kick, and librdkafka batches as configured.
//!
//! The flush blocks, so it runs on a thread of the producer's own, never on a runtime's.
//! A kick that comes late (the thread not scheduled yet) costs what `linger.ms` would
//! have: the record leaves at the end of its linger as it always did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use super::poller::Events;
use crate::Error;
use crate::settings::Profile;

/// Whether a producer sends a record at once when nothing is in flight, and for how long a
/// kick may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KickMode {
    /// librdkafka's `linger.ms` for every record (the kick thread is not started).
    Off,
    /// A record handed over while nothing is in flight leaves at once; a kick lasts at
    /// most this long.
    WhenIdle(Duration),
}

impl KickMode {
    /// The longest a kick lasts: while it does, records leave unbatched.
    const MAX_WINDOW: Duration = Duration::from_millis(100);

    /// The mode of `profile` with `linger` (the producer's `linger.ms`; librdkafka's 5
    /// when unset): [`Profile::Balanced`] kicks, each kick lasting at most its `linger.ms`
    /// (between 1 and 100 ms); the others wait as they are told (`low_latency` has no wait
    /// to skip, and `throughput` wants every record batched).
    pub(super) fn of(profile: Profile, linger: Option<&str>) -> KickMode {
        let linger_ms = linger.map_or(Some(5.0), |l| l.trim().parse::<f64>().ok());
        match (profile, linger_ms) {
            (Profile::Balanced, Some(ms)) if ms > 0.0 => KickMode::WhenIdle(
                Duration::try_from_secs_f64(ms / 1000.0)
                    .unwrap_or(Self::MAX_WINDOW)
                    .clamp(Duration::from_millis(1), Self::MAX_WINDOW),
            ),
            _ => KickMode::Off,
        }
    }
}

/// The sender's side of the kick: counts what it hands to librdkafka, and asks the kick
/// thread for a flush when nothing was in flight.
#[derive(Default)]
pub(super) struct Kick {
    shared: Option<Arc<Shared>>,
    thread: Option<(Thread, JoinHandle<()>)>,
}

/// What the sender and the kick thread share.
#[derive(Default)]
struct Shared {
    /// A record was handed over while nothing was in flight: flush.
    requested: AtomicBool,
    /// The kick thread is flushing: a record handed over now leaves at once anyway.
    flushing: AtomicBool,
    stop: AtomicBool,
}

impl Kick {
    /// Starts the kick thread of `events`' producer (none for [`KickMode::Off`]).
    pub(super) fn start(events: &Arc<Events>, mode: KickMode) -> Result<Self, Error> {
        let KickMode::WhenIdle(window) = mode else {
            return Ok(Kick::default());
        };
        let shared = Arc::new(Shared::default());
        let (events, state) = (Arc::clone(events), Arc::clone(&shared));
        let handle = std::thread::Builder::new()
            .name("kafka-utils producer kick".into())
            .spawn(move || run(&events, &state, window))
            .map_err(|e| Error::Runtime(format!("starting the producer's kick thread: {e}")))?;
        Ok(Kick {
            shared: Some(shared),
            thread: Some((handle.thread().clone(), handle)),
        })
    }

    /// A record was handed to librdkafka: counted in `unreported` (the producer's records
    /// not reported yet) and, if none was in flight before it, sent at once.
    #[inline]
    pub(super) fn queued(&self, unreported: &AtomicU64) {
        let Some(shared) = &self.shared else {
            return;
        };
        if unreported.fetch_add(1, Ordering::AcqRel) > 0 {
            return;
        }
        shared.requested.store(true, Ordering::Release);
        if !shared.flushing.load(Ordering::Acquire)
            && let Some((thread, _)) = &self.thread
        {
            thread.unpark();
        }
    }

    /// Stops the kick thread and waits for it (at most a kick's window).
    pub(super) fn stop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.stop.store(true, Ordering::Release);
        }
        if let Some((thread, handle)) = self.thread.take() {
            thread.unpark();
            if handle.join().is_err() {
                tracing::error!("the producer's kick thread panicked");
            }
        }
    }
}

/// The kick thread: a flush of at most `window` for each request, until stopped.
fn run(events: &Events, shared: &Shared, window: Duration) {
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        if !shared.requested.swap(false, Ordering::AcqRel) {
            std::thread::park();
            continue;
        }
        shared.flushing.store(true, Ordering::Release);
        // Times out while records keep coming (some are always in flight): librdkafka's
        // batching is back after `window`. An error is only that: nothing to report.
        let _ = events.flush(window);
        shared.flushing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_balanced_profile_kicks_for_at_most_its_linger() {
        let ms = Duration::from_millis;
        assert_eq!(
            KickMode::of(Profile::Balanced, Some("1")),
            KickMode::WhenIdle(ms(1))
        );
        assert_eq!(
            KickMode::of(Profile::Balanced, None),
            KickMode::WhenIdle(ms(5))
        );
        assert_eq!(
            KickMode::of(Profile::Balanced, Some("0.5")),
            KickMode::WhenIdle(ms(1))
        );
        assert_eq!(
            KickMode::of(Profile::Balanced, Some("2000")),
            KickMode::WhenIdle(ms(100))
        );
        assert_eq!(
            KickMode::of(Profile::Balanced, Some("inf")),
            KickMode::WhenIdle(ms(100))
        );
        assert_eq!(KickMode::of(Profile::Balanced, Some("0")), KickMode::Off);
        assert_eq!(KickMode::of(Profile::Balanced, Some("NaN")), KickMode::Off);
        assert_eq!(KickMode::of(Profile::Balanced, Some("soon")), KickMode::Off);
        assert_eq!(KickMode::of(Profile::LowLatency, Some("0")), KickMode::Off);
        assert_eq!(KickMode::of(Profile::Throughput, None), KickMode::Off);
    }
}
