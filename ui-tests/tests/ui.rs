//! Compile-fail cases of the macros (trybuild), checked against `kafka-utils-core` (named
//! `kafka-utils` in this crate's Cargo.toml, as the generated code names it). Each `fail/`
//! file makes one mistake; its `.stderr` beside it is the exact error, reviewed like code.
//! Regenerate after an intended change with `TRYBUILD=overwrite cargo test -p
//! kafka-utils-ui-tests`.
//!
//! The compile-pass cases (`pass/`) are test targets of their own (see Cargo.toml): programs
//! built with the other tests and run to a successful exit, as trybuild would run them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/fail/*/*.rs");
}
