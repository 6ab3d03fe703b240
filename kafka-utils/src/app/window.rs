//! The worker of a partition handled by key or in no order ([`Ordering::Key`],
//! [`Ordering::Unordered`]): a window of the partition's records, from its oldest unfinished
//! one on, at most [`App::max_in_flight`](super::App::max_in_flight) long. Records enter it in
//! offset order; under `Key`, a record starts when the one before it with the same key is
//! done (records of other keys run meanwhile), under `Unordered` at once. The window's
//! handlers run concurrently on the worker's task. Only the contiguous run of done records at
//! the window's front leaves it, and the offset of its last is stored: nothing past a record
//! still running or waiting, and nothing in commit metadata. A record that comes with nothing
//! unfinished before it is decided as it comes, and if its handler is through at once it
//! takes no slot: a window of quick handlers costs little more than the partition's order.
//!
//! A partition's records are read from librdkafka only while its worker has room (see
//! [`Assignment::MAX_IN_FLIGHT`]); the others stay in the partition's own fetch queue, which
//! librdkafka stops filling at its bounds. That is the partition's pause: librdkafka's own
//! (`rd_kafka_pause_partitions`) would drop what was prefetched, and a rebalance would forget
//! it; not reading keeps every prefetched record, in order, across any rebalance.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering as Atomic;
use std::task::{Context, Poll};

use futures::FutureExt as _;
use futures::stream::{FuturesUnordered, StreamExt as _};

use super::attempt::Step;
use super::batch::{WindowInput, Work};
use super::ordering::Ordering;
use super::retry_topics;
use super::worker::{Idle, Runner, release, store_offset};
use crate::access::User;
use crate::metrics::TopicMetrics;

/// One partition's window.
struct Window<U: User> {
    ordering: Ordering,
    size: usize,
    /// The number of the window's first slot: slot `n` is `slots[n - base]`.
    base: u64,
    slots: VecDeque<Slot<U>>,
    /// For each key with a record in the window ([`Ordering::Key`]): the slot of its last.
    last_of: HashMap<u64, u64, BuildHasherDefault<KeyHasher>>,
    /// Batches whose records have not all entered the window, and the index of the next.
    pending: VecDeque<(Arc<Work<U>>, usize)>,
    /// The offset of the last record decided as it came, with nothing unfinished before it
    /// (it took no slot), not yet stored.
    through: Option<i64>,
}

/// A record in the window.
struct Slot<U: User> {
    work: Arc<Work<U>>,
    index: usize,
    offset: i64,
    key: u64,
    state: State,
    /// The next slot with the same key, started when this one is done ([`Ordering::Key`]).
    next: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Behind a record with the same key.
    Waiting,
    Running,
    /// Handled or dead-lettered.
    Done,
    /// Left undecided: the app stops, or the partition is revoked.
    Abandoned,
}

impl<U: User> Window<U> {
    fn new(ordering: Ordering, size: usize) -> Self {
        Window {
            ordering,
            size: size.max(1),
            base: 0,
            slots: VecDeque::with_capacity(size.clamp(1, 1024)),
            last_of: HashMap::default(),
            pending: VecDeque::new(),
            through: None,
        }
    }

    /// When the next record to enter is due, if it is one of a retry topic.
    fn next_due(&self) -> Option<i64> {
        let (work, next) = self.pending.front()?;
        work.batch.route.retry_of?;
        (*next < work.batch.records.records().len())
            .then(|| retry_topics::due(&work.batch.job(*next)))
    }

