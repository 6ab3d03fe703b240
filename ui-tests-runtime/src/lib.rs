//! Compile-fail tests of the runtime's typed API (`Producer::send`, `ConsumerBuilder::topic`,
//! `App::handle`, `Context::reply`); the cases are in `tests/fail/runtime`, run by
//! `tests/ui.rs`, and `tests/api_compiles.rs` is the case that must compile.
