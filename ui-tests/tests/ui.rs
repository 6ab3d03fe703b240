//! Compile-pass and compile-fail cases of the macros (trybuild), built against
//! `kafka-utils-core` (named `kafka-utils` in this crate's Cargo.toml, as the generated code names it). Each `fail/` file makes one
//! mistake; its `.stderr` beside it is the exact error, reviewed like code. Regenerate after
//! an intended change with `TRYBUILD=overwrite cargo test -p kafka-utils-ui-tests`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/fail/*/*.rs");
}
