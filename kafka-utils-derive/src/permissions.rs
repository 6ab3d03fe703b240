//! `permissions!`: who may do what on which topic.
//!
//! ```text
//! permissions! {
//!     static TOPOLOGY;                      // optional; the name of the generated static
//!     Users::Service => {
//!         Topics::Request => [Read, Write, AutoCommitOffset],
//!     },
//! }
//! ```
//!
//! Users and topics are named by their enum variants; the generated code uses the marker
//! types (`Topics::Request` is `topics::Request`), spanned on the user's tokens, so a
//! variant that does not exist is one error, rustc's own, on the user's token.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;

use crate::ctxt::Ctxt;
use crate::names;

const PERMISSIONS: &[&str] = &["Read", "Write", "AutoCommitOffset"];

/// The parsed input.
struct Input {
    static_name: Option<syn::Ident>,
    blocks: Punctuated<UserBlock, syn::Token![,]>,
}

/// `Users::Service => { ... }`
struct UserBlock {
    user: syn::Path,
    grants: Punctuated<TopicGrant, syn::Token![,]>,
}

/// `Topics::Request => [Read, Write]`
struct TopicGrant {
    topic: syn::Path,
    bracket: syn::token::Bracket,
    permissions: Punctuated<syn::Ident, syn::Token![,]>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let static_name = if input.peek(syn::Token![static]) {
            input.parse::<syn::Token![static]>()?;
            let name: syn::Ident = input.parse()?;
            input.parse::<syn::Token![;]>()?;
            Some(name)
        } else {
            None
        };
        let blocks = Punctuated::parse_terminated(input)?;
        Ok(Input {
            static_name,
            blocks,
        })
    }
}

impl Parse for UserBlock {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let user: syn::Path = input.parse()?;
        input.parse::<syn::Token![=>]>()?;
        let content;
        syn::braced!(content in input);
        let grants = Punctuated::parse_terminated(&content)?;
        Ok(UserBlock { user, grants })
    }
}

impl Parse for TopicGrant {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let topic: syn::Path = input.parse()?;
        input.parse::<syn::Token![=>]>()?;
        let content;
        let bracket = syn::bracketed!(content in input);
        let permissions = Punctuated::parse_terminated(&content)?;
        Ok(TopicGrant {
            topic,
            bracket,
            permissions,
        })
    }
}

