//! One owning pointer for every native object librdkafka hands out, destroyed exactly once,
//! by the destroy function of its type (after rust-rdkafka's `util::NativePtr`).

use std::fmt;
use std::ptr::NonNull;

use rdkafka::bindings as rd;

/// A native type and the function that destroys it.
///
/// # Safety
///
/// `DROP` destroys an object of type `Self` that the caller owns, and nothing else.
pub(crate) unsafe trait KafkaDrop {
    /// The type's name, for `Debug`.
    const TYPE: &'static str;
    /// Its destroy function.
    const DROP: unsafe extern "C" fn(*mut Self);
}

/// An owned native object, destroyed when dropped.
pub(crate) struct NativePtr<T: KafkaDrop> {
    ptr: NonNull<T>,
}

impl<T: KafkaDrop> NativePtr<T> {
    /// Takes ownership of `ptr`; `None` when it is null.
    ///
    /// # Safety
    ///
    /// `ptr` is null or a live object of type `T` that the caller owns: nothing else destroys
    /// it, and whatever it depends on (its client handle) outlives this pointer.
    pub(crate) unsafe fn from_ptr(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| NativePtr { ptr })
    }

    /// The pointer, for librdkafka calls; valid while `self` lives.
    pub(crate) fn ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T: KafkaDrop> Drop for NativePtr<T> {
    fn drop(&mut self) {
        // SAFETY: the object is ours (see `from_ptr`) and is destroyed once, here.
        unsafe { T::DROP(self.ptr.as_ptr()) }
    }
}

impl<T: KafkaDrop> fmt::Debug for NativePtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{:p}", T::TYPE, self.ptr)
    }
}

macro_rules! kafka_drop {
    ($($native:ident => $destroy:ident,)*) => {$(
        // SAFETY: librdkafka's destroy function of the type.
        unsafe impl KafkaDrop for rd::$native {
            const TYPE: &'static str = stringify!($native);
            const DROP: unsafe extern "C" fn(*mut Self) = rd::$destroy;
        }
    )*};
}

kafka_drop! {
    rd_kafka_t => rd_kafka_destroy,
    rd_kafka_queue_t => rd_kafka_queue_destroy,
    rd_kafka_event_t => rd_kafka_event_destroy,
    rd_kafka_message_t => rd_kafka_message_destroy,
    rd_kafka_topic_t => rd_kafka_topic_destroy,
    rd_kafka_error_t => rd_kafka_error_destroy,
    rd_kafka_AdminOptions_t => rd_kafka_AdminOptions_destroy,
    rd_kafka_ConfigResource_t => rd_kafka_ConfigResource_destroy,
    rd_kafka_AclBinding_t => rd_kafka_AclBinding_destroy,
    rd_kafka_UserScramCredentialAlteration_t => rd_kafka_UserScramCredentialAlteration_destroy,
}
