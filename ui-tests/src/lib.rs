//! Compile-pass and compile-fail tests of the kafka-utils macros; the cases are in
//! `tests/pass` and `tests/fail`, run by `tests/ui.rs`.