/// `Users::Service` split into the enum path `Users` and the marker type path `users::Service`.
fn split_variant(cx: &mut Ctxt, path: &syn::Path, what: &str) -> Option<(syn::Path, syn::Path)> {
    let mut enum_path = path.clone();
    let last = enum_path.segments.pop();
    let variant = last.map(|pair| pair.into_value().ident);
    match (variant, enum_path.segments.is_empty()) {
        (Some(variant), false) => {
            // Drop the trailing `::` the pop left.
            let segments: Punctuated<syn::PathSegment, syn::Token![::]> =
                enum_path.segments.into_iter().collect();
            enum_path.segments = segments;
            let mut marker = enum_path.clone();
            if let Some(last) = marker.segments.last_mut() {
                last.ident = crate::enums::marker_module(&last.ident);
            }
            marker.segments.push(syn::PathSegment::from(variant));
            Some((enum_path, marker))
        }
        _ => {
            cx.error_spanned_by(
                path,
                format!(
                    "name the {what} with its enum, as in `{}::{}`",
                    if what == "user" { "Users" } else { "Topics" },
                    quote!(#path)
                ),
            );
            None
        }
    }
}

fn text(path: &syn::Path) -> String {
    quote!(#path).to_string().replace(' ', "")
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: Input = syn::parse2(input)?;
    let mut cx = Ctxt::default();
    let mut impls = Vec::new();
    let mut grants = Vec::new();
    // Each enum the grants mention, with one of its marker types.
    let mut topic_enums: Vec<(syn::Path, syn::Path)> = Vec::new();
    let mut user_enums: Vec<(syn::Path, syn::Path)> = Vec::new();
    let mut seen_users = HashSet::new();
    if input.blocks.is_empty() {
        cx.error_at(
            Span::call_site(),
            "grant at least one permission, e.g. `Users::Service => { Topics::Orders => [Read] }`",
        );
    }
    for block in &input.blocks {
        if !seen_users.insert(text(&block.user)) {
            cx.error_spanned_by(
                &block.user,
                format!(
                    "`{}` has two blocks; merge its grants into one",
                    text(&block.user)
                ),
            );
            continue;
        }
        let Some((user_enum, user_type)) = split_variant(&mut cx, &block.user, "user") else {
            continue;
        };
        if !user_enums.iter().any(|(e, _)| text(e) == text(&user_enum)) {
            user_enums.push((user_enum.clone(), user_type.clone()));
        }
        let mut seen_topics = HashSet::new();
        if block.grants.is_empty() {
            cx.error_spanned_by(
                &block.user,
                format!(
                    "`{}` is granted nothing; remove it or grant a permission",
                    text(&block.user)
                ),
            );
        }
        for grant in &block.grants {
            if !seen_topics.insert(text(&grant.topic)) {
                cx.error_spanned_by(
                    &grant.topic,
                    format!(
                        "`{}` is granted twice to `{}`; list all its permissions once",
                        text(&grant.topic),
                        text(&block.user)
                    ),
                );
                continue;
            }
            let Some((topic_enum, topic_type)) = split_variant(&mut cx, &grant.topic, "topic")
            else {
                continue;
            };
            if !topic_enums
                .iter()
                .any(|(e, _)| text(e) == text(&topic_enum))
            {
                topic_enums.push((topic_enum.clone(), topic_type.clone()));
            }
            if grant.permissions.is_empty() {
                cx.error_at(
                    grant.bracket.span.join(),
                    "empty permission list; grant `Read`, `Write` and/or `AutoCommitOffset`",
                );
            }
            let mut seen_permissions = HashSet::new();
            let mut permission_values = Vec::new();
            for permission in &grant.permissions {
                let name = permission.to_string();
                if !PERMISSIONS.contains(&name.as_str()) {
                    let hint = names::did_you_mean(&name, PERMISSIONS.iter().copied())
                        .map(|p| format!("did you mean `{p}`?"))
                        .unwrap_or_else(|| {
                            "the permissions are `Read`, `Write` and `AutoCommitOffset`".into()
                        });
                    cx.error_spanned_by(permission, format!("unknown permission `{name}`; {hint}"));
                    continue;
                }
                if !seen_permissions.insert(name.clone()) {
                    cx.error_spanned_by(permission, format!("`{name}` is listed twice"));
                    continue;
                }
                let trait_name = match name.as_str() {
                    "Read" => quote!(ReadableBy),
                    "Write" => quote!(WritableBy),
                    _ => quote!(CommittableBy),
                };
                impls.push(quote_spanned! {permission.span()=>
                    impl ::kafka_utils::access::#trait_name<#user_type> for #topic_type {}
                });
                if name == "Write" {
                    impls.push(quote_spanned! {permission.span()=>
                        impl ::kafka_utils::access::DeadLetterFor<#user_type> for #topic_type {
                            const TOPIC: ::core::option::Option<&'static str> =
                                ::core::option::Option::Some(
                                    <#topic_type as ::kafka_utils::access::Topic>::NAME,
                                );
                        }
                    });
                }
                permission_values.push(quote!(::kafka_utils::topology::Permission::#permission));
            }
            grants.push(quote! {
                ::kafka_utils::topology::Grant {
                    user: <#user_type as ::kafka_utils::access::User>::SPEC,
                    topic: <#topic_type as ::kafka_utils::access::Topic>::SPEC,
                    permissions: &[#(#permission_values),*],
                }
            });
        }
    }
    cx.check()?;
    let static_name = input
        .static_name
        .unwrap_or_else(|| syn::Ident::new("TOPOLOGY", Span::call_site()));
    let topic_enums = topic_enums.iter().map(|(_, marker)| marker);
    let user_enums = user_enums.iter().map(|(_, marker)| marker);
    Ok(quote! {
        #(#impls)*

        /// The topology `permissions!` declared: topics, users, grants and the ACLs they imply.
        pub static #static_name: ::kafka_utils::topology::Topology = ::kafka_utils::topology::Topology {
            topic_sets: &[#(<<#topic_enums as ::kafka_utils::access::Topic>::Topics as ::kafka_utils::access::TopicEnum>::SPECS),*],
            user_sets: &[#(<<#user_enums as ::kafka_utils::access::User>::Users as ::kafka_utils::access::UserEnum>::SPECS),*],
            grants: &[#(#grants),*],
        };
    })
}