    /// Nothing in the window and nothing to enter it.
    fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.pending.is_empty()
    }

    fn slot(&mut self, n: u64) -> &mut Slot<U> {
        let at = (n - self.base) as usize;
        &mut self.slots[at]
    }

    /// Lets records enter the window while it has room: the slots to start go to `start`;
    /// the number of batches all of whose records entered is returned. A record with no
    /// unfinished one before it (the window is empty) is decided at once by `at_once` (given
    /// the record and its slot's number): if that says it is done, it takes no slot, and its
    /// offset is the window's [`Window::through`]; otherwise it enters, running.
    fn admit(
        &mut self,
        start: &mut Vec<u64>,
        mut at_once: impl FnMut(&Arc<Work<U>>, usize, u64) -> bool,
    ) -> usize {
        let mut entered = 0;
        while self.slots.len() < self.size {
            let Some((work, next)) = self.pending.front_mut() else {
                break;
            };
            let records = work.batch.records.records();
            if *next >= records.len() {
                self.pending.pop_front();
                entered += 1;
                continue;
            }
            let index = *next;
            *next += 1;
            let record = &records[index];
            let n = self.base + self.slots.len() as u64;
            let offset = record.offset();
            let first = self.slots.is_empty();
            if first && at_once(work, index, n) {
                self.through = Some(offset);
                continue;
            }
            // Keys are read only where they order: unordered, every record runs at once.
            let key = match self.ordering {
                Ordering::Key => key_hash(record.key()),
                Ordering::Unordered | Ordering::Partition => 0,
            };
            let work = Arc::clone(work);
            let state = match self.ordering {
                Ordering::Key => match self.last_of.insert(key, n) {
                    Some(last) => {
                        self.slot(last).next = Some(n);
                        State::Waiting
                    }
                    None => State::Running,
                },
                Ordering::Unordered | Ordering::Partition => State::Running,
            };
            if state == State::Running && !first {
                start.push(n);
            }
            self.slots.push_back(Slot {
                work,
                index,
                offset,
                key,
                state,
                next: None,
            });
        }
        if let Some((work, next)) = self.pending.front()
            && *next >= work.batch.records.records().len()
        {
            self.pending.pop_front();
            entered += 1;
        }
        entered
    }

    /// Slot `n` was decided: the slot of its key that may start now, if any.
    fn done(&mut self, n: u64) -> Option<u64> {
        let slot = self.slot(n);
        slot.state = State::Done;
        let (next, key) = (slot.next, slot.key);
        if next.is_none() && self.last_of.get(&key) == Some(&n) {
            self.last_of.remove(&key);
        }
        next
    }

    /// Slot `n` was left undecided.
    fn abandoned(&mut self, n: u64) {
        self.slot(n).state = State::Abandoned;
    }

    /// Slot `n` starts.
    fn start(&mut self, n: u64) {
        self.slot(n).state = State::Running;
    }

    /// The done records at the window's front leave it: the offset of the last, if any did.
    fn advance(&mut self) -> Option<i64> {
        let mut last = self.through.take();
        while let Some(front) = self.slots.front()
            && front.state == State::Done
        {
            last = Some(front.offset);
            self.slots.pop_front();
            self.base += 1;
        }
        last
    }

    /// Lets every record go, undecided: the number of batches that had not all entered.
    fn let_go(&mut self) -> usize {
        self.slots.clear();
        self.last_of.clear();
        let pending = self.pending.len();
        self.pending.clear();
        pending
    }
}

/// A record's key, as the window tells keys apart (FNV-1a; records without a key count as
/// one key). Two keys with the same hash are handled as one: in order, not at once.
fn key_hash(key: Option<&[u8]>) -> u64 {
    let Some(key) = key else { return 0 };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    // Never the keyless records' 0.
    hash | 1
}

/// Hashes the window's key hashes as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// What a window's worker makes a record's decision with (see
/// [`decide_one`](super::attempt::decide_one)): the handler's own types, not boxed.
pub(super) trait Make<U: User, F>:
    Fn(Arc<Work<U>>, usize, Option<Arc<TopicMetrics>>) -> F
{
}

impl<U: User, F, M: Fn(Arc<Work<U>>, usize, Option<Arc<TopicMetrics>>) -> F> Make<U, F> for M {}

/// A record's decision in a box the window keeps: empty between records, and filled and
/// polled in place for the next, so that a window allocates nothing per record once its
/// boxes exist (at most one per record of the window).
type Held<F> = Pin<Box<Option<F>>>;

/// Slot `n`'s decision, with its slot's number; it gives its box back when through.
struct Tagged<F> {
    n: u64,
    held: Option<Held<F>>,
}

impl<F: Future<Output = Step>> Future for Tagged<F> {
    type Output = (u64, Step, Option<Held<F>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let step = match this.held.as_mut() {
            Some(held) => std::task::ready!(poll_held(held, cx)),
            // Polled again once through (never, in a `FuturesUnordered`).
            None => Step::Abandoned,
        };
        let held = this.held.take().map(|mut held| {
            held.as_mut().set(None);
            held
        });
        Poll::Ready((this.n, step, held))
    }
}

