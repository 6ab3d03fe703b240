//! The macros of kafka-utils: `#[derive(KafkaTopics)]`, `#[derive(KafkaUsers)]` and
//! `permissions!`. Use them through the `kafka_utils` crate, which documents them and
//! holds the traits and types the generated code refers to.
//!
//! Each macro parses its input into a model (keeping the user's spans), checks it with
//! every mistake collected into one compile (`ctxt::Ctxt`), then generates code with
//! full paths (`::kafka_utils::...`).

mod config;
mod ctxt;
mod enums;
mod names;
mod permissions;
mod retry;
mod topics;
mod users;

use proc_macro::TokenStream;

/// Declares the topics of a service; see `kafka_utils`.
#[proc_macro_derive(KafkaTopics, attributes(topic))]
pub fn derive_kafka_topics(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    topics::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares the users (principals) of a service; see `kafka_utils`.
#[proc_macro_derive(KafkaUsers, attributes(user))]
pub fn derive_kafka_users(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    users::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Grants users permissions on topics; see `kafka_utils`.
#[proc_macro]
pub fn permissions(input: TokenStream) -> TokenStream {
    permissions::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
