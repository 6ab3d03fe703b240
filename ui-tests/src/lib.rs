//! Compile-pass and compile-fail tests of the kafka-utils macros, against `kafka-utils-core`
//! alone (no C code in their build); the cases are in `tests/pass` and `tests/fail`, run by
//! `tests/ui.rs`. The runtime's typed API has its cases in `ui-tests-runtime`.