/// Polls the decision in `held`. An empty box has nothing being decided (boxes are filled
/// before they are polled): abandoned, which lets no offset past it be stored.
fn poll_held<F: Future<Output = Step>>(held: &mut Held<F>, cx: &mut Context<'_>) -> Poll<Step> {
    match held.as_mut().as_pin_mut() {
        Some(decision) => decision.poll(cx),
        None => Poll::Ready(Step::Abandoned),
    }
}

impl Runner {
    /// The worker of one assignment of a partition handled by key or in no order: keeps its
    /// window full from the batches it is handed, runs the window's handlers, and stores the
    /// offset of the done records leaving the window. A record that fails without a dead
    /// letter is sent to `fail`, and the worker ends (its other handlers abandoned). At a
    /// revoke or the app's stop no record starts; those running finish (the revoke waits
    /// for them within its bound, the stop within its deadline), and the rest is let go.
    pub(super) fn window_worker<U, F, M>(
        &self,
        input: WindowInput<U>,
        make: M,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        U: User,
        F: Future<Output = Step> + Send + 'static,
        M: Make<U, F> + Send + 'static,
    {
        let WindowInput {
            mut jobs,
            fail,
            producer,
            settings,
            assignment,
            topic,
            ordering,
            size,
        } = input;
        let semaphore = Arc::clone(&self.semaphore);
        let activity = Arc::clone(&self.activity);
        let env = self.env(producer, settings);
        async move {
            let counted = env.metrics.as_ref().map(|m| m.topic(topic));
            let mut window = Window::<U>::new(ordering, size);
            let mut running = FuturesUnordered::new();
            // The boxes of decisions through, for the next records.
            let mut boxes: Vec<Held<F>> = Vec::new();
            let mut start = Vec::new();
            // Handlers through, not yet taken into account.
            let mut decided: Vec<(u64, Step)> = Vec::new();
            // While handlers run: the partition is busy (a revoke waits), with a permit.
            let mut busy = None;
            let mut open = true;
            loop {
                let over = env.stopping.load(Atomic::Acquire) || assignment.revoking();
                if over && running.is_empty() && decided.is_empty() {
                    if let Some(offset) = window.advance() {
                        store_offset(&assignment, &env, offset);
                    }
                    for _ in 0..window.let_go() {
                        release(&assignment, &env.consumer);
                    }
                    busy = None;
                    if env.stopping.load(Atomic::Acquire) {
                        return;
                    }
                    // Revoked: what still comes is let go, until the app drops this worker.
                    match jobs.recv().await {
                        Some(batch) => {
                            drop(batch);
                            release(&assignment, &env.consumer);
                            continue;
                        }
                        None => return,
                    }
                }
                if !over && !window.pending.is_empty() {
                    if busy.is_none() {
                        // The window of a retry topic, with nothing in it, waits without a
                        // permit until its next record is due.
                        let ended = || env.stopping.load(Atomic::Acquire) || assignment.revoking();
                        if running.is_empty()
                            && window.slots.is_empty()
                            && let Some(due) = window.next_due()
                            && !retry_topics::hold_until(due, ended).await
                        {
                            continue;
                        }
                        let Ok(permit) = semaphore.acquire().await else {
                            return;
                        };
                        assignment.busy.store(true, Atomic::Release);
                        busy = Some((
                            Idle {
                                assignment: &assignment,
                                activity: &activity,
                            },
                            permit,
                        ));
                        // Checked after marking it busy: a revoke that saw it idle has
                        // marked it revoking.
                        if assignment.revoking() {
                            busy = None;
                            continue;
                        }
                    }
                    let entered = window.admit(&mut start, |work, index, n| {
                        match decide_now(
                            work,
                            index,
                            n,
                            (&counted, &make),
                            &mut boxes,
                            &mut running,
                        ) {
                            Some(Step::Done) => true,
                            Some(step) => {
                                decided.push((n, step));
                                false
                            }
                            None => false,
                        }
                    });
                    for _ in 0..entered {
                        release(&assignment, &env.consumer);
                    }
                    for n in start.drain(..) {
                        launch(
                            &mut window,
                            n,
                            (&counted, &make),
                            &mut boxes,
                            (&mut running, &mut decided),
                        );
                    }
                }
                // Every handler that is through by now, in one go.
                while let Some((n, step)) = decided.pop().or_else(|| {
                    let (n, step, held) = running.next().now_or_never().flatten()?;
                    boxes.extend(held);
                    Some((n, step))
                }) {
                    match step {
                        Step::Done => {
                            if let Some(next) = window.done(n)
                                && !env.stopping.load(Atomic::Acquire)
                                && !assignment.revoking()
                            {
                                window.start(next);
                                launch(
                                    &mut window,
                                    next,
                                    (&counted, &make),
                                    &mut boxes,
                                    (&mut running, &mut decided),
                                );
                            }
                        }
                        Step::Abandoned => window.abandoned(n),
                        Step::Fail(error) => {
                            if let Some(offset) = window.advance() {
                                store_offset(&assignment, &env, offset);
                            }
                            let _ = fail.send(error);
                            return;
                        }
                    }
                }
                if let Some(offset) = window.advance() {
                    store_offset(&assignment, &env, offset);
                }
                if running.is_empty() {
                    busy = None;
                    if !open && window.is_empty() {
                        return;
                    }
                    if !over && !window.pending.is_empty() {
                        // Room in the window again (its handlers were through at once).
                        continue;
                    }
                }
                tokio::select! {
                    biased;
                    Some((n, step, held)) = running.next(), if !running.is_empty() => {
                        decided.push((n, step));
                        boxes.extend(held);
                    }
                    batch = jobs.recv(), if open && !over => {
                        match batch {
                            Some(batch) => window.pending.push_back((
                                Arc::new(Work { batch, env: Arc::clone(&env) }),
                                0,
                            )),
                            None => open = false,
                        }
                    }
                    else => {
                        // Over, with nothing running: let go at the top.
                        continue;
                    }
                };
            }
        }
    }
}

/// Starts slot `n`'s decision (see [`decide_now`]); one through at once goes to `decided`.
fn launch<U: User, F: Future<Output = Step>>(
    window: &mut Window<U>,
    n: u64,
    handler: (&Option<Arc<TopicMetrics>>, &impl Make<U, F>),
    boxes: &mut Vec<Held<F>>,
    (running, decided): (&mut FuturesUnordered<Tagged<F>>, &mut Vec<(u64, Step)>),
) {
    let slot = window.slot(n);
    if let Some(step) = decide_now(&slot.work, slot.index, n, handler, boxes, running) {
        decided.push((n, step));
    }
}

/// Starts the decision of record `index` of `work` (slot `n`) in a box of `boxes` (a new
/// one if none is left) and polls it once there: one through at once (no wait in it) costs
/// no task and no allocation, and its step is returned; otherwise it joins `running`.
fn decide_now<U: User, F: Future<Output = Step>>(
    work: &Arc<Work<U>>,
    index: usize,
    n: u64,
    (counted, make): (&Option<Arc<TopicMetrics>>, &impl Make<U, F>),
    boxes: &mut Vec<Held<F>>,
    running: &mut FuturesUnordered<Tagged<F>>,
) -> Option<Step> {
    let mut held = boxes.pop().unwrap_or_else(|| Box::pin(None));
    held.as_mut()
        .set(Some(make(Arc::clone(work), index, counted.clone())));
    match poll_held(
        &mut held,
        &mut Context::from_waker(futures::task::noop_waker_ref()),
    ) {
        Poll::Ready(step) => {
            held.as_mut().set(None);
            boxes.push(held);
            Some(step)
        }
        Poll::Pending => {
            running.push(Tagged {
                n,
                held: Some(held),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_tell_keys_apart_and_keep_keyless_records_together() {
        assert_eq!(key_hash(None), key_hash(None));
        assert_ne!(key_hash(None), key_hash(Some(b"")));
        assert_ne!(key_hash(Some(b"a")), key_hash(Some(b"b")));
        assert_eq!(key_hash(Some(b"order-7")), key_hash(Some(b"order-7")));
    }
}
